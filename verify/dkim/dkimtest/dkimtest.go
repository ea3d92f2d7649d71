// Package dkimtest makes DKIM signatures for tests, including the kinds
// real signers should not make (l=, rsa-sha1, odd tags) that go-msgauth's
// signer refuses, and deterministic Ed25519 keys so golden files stay
// stable. It shares canonicalization with package dkim; tests cross-check
// it against go-msgauth for the signatures both can make.
package dkimtest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/dkim"
)

// Options describe one signature.
type Options struct {
	Domain, Selector string
	Signer           crypto.Signer
	// Algorithm is a=; empty means rsa-sha256 or ed25519-sha256 by key.
	Algorithm string
	// Canonicalization is c=; empty means relaxed/relaxed.
	Canonicalization string
	// Headers is h=; nil means From, To, Subject, Date, Message-ID.
	Headers []string
	// BodyLength, if not nil, adds l=; a negative value means the whole
	// canonical body.
	BodyLength *int64
	Identifier string
	// Time adds t= when not zero; Expiration adds x=.
	Time, Expiration time.Time
	// Extra is appended to the tag list as is, e.g. "z=From:x".
	Extra string
}

// Ed25519 returns a deterministic Ed25519 key for a name: test keys that
// need no file and give the same signatures on every run.
func Ed25519(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("testerd dkimtest " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

// RSA generates an RSA key of the given size.
func RSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

// KeyRecord is the DNS TXT record publishing pub.
func KeyRecord(pub crypto.PublicKey) string {
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			panic(err)
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	}
	panic(fmt.Sprintf("dkimtest: unsupported key %T", pub))
}

// Sign returns a DKIM-Signature field for msg, with its final CRLF, to be
// put on top of msg.
func Sign(msg []byte, o Options) (string, error) {
	m := message.Parse(msg)
	alg := o.Algorithm
	if alg == "" {
		alg = "rsa-sha256"
		if _, ok := o.Signer.Public().(ed25519.PublicKey); ok {
			alg = "ed25519-sha256"
		}
	}
	canon := o.Canonicalization
	if canon == "" {
		canon = "relaxed/relaxed"
	}
	hc, bc, _ := strings.Cut(canon, "/")
	if bc == "" {
		bc = dkim.Simple
	}
	headers := o.Headers
	if headers == nil {
		headers = []string{"From", "To", "Subject", "Date", "Message-ID"}
	}

	body := dkim.CanonicalBody(m.Body, bc)
	var tags []string
	add := func(t string) { tags = append(tags, t) }
	add("v=1")
	add("a=" + alg)
	add("c=" + canon)
	add("d=" + o.Domain)
	add("s=" + o.Selector)
	if o.Identifier != "" {
		add("i=" + o.Identifier)
	}
	if o.BodyLength != nil {
		l := *o.BodyLength
		if l < 0 {
			l = int64(len(body))
		}
		add("l=" + strconv.FormatInt(l, 10))
		if l < int64(len(body)) {
			body = body[:l]
		}
	}
	if !o.Time.IsZero() {
		add("t=" + strconv.FormatInt(o.Time.Unix(), 10))
	}
	if !o.Expiration.IsZero() {
		add("x=" + strconv.FormatInt(o.Expiration.Unix(), 10))
	}
	add("h=" + strings.Join(headers, ":"))
	bh := sha256.Sum256(body)
	add("bh=" + base64.StdEncoding.EncodeToString(bh[:]))
	if o.Extra != "" {
		add(o.Extra)
	}
	add("b=")
	field := "DKIM-Signature: " + strings.Join(tags, ";\r\n\t")

	h := sha256.New()
	used := make([]bool, len(m.Fields))
	for _, name := range headers {
		for i := len(m.Fields) - 1; i >= 0; i-- {
			if !used[i] && strings.EqualFold(m.Fields[i].Name, name) {
				used[i] = true
				h.Write([]byte(dkim.CanonicalHeader(m.Fields[i].Raw, hc)))
				break
			}
		}
	}
	h.Write([]byte(strings.TrimSuffix(dkim.CanonicalHeader(field+"\r\n", hc), "\r\n")))
	digest := h.Sum(nil)

	var sig []byte
	var err error
	switch k := o.Signer.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, digest)
	case *rsa.PrivateKey:
		// Always SHA-256: verifiers refuse a=rsa-sha1 before checking the
		// signature, so for it only the tag matters.
		sig, err = rsa.SignPKCS1v15(nil, k, crypto.SHA256, digest)
	default:
		return "", fmt.Errorf("dkimtest: unsupported signer %T", o.Signer)
	}
	if err != nil {
		return "", err
	}
	return field + base64.StdEncoding.EncodeToString(sig) + "\r\n", nil
}
