package message

import (
	"strings"
	"testing"
)

func TestRefusesCRLF(t *testing.T) {
	for _, c := range [][2]string{{"Subject", "a\r\nBcc: x"}, {"Subject", "a\nb"}, {"Subject", "a\rb"}, {"Subject", "a\x00b"}, {"X\r\nBcc", "v"}, {"A:B", "v"}, {"", "v"}} {
		var h Header
		h.Add(c[0], c[1])
		if _, err := h.Bytes(); err == nil {
			t.Errorf("%q: %q accepted", c[0], c[1])
		}
	}
}

func TestFolds(t *testing.T) {
	var h Header
	h.Add("Subject", strings.Repeat("word ", 40))
	h.Add("To", "<a@b.example>")
	b, err := h.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if len(line) > 78 {
			t.Errorf("line of %d octets: %q", len(line), line)
		}
	}
	if !strings.HasSuffix(string(b), "To: <a@b.example>\r\n") {
		t.Errorf("%q", b)
	}
	var long Header
	long.Add("X", strings.Repeat("a", 1000))
	if _, err := long.Bytes(); err == nil {
		t.Error("an unfoldable 1000-octet word was accepted")
	}
}
