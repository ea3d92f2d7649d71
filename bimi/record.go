package bimi

import (
	"net/url"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
)

// Record is a parsed BIMI assertion record.
type Record struct {
	// Location is l=, the logo's https URL; Authority is a=, the mark
	// certificate's.
	Location, Authority string
	// Declined: l= is present and empty (and a= with it): no logo.
	Declined bool
	// Warnings are tolerated oddities (an unknown tag).
	Warnings []i18n.Msg
}

// SyntaxError is a record receivers would not use.
type SyntaxError struct{ Msg i18n.Msg }

func (e *SyntaxError) Error() string { return i18n.EN.Say(e.Msg) }

// MaxRecord bounds the record text read.
const MaxRecord = 2048

// ParseRecord parses a BIMI record (tag=value pairs separated by ';',
// v=BIMI1 first).
func ParseRecord(txt string) (*Record, error) {
	if len(txt) > MaxRecord {
		return nil, &SyntaxError{m("bimi.syntax.long", MaxRecord)}
	}
	r := &Record{}
	seen := map[string]bool{}
	for i, part := range strings.Split(txt, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		tag, val, ok := strings.Cut(part, "=")
		tag, val = strings.ToLower(strings.TrimSpace(tag)), strings.TrimSpace(val)
		if !ok {
			return nil, &SyntaxError{m("bimi.syntax.tag", shown(part))}
		}
		if seen[tag] {
			return nil, &SyntaxError{m("bimi.syntax.twice", tag)}
		}
		seen[tag] = true
		switch {
		case i == 0 && (tag != "v" || val != "BIMI1"):
			return nil, &SyntaxError{m("bimi.syntax.version", shown(part))}
		case tag == "v":
		case tag == "l":
			r.Location = val
		case tag == "a":
			r.Authority = val
		default:
			r.Warnings = append(r.Warnings, m("bimi.syntax.unknown", shown(tag)))
		}
	}
	if !seen["l"] {
		return nil, &SyntaxError{m("bimi.syntax.no-l")}
	}
	if r.Location == "" {
		if r.Authority != "" {
			return nil, &SyntaxError{m("bimi.syntax.a-without-l")}
		}
		r.Declined = true
		return r, nil
	}
	for _, u := range []struct{ tag, v string }{{"l", r.Location}, {"a", r.Authority}} {
		if u.v == "" {
			continue
		}
		if strings.Contains(u.v, ",") {
			return nil, &SyntaxError{m("bimi.syntax.several", u.tag)}
		}
		p, err := url.Parse(u.v)
		if err != nil || p.Host == "" {
			return nil, &SyntaxError{m("bimi.syntax.url", u.tag, shown(u.v))}
		}
		if p.Scheme != "https" {
			return nil, &SyntaxError{m("bimi.syntax.https", u.tag, shown(u.v))}
		}
	}
	return r, nil
}

func shown(s string) string { return untrusted.Line(s, 200) }
