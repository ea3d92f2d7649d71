// Package rcpt reads the address a message to the tester was sent to: the
// kind its local part names (a tester, the operator's mailbox, a report
// address), and what its +extension asks for. check+it+team@ asks for a
// reply in Italian and tags the probe "team", so its sender finds it in
// the lists; spf+ann=example.com@ redirects the reply to ann@example.com;
// check+t-TOKEN@ is a private test's address, never listed.
//
// SMTP intake reads each recipient once, with Parse; the store keeps the
// fields; every later reader (the lists, the reply, the webhooks) takes
// them from the probe. The languages are i18n's.
package rcpt

import (
	"crypto/rand"
	"encoding/base32"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
)

// Address is one recipient of the tester, read.
type Address struct {
	Kind kind.Kind `json:"kind"`
	// Extension is what follows the first "+" of the local part, as sent.
	Extension string `json:"extension,omitempty"`
	// Lang is the language a leading "it+" (or any of i18n.Langs) asks
	// for; "" when it asks for none.
	Lang i18n.Lang `json:"lang,omitempty"`
	// Tag is the extension without the language: what the lists filter
	// on, and the reply's redirect when it holds "=".
	Tag string `json:"tag,omitempty"`
	// Private is the token of the private test the extension holds,
	// wherever it sits in it, lowercased ("t-" and 26 letters and
	// digits); "" for a public probe. It is never shown in the lists.
	Private string `json:"-"`
}

// Parse reads the extension of a recipient of kind k. A leading language
// code is the language, the rest whole is the tag; a private test's token
// anywhere makes the address private (check+t-TOKEN+x@, check+x+t-TOKEN@
// and check+t-TOKEN=me.example@ are as private as check+t-TOKEN@).
func Parse(k kind.Kind, ext string) Address {
	a := Address{Kind: k, Extension: ext, Tag: ext}
	first, rest, _ := strings.Cut(ext, "+")
	if l, ok := langCode(first); ok {
		a.Lang, a.Tag = l, rest
	}
	a.Private = findPrivate(ext)
	return a
}

// langCode reads a language code exactly as the extension gives it
// ("it", "IT"), not the looser forms i18n.Parse takes ("it-CH").
func langCode(s string) (i18n.Lang, bool) {
	for _, l := range i18n.Langs {
		if strings.EqualFold(s, string(l)) {
			return l, true
		}
	}
	return "", false
}

// Redirect returns the local part and domain the tag redirects the reply
// to, split at the last "=" (a domain never holds one).
func (a Address) Redirect() (local, domain string, ok bool) {
	i := strings.LastIndexByte(a.Tag, '=')
	if i < 0 {
		return "", "", false
	}
	return a.Tag[:i], a.Tag[i+1:], true
}

// A private test's token: "t-" and 128 random bits in lowercase base32.
const (
	privatePrefix = "t-"
	privateLen    = 26
	// TokenLen is the length of a whole token.
	TokenLen = len(privatePrefix) + privateLen
)

var privateEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewPrivate returns a fresh private test's token.
func NewPrivate() string {
	b := make([]byte, 16)
	rand.Read(b)
	return privatePrefix + privateEncoding.EncodeToString(b)
}

// IsPrivate reports whether s is a private test's token (in any case).
func IsPrivate(s string) bool {
	t, ok := strings.CutPrefix(strings.ToLower(s), privatePrefix)
	if !ok || len(t) != privateLen {
		return false
	}
	_, err := privateEncoding.DecodeString(t)
	return err == nil
}

// findPrivate returns the first token anywhere in s, lowercased, or "".
// The extension is bounded by the SMTP line, so the scan is too.
func findPrivate(s string) string {
	low := strings.ToLower(s)
	for i := 0; i+TokenLen <= len(low); i++ {
		j := strings.Index(low[i:], privatePrefix)
		if j < 0 || i+j+TokenLen > len(low) {
			return ""
		}
		i += j
		if t := low[i : i+TokenLen]; IsPrivate(t) {
			return t
		}
	}
	return ""
}
