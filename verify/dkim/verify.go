package dkim

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/internal/taglist"
)

// DefaultTimeout bounds all key lookups of one message together.
const DefaultTimeout = 10 * time.Second

// FutureSlack is how far t= may be ahead of the verifier's clock before a
// note says the signer's clock is wrong.
const FutureSlack = 15 * time.Minute

// Verifier verifies every DKIM signature of a message, fetching keys through
// the shared resolver.
type Verifier struct {
	Resolver dnsx.Resolver
	// MaxSignatures caps the signatures verified; 0 means MaxSignatures.
	MaxSignatures int
	// Timeout bounds the key lookups; 0 means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for t= and x=; nil means time.Now.
	Now func() time.Time
}

// pending is a signature that parsed and waits for its key.
type pending struct {
	sig *Signature
	// headers is h=, whole, for hashing; sig.Headers is its display copy.
	headers    []string
	field      message.Field
	tags       taglist.Tags
	value      string // the field value after the colon, without the final CRLF
	hcanon     string
	bcanon     string
	b          []byte
	bh         []byte
	keyName    string
	identifier string // the i= domain, lowercase
}

// Verify checks every DKIM-Signature field of m, up to the cap. It never
// fails: each signature carries its own result.
func (v *Verifier) Verify(ctx context.Context, m *message.Message) *Outcome {
	limit := v.MaxSignatures
	if limit <= 0 {
		limit = MaxSignatures
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	out := &Outcome{Signatures: []*Signature{}}
	var ps []*pending
	for _, f := range m.Fields {
		if !strings.EqualFold(f.Name, "DKIM-Signature") {
			continue
		}
		if len(out.Signatures) == limit {
			out.Unchecked++
			continue
		}
		sig := &Signature{Index: len(out.Signatures) + 1, Field: clipField(f.Raw)}
		out.Signatures = append(out.Signatures, sig)
		p := parseSignature(sig, f, now())
		if p != nil && m.TooManyFields {
			// The header was cut at MaxFields: the signed fields past it
			// and the body cannot be found, so the signature cannot be
			// checked; saying it fails would blame the signer.
			invalid(sig, "signature", "", 0, i18n.M("dkim.too-many-fields", message.MaxFields))
			continue
		}
		if p != nil {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return out
	}

	// Signatures of one message mostly share a body canonicalization and
	// length: canonicalize and hash each variant once.
	bodies := map[string][]byte{}
	sums := map[bodyKey][sha256.Size]byte{}
	for _, p := range ps {
		if _, ok := bodies[p.bcanon]; !ok {
			bodies[p.bcanon] = CanonicalBody(m.Body, p.bcanon)
		}
		checkBody(p, bodies[p.bcanon], sums)
	}

	keys := v.fetchKeys(ctx, ps)
	fields := fieldIndex(m)
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			// The verdict's deadline is spent: the rest are not verified,
			// whatever their keys would cost.
			p.sig.Result = TempError
			p.sig.Reason = i18n.M("dkim.out-of-time")
			continue
		}
		k := keys[p.keyName]
		finish(p, m, fields, k.records, k.err)
	}
	return out
}

// fieldIndex lists, for each lowercase field name, the indexes of its
// fields from the bottom up, so each signature's h= is matched in one
// pass.
func fieldIndex(m *message.Message) map[string][]int {
	idx := map[string][]int{}
	for i := len(m.Fields) - 1; i >= 0; i-- {
		n := strings.ToLower(m.Fields[i].Name)
		idx[n] = append(idx[n], i)
	}
	return idx
}

