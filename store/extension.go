package store

import "strings"

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
