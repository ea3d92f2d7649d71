// Package untrusted makes untrusted text (from probes and DNS) safe to write
// into a header field.
package untrusted

import (
	"strings"
	"unicode/utf8"
)

// MaxHeaderValue bounds one value written into a header.
const MaxHeaderValue = 256

// Printable keeps printable ASCII only, so no CR, LF or other control
// character from the wire can reach a header, and bounds the length.
func Printable(s string) string {
	b := make([]byte, 0, min(len(s), MaxHeaderValue))
	for i := 0; i < len(s) && len(b) < MaxHeaderValue; i++ {
		if c := s[i]; c >= 0x20 && c < 0x7f {
			b = append(b, c)
		} else {
			b = append(b, '?')
		}
	}
	return string(b)
}

// Clip bounds a string copied from a probe or DNS for display: at most max
// bytes, cut at a rune boundary, with "…" when something was cut.
func Clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max] + "…"
}

// Line makes a stranger's string one line of display text: control
// characters become '?', and the length is bounded as by Clip.
func Line(s string, max int) string {
	return Clip(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s), max)
}