// parseSignature reads the tags of one signature, fills in sig, and returns
// nil when the signature is invalid before any key is fetched.
func parseSignature(sig *Signature, f message.Field, now time.Time) *pending {
	value := strings.TrimSuffix(f.Raw[len(f.Name)+1:], "\r\n")
	if f.Malformed {
		return invalid(sig, "signature", "", 0, i18n.M("dkim.malformed"))
	}
	tags, err := taglist.Parse(value)
	if err != nil {
		var te *taglist.TagError
		errors.As(err, &te)
		return invalid(sig, "signature", te.Tag, te.Pos, i18n.M("dkim.taglist", te.Where()))
	}
	p := &pending{sig: sig, field: f, tags: tags, value: value}
	get := func(name string) string { v, _ := tags.Get(name); return v }
	bad := func(tag string, reason i18n.Msg) *pending {
		return invalid(sig, "signature", tag, tags.Pos(tag), reason)
	}

	// Fill in what can be shown even if a later check fails.
	sig.Version = clip(get("v"))
	sig.Algorithm = clip(taglist.Strip(get("a")))
	sig.Domain = clip(taglist.Strip(get("d")))
	sig.Selector = clip(taglist.Strip(get("s")))
	sig.Identifier = clip(taglist.Strip(get("i")))
	sig.BodyHash = clip(taglist.Strip(get("bh")))
	if h, ok := tags.Get("h"); ok {
		for _, name := range strings.Split(taglist.Strip(h), ":") {
			if name == "" {
				continue
			}
			if len(p.headers) == MaxSignedFields {
				return bad("h", i18n.M("dkim.h-many", MaxSignedFields))
			}
			p.headers = append(p.headers, name)
			if len(sig.Headers) < MaxShownHeaders {
				sig.Headers = append(sig.Headers, untrusted.Clip(name, maxShownName))
			} else {
				sig.HeadersOmitted++
			}
			switch strings.ToLower(name) {
			case "from":
				sig.Signed.From = true
			case "subject":
				sig.Signed.Subject = true
			case "list-unsubscribe":
				sig.Signed.ListUnsubscribe = true
			case "list-unsubscribe-post":
				sig.Signed.ListUnsubscribePost = true
			case "bimi-selector":
				sig.Signed.BIMISelector = true
			}
		}
	}
	p.hcanon, p.bcanon = Simple, Simple
	if c, ok := tags.Get("c"); ok {
		h, b, hasBody := strings.Cut(strings.ToLower(taglist.Strip(c)), "/")
		p.hcanon = h
		if hasBody {
			p.bcanon = b
		}
	}
	sig.Canonicalization = p.hcanon + "/" + p.bcanon

	for _, name := range []string{"v", "a", "b", "bh", "d", "h", "s"} {
		if _, ok := tags.Get(name); !ok {
			return invalid(sig, "signature", name, 0, i18n.M("dkim.missing", name))
		}
	}
	if sig.Version != "1" {
		return bad("v", i18n.M("dkim.version", sig.Version))
	}
	switch sig.Algorithm {
	case "rsa-sha256", "ed25519-sha256":
	case "rsa-sha1":
		return bad("a", i18n.M("dkim.sha1"))
	default:
		return bad("a", i18n.M("dkim.bad-algorithm", sig.Algorithm))
	}
	for _, c := range []string{p.hcanon, p.bcanon} {
		if c != Simple && c != Relaxed {
			return bad("c", i18n.M("dkim.canon", clip(c)))
		}
	}
	d, err := message.Domain(sig.Domain)
	if err != nil {
		return bad("d", i18n.M("dkim.d", i18n.Of(err)))
	}
	sig.Domain = d
	if sig.Identifier != "" {
		at := strings.LastIndexByte(sig.Identifier, '@')
		if at < 0 {
			return bad("i", i18n.M("dkim.i-at", sig.Identifier))
		}
		id, err := message.Domain(sig.Identifier[at+1:])
		if err != nil {
			return bad("i", i18n.M("dkim.i-domain", i18n.Of(err)))
		}
		if id != d && !strings.HasSuffix(id, "."+d) {
			return bad("i", i18n.M("dkim.i-sub", id, d))
		}
		p.identifier = id
	}
	if !sig.Signed.From {
		return bad("h", i18n.M("dkim.h-from"))
	}
	if q, ok := tags.Get("q"); ok && !slices.Contains(splitList(q), "dns/txt") {
		return bad("q", i18n.M("dkim.q", clip(q)))
	}
	if l, ok := tags.Get("l"); ok {
		n, err := parseDigits(l, 76)
		if err != nil {
			return bad("l", i18n.M("dkim.tag-err", "l", i18n.Of(err)))
		}
		sig.BodyLength = &n
	}
	if t, ok := tags.Get("t"); ok {
		n, err := parseDigits(t, 12)
		if err != nil {
			return bad("t", i18n.M("dkim.tag-err", "t", i18n.Of(err)))
		}
		ts := time.Unix(n, 0).UTC()
		sig.Timestamp = &ts
		if ts.After(now.Add(FutureSlack)) {
			sig.Notes = append(sig.Notes, i18n.M("dkim.future", ts.Sub(now).Round(time.Second).String()))
		}
	}
	if x, ok := tags.Get("x"); ok {
		n, err := parseDigits(x, 12)
		if err != nil {
			return bad("x", i18n.M("dkim.tag-err", "x", i18n.Of(err)))
		}
		xs := time.Unix(n, 0).UTC()
		sig.Expiration = &xs
		if sig.Timestamp != nil && !xs.After(*sig.Timestamp) {
			return bad("x", i18n.M("dkim.x-t"))
		}
		if now.After(xs) {
			return bad("x", i18n.M("dkim.expired", xs.Format(time.RFC3339)))
		}
	}
	if p.b, err = base64.StdEncoding.DecodeString(taglist.Strip(get("b"))); err != nil || len(p.b) == 0 {
		return bad("b", i18n.M("dkim.b"))
	}
	if p.bh, err = base64.StdEncoding.DecodeString(sig.BodyHash); err != nil || len(p.bh) != sha256.Size {
		return bad("bh", i18n.M("dkim.bh", sha256.Size))
	}
	name, err := message.Domain(sig.Selector + "._domainkey." + d)
	if err != nil || sig.Selector == "" {
		return bad("s", i18n.M("dkim.s", sig.Selector))
	}
	p.keyName = name
	if sig.BodyLength != nil {
		sig.Notes = append(sig.Notes, i18n.M("dkim.l"))
	}
	return p
}

