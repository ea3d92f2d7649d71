package i18n

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

var verbRE = regexp.MustCompile(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z%]`)

// TestCatalog: every key exists in both languages, with the same verbs in
// the same order, and the Italian is not the English copied.
func TestCatalog(t *testing.T) {
	for key, e := range entries {
		if strings.TrimSpace(e.en) == "" || strings.TrimSpace(e.it) == "" {
			t.Errorf("%s: a language is missing", key)
		}
		if !slices.Equal(verbRE.FindAllString(e.en, -1), verbRE.FindAllString(e.it, -1)) {
			t.Errorf("%s: verbs differ: %q vs %q", key, verbRE.FindAllString(e.en, -1), verbRE.FindAllString(e.it, -1))
		}
		if e.en == e.it && len(e.en) > 12 {
			t.Errorf("%s: the Italian is the English", key)
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		h    string
		want Lang
	}{
		{"it-IT,it;q=0.9,en;q=0.8", IT}, {"en-US,en;q=0.9", EN}, {"de-DE,it;q=0.5", IT},
		{"fr", EN}, {"", EN}, {"garbage;;;", EN}, {"it-CH", IT},
	} {
		if got := Match(tt.h); got != tt.want {
			t.Errorf("Match(%q) = %s, want %s", tt.h, got, tt.want)
		}
	}
	if l, ok := Parse("IT"); !ok || l != IT {
		t.Errorf("Parse(IT) = %s %v", l, ok)
	}
	if _, ok := Parse("de"); ok {
		t.Error("Parse(de) ok")
	}
	if got := IT.T("step.spf.over-limit", 12, 10); !strings.Contains(got, "12 lookup DNS") {
		t.Errorf("IT: %q", got)
	}
	if got := EN.T("no.such.key"); got != "[no.such.key]" {
		t.Errorf("missing key: %q", got)
	}
}
