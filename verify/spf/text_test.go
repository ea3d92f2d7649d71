package spf

import (
	"strings"
	"testing"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
)

func TestWriteText(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("example.com", "v=spf1 include:bad.example -all")
	z.AddTXT("bad.example", "v=spf1 ip4:192.0.2.1 -all m\x1boo")
	ev := mailFrom(t, checker(z), "192.0.2.1", "a@example.com")
	var b strings.Builder
	ev.WriteText(&b, "tester.example", i18n.EN)
	out := b.String()
	// The caret points at the offending term under the quoted record.
	want := "    \"v=spf1 ip4:192.0.2.1 -all m\\x1boo\"\n" +
		"    " + strings.Repeat(" ", 27) + "^\n"
	if !strings.Contains(out, want) {
		t.Errorf("no caret under the problem:\n%s", out)
	}
	if strings.ContainsRune(out, 0x1b) {
		t.Error("control character printed raw")
	}
	if !strings.Contains(out, "problem at column 27 of bad.example's record") {
		t.Errorf("problem line missing:\n%s", out)
	}
}