// bodyKey names one hashed body: canonicalization and length (-1: all).
type bodyKey struct {
	canon  string
	length int64
}

// checkBody compares bh= with the hash of the canonical body; sums holds
// the hashes already computed for this message.
func checkBody(p *pending, body []byte, sums map[bodyKey][sha256.Size]byte) {
	p.sig.CanonicalBodyLength = len(body)
	if l := p.sig.BodyLength; l != nil {
		if *l > int64(len(body)) {
			ok := false
			p.sig.BodyHashOK = &ok
			p.sig.Notes = append(p.sig.Notes, i18n.M("dkim.l-long", *l, len(body)))
			sum := sha256.Sum256(body)
			p.sig.ComputedBodyHash = base64.StdEncoding.EncodeToString(sum[:])
			return
		}
		if int64(len(body)) > *l {
			p.sig.Notes = append(p.sig.Notes, i18n.M("dkim.l-rest", int64(len(body))-*l, *l))
		}
		body = body[:*l]
	}
	key := bodyKey{p.bcanon, int64(len(body))}
	sum, ok := sums[key]
	if !ok {
		sum = sha256.Sum256(body)
		sums[key] = sum
	}
	ok = string(sum[:]) == string(p.bh)
	p.sig.BodyHashOK = &ok
	p.sig.ComputedBodyHash = base64.StdEncoding.EncodeToString(sum[:])
}

type keyAnswer struct {
	records []string
	err     error
}

// fetchKeys looks up each distinct key name once, all in parallel.
func (v *Verifier) fetchKeys(ctx context.Context, ps []*pending) map[string]keyAnswer {
	timeout := v.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var names []string
	seen := map[string]bool{}
	for _, p := range ps {
		if !seen[p.keyName] {
			seen[p.keyName] = true
			names = append(names, p.keyName)
		}
	}
	answers := make([]keyAnswer, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			recs, err := v.Resolver.LookupTXT(ctx, name)
			answers[i] = keyAnswer{recs, err}
		}()
	}
	wg.Wait()
	keys := make(map[string]keyAnswer, len(names))
	for i, name := range names {
		keys[name] = answers[i]
	}
	return keys
}

