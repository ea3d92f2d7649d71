package store

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// ExtensionLangs are the languages a recipient extension can ask for, the
// i18n codes (two, so List's tag filter has a fixed shape).
var ExtensionLangs = []string{"en", "it"}

// Extension is a probe's recipient extension, read: check+it+team@ asks
// for a reply in Italian and tags the probe "team"; spf+ann=example.com@
// redirects the reply to ann@example.com. A leading "en" or "it" is always
// the language; the rest, whole, is the tag (and the redirect when it
// holds "=").
type Extension struct {
	Lang string
	// Rest is the extension without the language: the tag, or the
	// redirect (local=domain).
	Rest string
}

// ParseExtension reads an extension.
func ParseExtension(s string) Extension {
	first, rest, _ := strings.Cut(s, "+")
	for _, l := range ExtensionLangs {
		if strings.EqualFold(first, l) {
			return Extension{Lang: l, Rest: rest}
		}
	}
	return Extension{Rest: s}
}

// Redirect returns the redirect local part and domain, split at the last
// "=" (a domain never holds one), when Rest is one.
func (e Extension) Redirect() (local, domain string, ok bool) {
	i := strings.LastIndexByte(e.Rest, '=')
	if i < 0 {
		return "", "", false
	}
	return e.Rest[:i], e.Rest[i+1:], true
}

// A private test's address carries a token (check+t-TOKEN@): its results
// are never on the lists, only at /r/{id} and for the token.
const (
	privatePrefix = "t-"
	privateLen    = 26 // 128 random bits in base32
)

var privateEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewPrivate returns a fresh private-test tag ("t-" and 26 letters and
// digits).
func NewPrivate() string {
	b := make([]byte, 16)
	rand.Read(b)
	return privatePrefix + privateEncoding.EncodeToString(b)
}

// Private returns the private-test tag of the extension, lowercased, if
// it is one.
func (e Extension) Private() (string, bool) {
	t := strings.ToLower(e.Rest)
	return t, IsPrivate(t)
}

// IsPrivate reports whether tag is a private-test tag.
func IsPrivate(tag string) bool {
	t, ok := strings.CutPrefix(strings.ToLower(tag), privatePrefix)
	if !ok || len(t) != privateLen {
		return false
	}
	_, err := privateEncoding.DecodeString(t)
	return err == nil
}
