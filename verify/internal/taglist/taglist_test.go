package taglist

import (
	"strings"
	"testing"

	"github.com/testerd/testerd/i18n"
)

func TestParse(t *testing.T) {
	tags, err := Parse(" v=1; a = rsa-sha256;\r\n\tb=abc\r\n def ;")
	if err != nil {
		t.Fatal(err)
	}
	want := []Tag{{"v", "1", 2}, {"a", "rsa-sha256", 7}, {"b", "abc\r\n def", 25}}
	if len(tags) != len(want) {
		t.Fatalf("%+v", tags)
	}
	for i := range want {
		if tags[i] != want[i] {
			t.Errorf("tag %d: %+v, want %+v", i, tags[i], want[i])
		}
	}
	if Strip(tags[2].Value) != "abcdef" {
		t.Errorf("Strip: %q", Strip(tags[2].Value))
	}
	for _, tt := range []struct {
		in, tag, reason string
		pos             int
	}{
		{"v=1;;a=b", "", "empty tag", 5},
		{"v=1; 1a=b", "", "start with a letter", 6},
		{"v=1; a", "a", `"=" missing`, 6},
		{"v=1; a=b; a=c", "a", "twice", 11},
		{"v=\x01", "v", "0x01", 1},
		{"", "", "empty tag", 1},
	} {
		_, err := Parse(tt.in)
		te, ok := err.(*TagError)
		if !ok || te.Tag != tt.tag || te.Pos != tt.pos || !strings.Contains(i18n.EN.Say(te.Reason), tt.reason) {
			t.Errorf("%q: %v, want tag %q at %d: %s", tt.in, err, tt.tag, tt.pos, tt.reason)
		}
	}
}

// FuzzParse: every parsed tag's Pos points at its name in the input, and
// every error's Pos is inside it.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;\r\n\th=from:to; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA",
		"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
		"v=DMARC1; p=reject; rua=mailto:a@b.c!10m",
		"a=;b= ; c", ";", "x=\r\n y",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := Parse(s)
		if err != nil {
			te := err.(*TagError)
			if te.Pos < 1 || te.Pos > len(s)+1 {
				t.Fatalf("error position %d outside %q", te.Pos, s)
			}
			return
		}
		seen := map[string]bool{}
		for _, tg := range tags {
			if !strings.HasPrefix(s[tg.Pos-1:], tg.Name) || seen[tg.Name] {
				t.Fatalf("tag %+v not at its position in %q, or duplicated", tg, s)
			}
			seen[tg.Name] = true
		}
	})
}
