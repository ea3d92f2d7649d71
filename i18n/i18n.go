// Package i18n holds every sentence testerd says to people, one catalog
// file per language (en.go, it.go; the Italian follows GLOSSARY.md), and
// picks the language: from an Accept-Language header by
// golang.org/x/text/language matching, or from a probe's "+it" recipient
// extension. A language is one catalog file that registers itself; the
// list of languages comes from the files. A test checks that every key is
// in every language with the same verbs. Sentences are kept unsaid as Msg
// (a key and its arguments) until a reader's language is known.
// Formatting goes through golang.org/x/text/message, so numbers follow
// the language (1.234 in Italian).
package i18n

import (
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	gocatalog "golang.org/x/text/message/catalog"
)

// Lang is a language testerd speaks, by its code ("en", "it").
type Lang string

// The languages the catalog files register; a new language is one more
// file like it.go, and nothing else.
const (
	EN Lang = "en"
	IT Lang = "it"
)

// catalog is one language's words: every key of the catalog, in it.
type catalog struct {
	lang Lang
	name string // its own name, for the switch on pages
	tag  language.Tag
	msgs map[string]string
	p    *message.Printer
}

var catalogs = map[Lang]*catalog{}

// Langs lists the languages, English first, then by code.
var Langs []Lang

// Default is the language when nobody asks for one.
var Default = EN

var matcher language.Matcher

// register adds a language's catalog (each catalog file's init).
func register(c *catalog) {
	catalogs[c.lang] = c
	Langs = append(Langs[:0:0], EN)
	for l := range catalogs {
		if l != EN {
			Langs = append(Langs, l)
		}
	}
	sort.Slice(Langs[1:], func(i, j int) bool { return Langs[1+i] < Langs[1+j] })
	if _, ok := catalogs[EN]; !ok {
		Langs = Langs[1:]
	}
	tags := make([]language.Tag, 0, len(Langs))
	b := gocatalog.NewBuilder(gocatalog.Fallback(language.English))
	for _, l := range Langs {
		c := catalogs[l]
		tags = append(tags, c.tag)
		for key, text := range c.msgs {
			b.SetString(c.tag, key, text)
		}
	}
	for _, l := range Langs {
		catalogs[l].p = message.NewPrinter(catalogs[l].tag, message.Catalog(b))
	}
	matcher = language.NewMatcher(tags)
}

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

// Match picks the language for an Accept-Language header; the default
// when the header names none testerd speaks.
func Match(acceptLanguage string) Lang {
	prefs, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(prefs) == 0 {
		return Default
	}
	_, i, conf := matcher.Match(prefs...)
	if conf == language.No {
		return Default
	}
	return Langs[i]
}

// T formats the message key in l with args. A key missing from the
// catalog is a bug the catalog test catches; it shows as the key itself.
func (l Lang) T(key string, args ...any) string {
	c, ok := catalogs[l]
	if !ok {
		c = catalogs[Default]
	}
	if _, ok := c.msgs[key]; !ok {
		return fmt.Sprintf("[%s]", key)
	}
	return c.p.Sprintf(key, args...)
}

// Name is the language's own name, for the switch on pages.
func (l Lang) Name() string {
	if c, ok := catalogs[l]; ok {
		return c.name
	}
	return string(l)
}

// Has reports whether key is in the catalog (in the default language).
func Has(key string) bool {
	_, ok := catalogs[Default].msgs[key]
	return ok
}

// Msg is a sentence not yet put into words: a catalog key and its
// arguments, said in the reader's language by Lang.Say. Verdicts keep
// their findings as Msgs, so a stored verdict reads in any language. An
// argument may be a Msg itself (a phrase inside a sentence).
type Msg struct {
	Key  string `json:"key"`
	Args []any  `json:"args,omitempty"`
}

// M makes a Msg.
func M(key string, args ...any) Msg { return Msg{Key: key, Args: args} }

// String is the English, for logs and test failures; a reader's words
// come from Lang.Say.
func (m Msg) String() string { return EN.Say(m) }

// IsZero reports an empty Msg.
func (m Msg) IsZero() bool { return m.Key == "" }

// Say puts m into words in l. Arguments that came back from JSON are
// turned back into what the verbs expect: a whole number into an int, a
// nested message into its words.
func (l Lang) Say(m Msg) string {
	if m.Key == "" {
		return ""
	}
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		args[i] = l.arg(a)
	}
	return l.T(m.Key, args...)
}

