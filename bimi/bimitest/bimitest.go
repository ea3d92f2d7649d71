// Package bimitest makes BIMI test material at test time: a mark
// certificate authority, mark certificates carrying a logo in their RFC
// 3709 logotype extension, and a logo that meets the SVG Tiny PS
// profile. No key is ever written to the repository.
package bimitest

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/testerd/testerd/bimi"
)

// GoodSVG is a square SVG Tiny PS logo with its title.
const GoodSVG = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 100 100">
<title>Forno Anna</title>
<circle cx="50" cy="50" r="40" fill="#c33"/>
</svg>`

// CA issues mark certificates.
type CA struct {
	key  *ecdsa.PrivateKey
	Cert *x509.Certificate
}

// NewCA makes a mark certificate authority valid for a day.
func NewCA(t testing.TB) *CA {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Mark Authority"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &CA{key: key, Cert: c}
}

// PEM is the authority's certificate, for --bimi-roots.
func (ca *CA) PEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Mark says what certificate to issue.
type Mark struct {
	Names []string
	// Logo is the SVG the certificate carries.
	Logo []byte
	// MarkType is the subject's mark type; "" is "Registered Mark" (a
	// VMC).
	MarkType   string
	NoEKU      bool
	Expired    bool
	NoLogotype bool
}

// Issue makes a mark certificate, PEM.
func (ca *CA) Issue(t testing.TB, o Mark) []byte {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mt := o.MarkType
	if mt == "" {
		mt = "Registered Mark"
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:   pkix.Name{Organization: []string{"Forno Anna"}, ExtraNames: []pkix.AttributeTypeAndValue{{Type: bimi.OIDMarkType, Value: mt}}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(12 * time.Hour), DNSNames: o.Names}
	if o.Expired {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
	}
	if !o.NoEKU {
		tmpl.UnknownExtKeyUsage = []asn1.ObjectIdentifier{bimi.OIDKeyUsage}
	}
	if !o.NoLogotype {
		tmpl.ExtraExtensions = []pkix.Extension{{Id: bimi.OIDLogotype, Value: logotype(t, o.Logo)}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// logotype is an RFC 3709 extension whose subject logo is svg, as a
// gzipped data: URI with its SHA-256.
func logotype(t testing.TB, svg []byte) []byte {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(svg)
	w.Close()
	sum := sha256.Sum256(gz.Bytes())
	type details struct {
		MediaType string `asn1:"ia5"`
		Hash      []bimi.HashAlgAndValue
		URI       []asn1.RawValue
	}
	type image struct{ Details details }
	uri := asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte("data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(gz.Bytes()))}
	images, err := asn1.Marshal([]image{{details{MediaType: "image/svg+xml",
		Hash: []bimi.HashAlgAndValue{{Alg: pkix.AlgorithmIdentifier{Algorithm: bimi.OIDSHA256}, Value: sum[:]}}, URI: []asn1.RawValue{uri}}}})
	if err != nil {
		t.Fatal(err)
	}
	info, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: images})
	subject, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, IsCompound: true, Bytes: info})
	ext, _ := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: subject})
	return ext
}
