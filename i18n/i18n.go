// Package i18n holds every sentence testerd says to people, in English and
// Italian (the reference documents' users are Italian, and their terms are
// kept: "allineamento", "dominio di base", "mittente"), and picks the
// language: from an Accept-Language header by golang.org/x/text/language
// matching, or from a probe's "+it" recipient extension. The catalog is
// one table (catalog.go); a test checks that every key has both languages
// and the same verbs in each. Formatting goes through
// golang.org/x/text/message, so numbers follow the language (1.234 in
// Italian).
package i18n

import (
	"fmt"
	"strings"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// Lang is a language testerd speaks.
type Lang string

const (
	EN Lang = "en"
	IT Lang = "it"
)

// Langs lists the languages, the default first.
var Langs = []Lang{EN, IT}

// Default is the language when nobody asks for one.
var Default = Langs[0]

// Codes names the language codes for a usage message: "en or it".
func Codes() string {
	codes := make([]string, len(Langs))
	for i, l := range Langs {
		codes[i] = string(l)
	}
	if len(codes) < 2 {
		return strings.Join(codes, "")
	}
	return strings.Join(codes[:len(codes)-1], ", ") + " or " + codes[len(codes)-1]
}

// Parse reads a language code ("it", "IT", "it-CH" → IT); ok is false for
// a language testerd does not speak.
func Parse(s string) (Lang, bool) {
	tag, err := language.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", false
	}
	base, _ := tag.Base()
	for _, l := range Langs {
		if base.String() == string(l) {
			return l, true
		}
	}
	return "", false
}

var (
	tags    = []language.Tag{language.English, language.Italian}
	matcher = language.NewMatcher(tags)
	cat     = func() catalog.Catalog {
		b := catalog.NewBuilder(catalog.Fallback(language.English))
		for key, e := range entries {
			b.SetString(language.English, key, e.en)
			b.SetString(language.Italian, key, e.it)
		}
		return b
	}()
	printers = map[Lang]*message.Printer{
		EN: message.NewPrinter(language.English, message.Catalog(cat)),
		IT: message.NewPrinter(language.Italian, message.Catalog(cat)),
	}
)

// Match picks the language for an Accept-Language header; English when
// the header names neither language.
func Match(acceptLanguage string) Lang {
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return EN
	}
	_, i, conf := matcher.Match(prefs...)
	if conf == language.No {
		return EN
	}
	return Langs[i]
}

// T formats the message key in l with args. A key missing from the
// catalog is a bug the catalog test catches; it shows as the key itself.
func (l Lang) T(key string, args ...any) string {
	p, ok := printers[l]
	if !ok {
		p = printers[EN]
	}
	if _, ok := entries[key]; !ok {
		return fmt.Sprintf("[%s]", key)
	}
	return p.Sprintf(key, args...)
}

// Name is the language's own name, for the switch on pages.
func (l Lang) Name() string {
	switch l {
	case IT:
		return "Italiano"
	}
	return "English"
}

type entry struct{ en, it string }

// Has reports whether key is in the catalog.
func Has(key string) bool {
	_, ok := entries[key]
	return ok
}