func (l Lang) arg(a any) any {
	switch v := a.(type) {
	case Msg:
		return l.Say(v)
	case []Msg:
		parts := make([]string, len(v))
		for i, m := range v {
			parts[i] = l.Say(m)
		}
		return strings.Join(parts, "; ")
	case []any: // a []Msg decoded from JSON
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprint(l.arg(x))
		}
		return strings.Join(parts, "; ")
	case float64:
		if v == float64(int64(v)) {
			return int64(v)
		}
	case map[string]any: // a Msg decoded from JSON
		if key, ok := v["key"].(string); ok {
			m := Msg{Key: key}
			if args, ok := v["args"].([]any); ok {
				m.Args = args
			}
			return l.Say(m)
		}
	}
	return a
}

// Decimal writes a number with at most one decimal, as the language
// writes it: 7.5 in English, 7,5 in Italian.
func (l Lang) Decimal(f float64) string {
	c, ok := catalogs[l]
	if !ok {
		c = catalogs[Default]
	}
	if f == float64(int64(f)) {
		return c.p.Sprintf("%d", int64(f))
	}
	return c.p.Sprintf("%.1f", f)
}

// Percent writes n of of as a percentage with one decimal, as the
// language writes it ("57.1%", "57,1%"), or "–" of nothing.
func (l Lang) Percent(n, of int64) string {
	if of == 0 {
		return "–"
	}
	c, ok := catalogs[l]
	if !ok {
		c = catalogs[Default]
	}
	return c.p.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}

// Value stores a Msg in a text column: its JSON, or "" when zero.
func (m Msg) Value() (driver.Value, error) {
	if m.IsZero() {
		return "", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
}

// Scan reads a Msg back from a text column. Text that is not a Msg's
// JSON (written before messages were kept unsaid) reads as that text.
func (m *Msg) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("i18n: cannot read a message from %T", src)
	}
	*m = Msg{}
	if s == "" {
		return nil
	}
	if strings.HasPrefix(s, "{") && json.Unmarshal([]byte(s), m) == nil && m.Key != "" {
		return nil
	}
	*m = M("text", s)
	return nil
}

// UnmarshalJSON reads a Msg, or a plain JSON string: the words of a
// verdict stored before its sentences were kept unsaid, read as that text.
func (m *Msg) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*m = Msg{}
		if s != "" {
			*m = M("text", s)
		}
		return nil
	}
	type plain Msg
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*m = Msg(p)
	return nil
}

// Pseudo is a language for tests only (EnablePseudo): every sentence of
// the catalog, between PseudoOpen and PseudoClose, so that a test sees any
// text on a page, in a reply or a mail that did not come from the catalog.
const Pseudo Lang = "qps"

// The pseudo-locale's markers.
const (
	PseudoOpen  = "⟦"
	PseudoClose = "⟧"
)

var pseudoOnce sync.Once

// EnablePseudo registers the pseudo-locale (tests only: call it before
// anything reads Langs, such as a web server's templates).
func EnablePseudo() Lang {
	pseudoOnce.Do(func() {
		msgs := make(map[string]string, len(catalogs[EN].msgs))
		for k, v := range catalogs[EN].msgs {
			msgs[k] = PseudoOpen + v + PseudoClose
		}
		register(&catalog{lang: Pseudo, name: "Pseudo", tag: language.MustParse("qps"), msgs: msgs})
	})
	return Pseudo
}

// Error is an error whose words are a Msg: its Error is the English, and
// Of gives the Msg back to say it in any language.
type Error struct{ m Msg }

func (e *Error) Error() string { return EN.Say(e.m) }

// Msg is the error's words, unsaid.
func (e *Error) Msg() Msg { return e.m }

// Errorf makes an Error of the key and its arguments.
func Errorf(key string, args ...any) error { return &Error{m: M(key, args...)} }

// Of is what err says, as a Msg: the Msg of an error that has one (an
// Error, or any error with a Msg method, wrapped or not), or the error's
// text as it is.
func Of(err error) Msg {
	if err == nil {
		return Msg{}
	}
	var e interface{ Msg() Msg }
	if errors.As(err, &e) {
		return e.Msg()
	}
	return M("text", err.Error())
}
