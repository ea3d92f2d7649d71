package web

import "testing"

func TestMaskSender(t *testing.T) {
	for in, want := range map[string]string{
		"joe@example.com":              "j***@example.com",
		"":                             "<>",
		"@example.com":                 "***",
		"nodomain":                     "***",
		"\xc3\xa9t\xc3\xa9@exemple.fr": "****@exemple.fr",
		"a+b@x@example.com":            "a***@example.com",
	} {
		if got := maskSender(in); got != want {
			t.Errorf("maskSender(%q) = %q, want %q", in, got, want)
		}
	}
	for tag, want := range map[string]string{"|OK| spf-pass": "ok", "|~OK| dkim-pass": "soso", "!! spf-diff !!": "bad"} {
		if got := tagClass(tag); got != want {
			t.Errorf("tagClass(%q) = %q", tag, got)
		}
	}
}
