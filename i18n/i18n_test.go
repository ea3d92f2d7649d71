package i18n

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var verbRE = regexp.MustCompile(`%[-+# 0]*(\[[0-9]+\])?[0-9]*(\.[0-9]+)?[a-zA-Z%]`)

// wordRE finds a word, in a text that is more than verbs and notation
// (d=%s s=%s), which a translation would say in its own language.
var wordRE = regexp.MustCompile(`(^|[^a-zA-Z=])[a-zA-Z]{4,}($|[^a-zA-Z=])`)

// verbsByArg lists a format's verbs by the argument each one formats
// (explicit indexes %[2]s let a translation put them in its own order),
// without the indexes; "%%" formats none.
func verbsByArg(format string) []string {
	var byArg []string
	arg := 0
	for _, m := range verbRE.FindAllStringSubmatch(format, -1) {
		v := m[0]
		if v == "%%" {
			continue
		}
		if m[1] != "" {
			fmt.Sscanf(m[1], "[%d]", &arg)
			arg--
			v = strings.Replace(v, m[1], "", 1)
		}
		for len(byArg) <= arg {
			byArg = append(byArg, "")
		}
		if byArg[arg] == "" {
			byArg[arg] = v
		}
		arg++
	}
	return byArg
}

// TestCatalog: every key of every language exists in all of them, with
// the same verbs for the same arguments, and no translation is the English
// copied.
func TestCatalog(t *testing.T) {
	base := catalogs[EN].msgs
	for _, l := range Langs {
		c := catalogs[l]
		for key, text := range c.msgs {
			en, ok := base[key]
			if !ok {
				t.Errorf("%s: %s is not in English", l, key)
				continue
			}
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %s is empty", l, key)
			}
			if !slices.Equal(verbsByArg(en), verbsByArg(text)) {
				t.Errorf("%s: %s: verbs differ: %q vs %q", l, key, verbsByArg(en), verbsByArg(text))
			}
			if l != EN && text == en && len(en) > 12 && wordRE.MatchString(verbRE.ReplaceAllString(en, "")) {
				t.Errorf("%s: %s is the English", l, key)
			}
		}
		for key := range base {
			if _, ok := c.msgs[key]; !ok {
				t.Errorf("%s lacks %s", l, key)
			}
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
