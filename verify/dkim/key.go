package dkim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/verify/internal/taglist"
)

// MinRSABits is the smallest RSA key a signature may verify with: RFC 8301
// §3.2 forbids treating smaller keys as valid.
const MinRSABits = 1024

// MaxRSABits is the largest RSA key testerd verifies with. RFC 8301 §3.2
// asks verifiers to handle keys up to 4096 bits; 8192 is generous, and
// past it one signature's verification costs seconds of CPU, which a
// stranger could ask for ten times a message.
const MaxRSABits = 8192

// maxKeyText bounds the base64 of p= looked at: an 8192-bit key in
// SubjectPublicKeyInfo is about 1,400 characters.
const maxKeyText = 4096

// Key is a DKIM key record (RFC 6376 §3.6.1) as published, without the key
// material itself.
type Key struct {
	// Name is the DNS name queried: <s>._domainkey.<d>.
	Name string `json:"name"`
	// Record is the TXT record used, clipped for display.
	Record string `json:"record,omitempty"`
	// Records counts the TXT records at Name.
	Records int    `json:"records"`
	Version string `json:"version,omitempty"`
	// Type is k=: "rsa" (the default) or "ed25519".
	Type     string   `json:"type,omitempty"`
	Bits     int      `json:"bits,omitempty"`
	HashAlgs []string `json:"hash_algs,omitempty"`
	Services []string `json:"services,omitempty"`
	Flags    []string `json:"flags,omitempty"`
	// Testing is t=y: the domain is testing DKIM, and verifiers must not
	// treat the message differently from unsigned mail.
	Testing bool `json:"testing,omitempty"`
	// Strict is t=s: the i= domain must equal d=, not be a subdomain.
	Strict bool   `json:"strict,omitempty"`
	Notes  string `json:"notes,omitempty"`
	// Revoked is an empty p=.
	Revoked bool `json:"revoked,omitempty"`

	pub crypto.PublicKey
}

// KeyError names what makes a key record unusable.
type KeyError struct {
	Tag    string   `json:"tag,omitempty"`
	Reason i18n.Msg `json:"reason"`
}

func (e *KeyError) Error() string {
	if e.Tag != "" {
		return fmt.Sprintf("key record tag %s=: %s", e.Tag, i18n.EN.Say(e.Reason))
	}
	return "key record: " + i18n.EN.Say(e.Reason)
}

// Msg says the error in a reader's words (i18n.Of finds it).
func (e *KeyError) Msg() i18n.Msg {
	if e.Tag != "" {
		return i18n.M("dkim.key.tag", e.Tag, e.Reason)
	}
	return e.Reason
}

// ParseKey parses a key record. The Key is returned even with an error,
// filled in as far as the record could be read.
func ParseKey(record string) (*Key, error) {
	k := &Key{Record: clip(record), Type: "rsa"}
	tags, err := taglist.Parse(record)
	if err != nil {
		return k, &KeyError{Reason: i18n.M("dkim.key.taglist", i18n.Of(err))}
	}
	if v, ok := tags.Get("v"); ok {
		k.Version = v
		if tags[0].Name != "v" {
			return k, &KeyError{Tag: "v", Reason: i18n.M("dkim.key.v-first")}
		}
		if v != "DKIM1" {
			return k, &KeyError{Tag: "v", Reason: i18n.M("dkim.key.version", clip(v))}
		}
	}
	if v, ok := tags.Get("h"); ok {
		k.HashAlgs = splitList(v)
	}
	if v, ok := tags.Get("s"); ok {
		k.Services = splitList(v)
	}
	if v, ok := tags.Get("t"); ok {
		k.Flags = splitList(v)
		for _, f := range k.Flags {
			switch f {
			case "y":
				k.Testing = true
			case "s":
				k.Strict = true
			}
		}
	}
	if v, ok := tags.Get("n"); ok {
		k.Notes = clip(v)
	}
	if v, ok := tags.Get("k"); ok {
		k.Type = v
	}
	p, ok := tags.Get("p")
	if !ok {
		return k, &KeyError{Tag: "p", Reason: i18n.M("dkim.key.p-missing")}
	}
	p = taglist.Strip(p)
	if p == "" {
		k.Revoked = true
		return k, &KeyError{Tag: "p", Reason: i18n.M("dkim.key.revoked")}
	}
	if k.Type != "rsa" && k.Type != "ed25519" {
		return k, &KeyError{Tag: "k", Reason: i18n.M("dkim.key.type", clip(k.Type))}
	}
	if k.Services != nil && !slices.Contains(k.Services, "*") && !slices.Contains(k.Services, "email") {
		return k, &KeyError{Tag: "s", Reason: i18n.M("dkim.key.service", strings.Join(k.Services, ":"))}
	}
	if len(p) > maxKeyText {
		return k, &KeyError{Tag: "p", Reason: i18n.M("dkim.key.p-long", len(p), strconv.Itoa(MaxRSABits))}
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return k, &KeyError{Tag: "p", Reason: i18n.M("dkim.key.base64", err.Error())}
	}
	switch k.Type {
	case "rsa":
		pub, err := parseRSA(der)
		if err != nil {
			return k, &KeyError{Tag: "p", Reason: i18n.Of(err)}
		}
		k.pub, k.Bits = pub, pub.N.BitLen()
		if k.Bits > MaxRSABits {
			return k, &KeyError{Tag: "p", Reason: i18n.M("dkim.key.rsa-long", strconv.Itoa(k.Bits), strconv.Itoa(MaxRSABits))}
		}
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return k, &KeyError{Tag: "p", Reason: i18n.M("dkim.key.ed25519", ed25519.PublicKeySize, len(der))}
		}
		k.pub, k.Bits = ed25519.PublicKey(der), 256
	}
	return k, nil
}

// parseRSA reads SubjectPublicKeyInfo, as RFC 6376 §3.6.1 specifies, or a
// bare PKCS#1 RSAPublicKey, which erratum 3017 and real signers use.
func parseRSA(der []byte) (*rsa.PublicKey, error) {
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		rsaPub, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, i18n.Errorf("dkim.key.not-rsa", fmt.Sprintf("%T", pub))
		}
		return rsaPub, nil
	}
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, i18n.Errorf("dkim.key.rsa")
	}
	return pub, nil
}

// splitList splits a colon-separated list, dropping whitespace and
// empty items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(taglist.Strip(v), ":") {
		if s != "" {
			out = append(out, clip(s))
		}
		if len(out) == taglist.MaxTags {
			break
		}
	}
	return out
}

// maxShown bounds strings copied from a signature or key for display.
const maxShown = 512

func clip(s string) string { return untrusted.Clip(s, maxShown) }
