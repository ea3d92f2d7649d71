package bimi

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/testerd/testerd/i18n"
)

// Object identifiers of mark certificates.
var (
	// OIDKeyUsage is the extended key usage
	// id-kp-BrandIndicatorforMessageIdentification.
	OIDKeyUsage = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 31}
	// OIDLogotype is the RFC 3709 logotype extension.
	OIDLogotype = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 12}
	// OIDMarkType is the subject attribute that says the kind of mark:
	// "Registered Mark" or "Government Mark" (a VMC), "Prior Use Mark" or
	// "Modified Registered Mark" (a CMC).
	OIDMarkType = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 53087, 1, 13}
	// OIDSHA256 names SHA-256 in a logotype hash.
	OIDSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
)

// Kinds of mark certificate.
const (
	VMC = "VMC"
	CMC = "CMC"
)

// Logo is what the logo check found.
type Logo struct {
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
	Title  string `json:"title,omitempty"`
	Valid  bool   `json:"valid"`
}

// Mark is what the mark certificate check found.
type Mark struct {
	// Kind is VMC or CMC, by the subject's mark type ("" when unknown).
	Kind      string    `json:"kind,omitempty"`
	MarkType  string    `json:"mark_type,omitempty"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Names     []string  `json:"names"`
	// LogoMatches: the logo the certificate carries is the one at l=.
	LogoMatches bool `json:"logo_matches"`
	// Anchored: the chain verifies to the operator's roots; Roots says
	// whether any were given.
	Anchored bool `json:"anchored"`
	Roots    bool `json:"roots"`
	Valid    bool `json:"valid"`
}

// logo fetches and checks the logo at l=, and returns its SVG (nil when
// it could not be read).
func (c *Checker) logo(ctx context.Context, r *Result) []byte {
	b, err := c.fetch(ctx, r.Location, MaxLogo)
	if err != nil {
		fix := m("bimi.logo.fetch.fix")
		if errors.Is(err, errTooBig) {
			fix = m("bimi.logo.big.fix", MaxLogo>>10)
		}
		r.add(Error, m("bimi.logo.fetch", shown(r.Location), shown(err.Error())), fix)
		return nil
	}
	sum := sha256.Sum256(b)
	lg := &Logo{Size: len(b), SHA256: hex.EncodeToString(sum[:])}
	rep := CheckSVG(b)
	lg.Title = rep.Title
	r.Findings = append(r.Findings, rep.Findings...)
	lg.Valid = !slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Severity == Error })
	r.Logo = lg
	if lg.Valid {
		r.add(Info, m("bimi.logo.ok", len(b), shown(lg.Title)), i18n.Msg{})
	}
	return b
}

// mark fetches and checks the certificate at a=.
func (c *Checker) mark(ctx context.Context, r *Result, logoSVG []byte) {
	b, err := c.fetch(ctx, r.Authority, MaxCertificate)
	if err != nil {
		r.add(Error, m("bimi.cert.fetch", shown(r.Authority), shown(err.Error())), m("bimi.cert.fetch.fix"))
		return
	}
	var certs []*x509.Certificate
	for len(certs) < 10 {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		crt, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			r.add(Error, m("bimi.cert.parse", shown(err.Error())), m("bimi.cert.fetch.fix"))
			return
		}
		certs = append(certs, crt)
	}
	if len(certs) == 0 {
		r.add(Error, m("bimi.cert.pem"), m("bimi.cert.fetch.fix"))
		return
	}
	leaf := certs[0]
	mk := &Mark{Subject: shown(leaf.Subject.String()), Issuer: shown(leaf.Issuer.String()), NotBefore: leaf.NotBefore.UTC(), NotAfter: leaf.NotAfter.UTC(), Names: []string{}, Roots: c.Roots != nil}
	for _, n := range leaf.DNSNames {
		if len(mk.Names) < 20 {
			mk.Names = append(mk.Names, shown(n))
		}
	}
	r.Mark = mk
	bad := func(msg, fix i18n.Msg) { r.add(Error, msg, fix) }
	mk.MarkType = markType(leaf.Subject)
	switch mk.MarkType {
	case "Registered Mark", "Government Mark":
		mk.Kind = VMC
	case "Prior Use Mark", "Modified Registered Mark":
		mk.Kind = CMC
	}
	errorsBefore := r.Errors()
	if !slices.ContainsFunc(leaf.UnknownExtKeyUsage, func(o asn1.ObjectIdentifier) bool { return o.Equal(OIDKeyUsage) }) {
		bad(m("bimi.cert.eku"), m("bimi.cert.wrong.fix"))
	}
	now := c.now()
	switch {
	case now.Before(leaf.NotBefore):
		bad(m("bimi.cert.not-yet", mk.NotBefore.Format(time.DateOnly)), m("bimi.cert.wrong.fix"))
	case now.After(leaf.NotAfter):
		bad(m("bimi.cert.expired", mk.NotAfter.Format(time.DateOnly)), m("bimi.cert.renew.fix"))
	}
	if !namesDomain(leaf.DNSNames, r) {
		bad(m("bimi.cert.names", r.Domain, strings.Join(mk.Names, ", ")), m("bimi.cert.names.fix", r.Domain))
	}
	embedded, hashes, err := logotype(leaf)
	switch {
	case err != nil:
		bad(m("bimi.cert.logotype", shown(err.Error())), m("bimi.cert.wrong.fix"))
	case logoSVG == nil:
	default:
		mk.LogoMatches = logoMatches(logoSVG, embedded, hashes)
		if !mk.LogoMatches {
			bad(m("bimi.cert.logo-differs"), m("bimi.cert.logo-differs.fix"))
		}
	}
	if c.Roots != nil {
		inter := x509.NewCertPool()
		for _, ic := range certs[1:] {
			inter.AddCert(ic)
		}
		_, err := leaf.Verify(x509.VerifyOptions{Roots: c.Roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		if err != nil {
			bad(m("bimi.cert.chain", shown(err.Error())), m("bimi.cert.chain.fix"))
		} else {
			mk.Anchored = true
		}
	} else {
		r.add(Warning, m("bimi.cert.no-roots"), m("bimi.cert.no-roots.fix"))
	}
	if mk.Kind == "" {
		r.add(Warning, m("bimi.cert.kind-unknown", shown(mk.MarkType)), i18n.Msg{})
	} else {
		r.add(Info, m("bimi.cert.kind."+strings.ToLower(mk.Kind), mk.NotAfter.Format(time.DateOnly)), i18n.Msg{})
	}
	mk.Valid = r.Errors() == errorsBefore
}

// markType is the subject's mark type attribute.
func markType(n pkix.Name) string {
	for _, a := range n.Names {
		if a.Type.Equal(OIDMarkType) {
			if s, ok := a.Value.(string); ok {
				return shown(s)
			}
		}
	}
	return ""
}

// namesDomain reports whether the certificate names the domain the logo
// is for (or the selector's name at it, or, after the fallback, the
// organizational domain whose record was used).
func namesDomain(names []string, r *Result) bool {
	want := []string{r.Domain, r.Selector + "._bimi." + r.Domain}
	if r.Fallback {
		org := strings.TrimPrefix(r.RecordName, r.Selector+"._bimi.")
		want = append(want, org, r.RecordName)
	}
	for _, n := range names {
		if slices.ContainsFunc(want, func(w string) bool { return strings.EqualFold(strings.TrimSuffix(n, "."), w) }) {
			return true
		}
	}
	return false
}

// The RFC 3709 structures a mark certificate uses: the subject logo,
// given directly, as images with their hashes and data: URIs.
type HashAlgAndValue struct {
	Alg   pkix.AlgorithmIdentifier
	Value []byte
}

type logotypeDetails struct {
	MediaType string `asn1:"ia5"`
	Hash      []HashAlgAndValue
	URI       []string
}

type logotypeImage struct {
	Details logotypeDetails
	Info    asn1.RawValue `asn1:"optional"`
}

// logotype reads the subject logo of the certificate's logotype
// extension: the image it embeds (from its data: URI, decompressed) and
// the hashes it gives for it.
func logotype(c *x509.Certificate) (image []byte, hashes []HashAlgAndValue, err error) {
	var ext []byte
	for _, e := range c.Extensions {
		if e.Id.Equal(OIDLogotype) {
			ext = e.Value
		}
	}
	if ext == nil {
		return nil, nil, errors.New("no logotype extension (1.3.6.1.5.5.7.1.12)")
	}
	var outer asn1.RawValue // LogotypeExtn ::= SEQUENCE { … subjectLogo [2] EXPLICIT LogotypeInfo … }
	if rest, err := asn1.Unmarshal(ext, &outer); err != nil || len(rest) > 0 || outer.Tag != asn1.TagSequence {
		return nil, nil, errors.New("the logotype extension is not a sequence")
	}
	var subject []byte
	for b := outer.Bytes; len(b) > 0; {
		var f asn1.RawValue
		rest, err := asn1.Unmarshal(b, &f)
		if err != nil {
			return nil, nil, err
		}
		b = rest
		if f.Class == asn1.ClassContextSpecific && f.Tag == 2 {
			subject = f.Bytes
		}
	}
	if subject == nil {
		return nil, nil, errors.New("the logotype extension has no subject logo")
	}
	var info asn1.RawValue // LogotypeInfo ::= CHOICE { direct [0] LogotypeData, indirect [1] … }
	if _, err := asn1.Unmarshal(subject, &info); err != nil {
		return nil, nil, err
	}
	if info.Class != asn1.ClassContextSpecific || info.Tag != 0 {
		return nil, nil, errors.New("the subject logo is not given directly")
	}
	var images []logotypeImage // LogotypeData ::= SEQUENCE { image SEQUENCE OF LogotypeImage OPTIONAL, … }
	if _, err := asn1.Unmarshal(info.Bytes, &images); err != nil {
		return nil, nil, err
	}
	for _, im := range images {
		for _, u := range im.Details.URI {
			data, ok := dataURI(u)
			if !ok {
				continue
			}
			return data, im.Details.Hash, nil
		}
	}
	return nil, nil, errors.New("the subject logo has no data: URI")
}

// dataURI decodes a base64 data: URI, gunzipped when it is gzip, within
// MaxLogo.
func dataURI(u string) ([]byte, bool) {
	head, data, ok := strings.Cut(u, ",")
	if !ok || !strings.HasPrefix(strings.ToLower(head), "data:") || !strings.HasSuffix(strings.ToLower(head), ";base64") || len(data) > 4*MaxLogo {
		return nil, false
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, false
	}
	return b, true
}

// logoMatches reports whether the logo fetched from l= is the one the
// certificate carries: a hash the certificate gives matches it, or the
// images are the same once decompressed.
func logoMatches(fetched, embedded []byte, hashes []HashAlgAndValue) bool {
	plain, _ := gunzip(embedded, MaxLogo)
	for _, h := range hashes {
		for _, cand := range [][]byte{fetched, embedded} {
			var sum []byte
			switch {
			case h.Alg.Algorithm.Equal(OIDSHA256):
				s := sha256.Sum256(cand)
				sum = s[:]
			case h.Alg.Algorithm.Equal(oidSHA1):
				s := sha1.Sum(cand)
				sum = s[:]
			}
			if sum != nil && bytes.Equal(sum, h.Value) && (bytes.Equal(cand, fetched) || bytes.Equal(plain, fetched)) {
				return true
			}
		}
	}
	return bytes.Equal(plain, fetched)
}
