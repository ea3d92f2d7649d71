package rcpt

import (
	"strings"
	"testing"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
)

func TestParse(t *testing.T) {
	tok := NewPrivate()
	up := strings.ToUpper(tok)
	tests := []struct {
		ext              string
		lang             i18n.Lang
		tag, private     string
		redirect, domain string
	}{
		{"", "", "", "", "", ""},
		{"it", i18n.IT, "", "", "", ""},
		{"IT+team", i18n.IT, "team", "", "", ""},
		{"en+it", i18n.EN, "it", "", "", ""},
		{"team", "", "team", "", "", ""},
		// "it-CH" is a tag, not a language: the extension takes codes only.
		{"it-CH", "", "it-CH", "", "", ""},
		{"ann=example.com", "", "ann=example.com", "", "ann", "example.com"},
		{"it+a=b=example.com", i18n.IT, "a=b=example.com", "", "a=b", "example.com"},
		{tok, "", tok, tok, "", ""},
		{"it+" + up, i18n.IT, up, tok, "", ""},
		// A token anywhere makes the address private (near misses that
		// were listed publicly).
		{tok + "+x", "", tok + "+x", tok, "", ""},
		{"x+" + tok, "", "x+" + tok, tok, "", ""},
		{tok + "=me.example", "", tok + "=me.example", tok, tok, "me.example"},
		{"pre" + tok + "post", "", "pre" + tok + "post", tok, "", ""},
		// Not a token: too short, or not base32.
		{"t-abc", "", "t-abc", "", "", ""},
		{"t-" + strings.Repeat("1", 26), "", "t-" + strings.Repeat("1", 26), "", "", ""},
	}
	for _, tt := range tests {
		a := Parse(kind.Check, tt.ext)
		local, domain, _ := a.Redirect()
		if a.Kind != kind.Check || a.Extension != tt.ext || a.Lang != tt.lang || a.Tag != tt.tag || a.Private != tt.private || local != tt.redirect || domain != tt.domain {
			t.Errorf("Parse(%q) = %+v, redirect %q@%q", tt.ext, a, local, domain)
		}
	}
}

func TestNewPrivate(t *testing.T) {
	a, b := NewPrivate(), NewPrivate()
	if a == b || !IsPrivate(a) || len(a) != TokenLen || !IsPrivate(strings.ToUpper(a)) {
		t.Fatalf("tokens %q %q", a, b)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("it+" + NewPrivate() + "=x.example")
	f.Add("t-t-t-")
	f.Fuzz(func(t *testing.T, ext string) {
		a := Parse(kind.Check, ext)
		if a.Private != "" && (!IsPrivate(a.Private) || !strings.Contains(strings.ToLower(ext), a.Private)) {
			t.Fatalf("Parse(%q).Private = %q", ext, a.Private)
		}
		if !strings.HasSuffix(ext, a.Tag) {
			t.Fatalf("Parse(%q).Tag = %q", ext, a.Tag)
		}
	})
}
