package requirements

import (
	"net/netip"
	"testing"
)

func TestOctetScans(t *testing.T) {
	for in, want := range map[string]bool{"": false, "a\r\nb": false, "a\rb": true, "abc\r": true, "\r\n\r\n\r": true, "\r\r\n": true} {
		if got := bareCR([]byte(in)); got != want {
			t.Errorf("bareCR(%q) = %v", in, got)
		}
	}
	for in, want := range map[string]bool{"": false, "plain ascii text, long enough": false, "1234567è": true, "è": true, "12345678901234567\x80": true} {
		if got := has8bit([]byte(in)); got != want {
			t.Errorf("has8bit(%q) = %v", in, got)
		}
	}
}

func TestGenericPTR(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	for name, generic_ := range map[string]bool{
		"mail.abc.it":                 false,
		"mailhost.abc.it":             false,
		"192-0-2-10.dsl.isp.example":  true,
		"10.2.0.192.in-addr.isp.test": true,
		"host-10.pool.isp.example":    true,
		"dynamic.isp.example":         true,
		"smtp2.example.com":           false,
	} {
		if got := generic(name, ip) != ""; got != generic_ {
			t.Errorf("generic(%q) = %v", name, got)
		}
	}
}
