package message

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/testerd/testerd/i18n"
)

func TestParse(t *testing.T) {
	raw := "From: a@example.com\r\nSubject: one\r\n two\r\nbogus line\r\nX-Sp ace : v\r\n\r\nbody\r\n"
	m := Parse([]byte(raw))
	if len(m.Fields) != 4 || string(m.Body) != "body\r\n" || m.NoBody || m.BareLF {
		t.Fatalf("%+v", m)
	}
	if got := m.First("subject"); got != "one two" {
		t.Errorf("Subject %q", got)
	}
	if !m.Fields[2].Malformed || !m.Fields[3].Malformed || m.Fields[3].Name != "X-Sp ace" {
		t.Errorf("malformed fields: %+v", m.Fields)
	}
	if m.Fields[1].Raw != "Subject: one\r\n two\r\n" {
		t.Errorf("raw %q", m.Fields[1].Raw)
	}

	m = Parse([]byte("From: a@example.com\nSubject: x\n\nline\n"))
	if !m.BareLF || string(m.Raw) != "From: a@example.com\r\nSubject: x\r\n\r\nline\r\n" {
		t.Errorf("bare LF: %q", m.Raw)
	}
	m = Parse([]byte("From: a@example.com\r\nSubject: x"))
	if !m.NoBody || len(m.Fields) != 2 || len(m.Body) != 0 {
		t.Errorf("no body: %+v", m)
	}
	m = Parse([]byte("Subject: x\r\n\r\n" + strings.Repeat("y", 1200) + "\r\n"))
	if m.LongestLine != 1200 {
		t.Errorf("longest line %d", m.LongestLine)
	}
	m = Parse([]byte(strings.Repeat("X: y\r\n", MaxFields+5) + "\r\nbody"))
	if !m.TooManyFields || len(m.Fields) != MaxFields {
		t.Errorf("too many fields: %d %v", len(m.Fields), m.TooManyFields)
	}
}

func TestFrom(t *testing.T) {
	tests := []struct {
		header, domain, problem string
	}{
		{"From: Joe <joe@Example.COM>", "example.com", ""},
		{"From: joe@abc.it.", "", "cannot be parsed"},
		{"From: =?utf-8?q?J=C3=B6e?= <joe@b\u00fccher.example>", "xn--bcher-kva.example", ""},
		{"From: \"Doe, Joe\" <joe@abc.it>", "abc.it", ""},
		{"Subject: no from", "", "no From header"},
		{"From: a@abc.it\r\nFrom: b@abc.it", "", "2 From headers"},
		{"From: a@abc.it, b@esp.net", "", "2 addresses"},
		{"From: Joe <joe@abc.it", "", "cannot be parsed"},
		{"From:", "", "empty"},
		{"From: undisclosed-recipients:;", "", "no address"},
		{"From: joe@[192.0.2.1]", "", "address literal"},
		{"From: joe@exa_mple.com", "exa_mple.com", ""},
	}
	for _, tt := range tests {
		f := Parse([]byte(tt.header + "\r\n\r\nbody")).From()
		if problem := i18n.EN.Say(f.Problem); f.Domain != tt.domain || !strings.Contains(problem, tt.problem) || (tt.problem == "") != (problem == "") {
			t.Errorf("%q: domain %q problem %q, want %q %q", tt.header, f.Domain, problem, tt.domain, tt.problem)
		}
	}
}

// FuzzParse: any input splits without panicking, fields cover the header
// exactly, and From gives a domain or a problem, never both.
func FuzzParse(f *testing.F) {
	f.Add([]byte("From: Joe <joe@abc.it>\r\nSubject: x\r\n\r\nbody"))
	f.Add([]byte("From: a@b.c, d@e.f\nFrom: x\n\n"))
	f.Add([]byte("From: \"\\\" <@>\r\n \r\n\r\n"))
	f.Add([]byte("From: =?utf-8?b?////?= <a@[1.2.3.4]>\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := Parse(raw)
		var n int
		for _, fl := range m.Fields {
			n += len(fl.Raw)
		}
		if n != len(m.Header) && !m.TooManyFields {
			t.Fatalf("fields cover %d of %d header octets", n, len(m.Header))
		}
		from := m.From()
		if (from.Domain == "") == from.Problem.IsZero() {
			t.Fatalf("domain %q and problem %q", from.Domain, from.Problem)
		}
		if from.Domain != "" && !isHostName(from.Domain) {
			t.Fatalf("domain %q is not a host name", from.Domain)
		}
	})
}

// FuzzDecodeHeader: decoding a stranger's encoded-words never panics and
// never yields control characters, bidi overrides or invalid UTF-8.
func FuzzDecodeHeader(f *testing.F) {
	for _, s := range []string{"=?UTF-8?B?UHJvdmEgw6g=?=", "=?ISO-8859-1?Q?Jos=E9?=", "=?iso-2022-jp?B?GyRCJUYlOSVIGyhC?=", "=?x?q?=00?=", "plain\x1b[31m", "=?utf-8?q?=E2=80=AE?="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := DecodeHeader(s)
		if !utf8.ValidString(d) || len(d) > MaxShown*4 {
			t.Fatalf("%q → %q", s, d)
		}
		for _, r := range d {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
				t.Fatalf("%q → %q holds %U", s, d, r)
			}
		}
	})
}