// finish parses the key, checks it against the signature, verifies the
// header signature and sets the result.
func finish(p *pending, m *message.Message, fields map[string][]int, records []string, err error) {
	sig := p.sig
	if err != nil {
		sig.KeyLookup = dnsx.KindOf(err).String()
		switch dnsx.KindOf(err) {
		case dnsx.NXDomain, dnsx.NoData:
			invalid(sig, "dns", "", 0, i18n.M("dkim.no-key", p.keyName, sig.KeyLookup))
		case dnsx.BadName:
			invalid(sig, "dns", "s", 0, i18n.M("dkim.bad-name", p.keyName))
		default:
			sig.Result = TempError
			sig.Reason = i18n.M("dkim.temperror", p.keyName, sig.KeyLookup)
		}
		return
	}
	// Several records: use the first that parses, else report the first.
	key, keyErr := ParseKey(records[0])
	for _, r := range records[1:] {
		if keyErr == nil {
			break
		}
		if k, err := ParseKey(r); err == nil {
			key, keyErr = k, nil
		}
	}
	key.Name = p.keyName
	key.Records = len(records)
	sig.Key = key
	if key.Testing {
		sig.Notes = append(sig.Notes, i18n.M("dkim.testing"))
	}
	if keyErr != nil {
		var ke *KeyError
		errors.As(keyErr, &ke)
		invalid(sig, "key", ke.Tag, 0, i18n.M("dkim.key-unusable", p.keyName, ke.Reason))
		return
	}
	keyAlg, _, _ := strings.Cut(sig.Algorithm, "-")
	switch {
	case key.Type != keyAlg:
		invalid(sig, "key", "k", 0, i18n.M("dkim.key-type", sig.Algorithm, p.keyName, key.Type))
		return
	case key.HashAlgs != nil && !slices.Contains(key.HashAlgs, "sha256"):
		invalid(sig, "key", "h", 0, i18n.M("dkim.key-hash", strings.Join(key.HashAlgs, ":")))
		return
	case key.Type == "rsa" && key.Bits < MinRSABits:
		invalid(sig, "key", "p", 0, i18n.M("dkim.key-short", strconv.Itoa(key.Bits), strconv.Itoa(MinRSABits)))
		return
	case key.Strict && p.identifier != "" && p.identifier != sig.Domain:
		invalid(sig, "key", "t", 0, i18n.M("dkim.key-strict", sig.Domain, p.identifier))
		return
	}

	hashed := headerHash(p, m, fields)
	var ok bool
	switch pub := key.pub.(type) {
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(pub, crypto.SHA256, hashed, p.b) == nil
	case ed25519.PublicKey:
		ok = ed25519.Verify(pub, hashed, p.b)
	}
	sig.HeaderSignatureOK = &ok

	bodyOK := sig.BodyHashOK != nil && *sig.BodyHashOK
	keyDesc := i18n.M("dkim.key-desc", strconv.Itoa(key.Bits), key.Type, p.keyName)
	switch {
	case bodyOK && ok:
		sig.Result = Pass
		sig.Reason = i18n.M("dkim.pass", keyDesc)
	case !bodyOK && ok:
		sig.Result, sig.Failed = Fail, []string{CheckBodyHash}
		sig.Reason = i18n.M("dkim.body", sig.BodyHash, sig.ComputedBodyHash)
	case bodyOK && !ok:
		sig.Result, sig.Failed = Fail, []string{CheckHeaderSignature}
		sig.Reason = i18n.M("dkim.header", keyDesc)
	default:
		sig.Result, sig.Failed = Fail, []string{CheckBodyHash, CheckHeaderSignature}
		sig.Reason = i18n.M("dkim.both")
	}
}

// headerHash computes the SHA-256 of the signed header fields and the
// signature field itself with b= emptied (RFC 6376 §3.7, §5.4.2).
func headerHash(p *pending, m *message.Message, fields map[string][]int) []byte {
	h := sha256.New()
	next := map[string]int{}
	for _, name := range p.headers {
		// The last unused instance, from the bottom up; a name listed more
		// often than it occurs signs nothing more (RFC 6376 §5.4.2).
		n := strings.ToLower(name)
		if k := next[n]; k < len(fields[n]) {
			next[n] = k + 1
			h.Write([]byte(CanonicalHeader(m.Fields[fields[n][k]].Raw, p.hcanon)))
		}
	}
	self := p.field.Raw[:len(p.field.Name)+1] + emptyB(p.value, p.tags)
	h.Write([]byte(strings.TrimSuffix(CanonicalHeader(self+"\r\n", p.hcanon), "\r\n")))
	return h.Sum(nil)
}

// emptyB returns the tag list with the value of b= (and the whitespace
// around it) removed.
func emptyB(value string, tags taglist.Tags) string {
	pos := tags.Pos("b") - 1
	eq := pos + strings.IndexByte(value[pos:], '=')
	end := strings.IndexByte(value[eq:], ';')
	if end < 0 {
		return value[:eq+1]
	}
	return value[:eq+1] + value[eq+end:]
}

func invalid(sig *Signature, in, tag string, pos int, reason i18n.Msg) *pending {
	sig.Result = Invalid
	sig.Problem = &Problem{In: in, Tag: tag, Pos: pos, Reason: reason}
	sig.Reason = reason
	return nil
}

// parseDigits parses 1 to max decimal digits.
func parseDigits(s string, max int) (int64, error) {
	s = taglist.Strip(s)
	if s == "" || len(s) > max {
		return 0, i18n.Errorf("dkim.digits", max)
	}
	for i := 0; i < len(s); i++ {
		if !taglist.IsDigit(s[i]) {
			return 0, i18n.Errorf("dkim.not-number", clip(s))
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, i18n.Errorf("dkim.range", clip(s))
	}
	return n, nil
}

// maxField bounds the copy of a DKIM-Signature field kept for display.
const maxField = 1024

func clipField(s string) string {
	return untrusted.Clip(strings.TrimSuffix(s, "\r\n"), maxField)
}
