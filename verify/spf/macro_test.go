package spf

import (
	"net/netip"
	"strings"
	"testing"
)

// TestMacroRFC7208Examples is the table of RFC 7208 §7.4.
func TestMacroRFC7208Examples(t *testing.T) {
	env := func(ip string) *macroEnv {
		return &macroEnv{
			sender: "strong-bad@email.example.com", local: "strong-bad", domain: "email.example.com",
			current: "email.example.com", ip: netip.MustParseAddr(ip), helo: "mx.example.org",
			receiver: "tester.example", now: 1700000000,
			ptr: func(string) string { return "mx.example.org" },
		}
	}
	for _, tc := range []struct{ in, ip, want string }{
		{"%{s}", "192.0.2.3", "strong-bad@email.example.com"},
		{"%{o}", "192.0.2.3", "email.example.com"},
		{"%{d}", "192.0.2.3", "email.example.com"},
		{"%{d4}", "192.0.2.3", "email.example.com"},
		{"%{d3}", "192.0.2.3", "email.example.com"},
		{"%{d2}", "192.0.2.3", "example.com"},
		{"%{d1}", "192.0.2.3", "com"},
		{"%{dr}", "192.0.2.3", "com.example.email"},
		{"%{d2r}", "192.0.2.3", "example.email"},
		{"%{l}", "192.0.2.3", "strong-bad"},
		{"%{l-}", "192.0.2.3", "strong.bad"},
		{"%{lr}", "192.0.2.3", "strong-bad"},
		{"%{lr-}", "192.0.2.3", "bad.strong"},
		{"%{l1r-}", "192.0.2.3", "strong"},
		{"%{ir}.%{v}._spf.%{d2}", "192.0.2.3", "3.2.0.192.in-addr._spf.example.com"},
		{"%{lr-}.lp._spf.%{d2}", "192.0.2.3", "bad.strong.lp._spf.example.com"},
		{"%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "192.0.2.3", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"},
		{"%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "192.0.2.3", "3.2.0.192.in-addr.strong.lp._spf.example.com"},
		{"%{d2}.trusted-domains.example.net", "192.0.2.3", "example.com.trusted-domains.example.net"},
		{"%{ir}.%{v}._spf.%{d2}", "2001:db8::cb01", "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"},
		// The other letters, escapes and URL encoding (§7.2, §7.3).
		{"%{p}", "192.0.2.3", "mx.example.org"},
		{"%{h}", "192.0.2.3", "mx.example.org"},
		{"%{c}", "2001:db8::cb01", "2001:db8::cb01"},
		{"%{c}", "192.0.2.3", "192.0.2.3"},
		{"%{r}", "192.0.2.3", "tester.example"},
		{"%{t}", "192.0.2.3", "1700000000"},
		{"%{v}", "2001:db8::cb01", "ip6"},
		{"%{S}", "192.0.2.3", "strong-bad%40email.example.com"},
		{"%{L}", "192.0.2.3", "strong-bad"},
		{"100%% %_ %-", "192.0.2.3", "100%   %20"},
		{"%{d99}", "192.0.2.3", "email.example.com"},
		{"%{l+-}", "192.0.2.3", "strong.bad"},
	} {
		m, reason := parseMacroString(tc.in, true, true)
		if !reason.IsZero() {
			t.Errorf("%q: %s", tc.in, reason)
			continue
		}
		got := m.expand(env(tc.ip))
		// DNS names are case-insensitive, and §7.4 writes IPv6 nibbles in
		// lowercase where we follow pyspf's uppercase (see dottedIP).
		if !strings.EqualFold(got, tc.want) {
			t.Errorf("%q (ip %s) = %q, want %q", tc.in, tc.ip, got, tc.want)
		}
		if m.String() != tc.in {
			t.Errorf("%q: String() = %q", tc.in, m.String())
		}
	}
}

func TestMacroSyntax(t *testing.T) {
	for _, s := range []string{"%", "%x", "%{", "%{}", "%{q}", "%{d0}", "%{d!}", "%{dr2}", "a\x01b"} {
		if _, reason := parseMacroString(s, true, true); reason.IsZero() {
			t.Errorf("parseMacroString(%q) accepted", s)
		}
	}
	for _, s := range []string{"%{c}", "%{r}", "%{t}", "%{C}"} {
		if _, reason := parseMacroString(s, false, false); reason.IsZero() {
			t.Errorf("%q accepted outside exp text", s)
		}
	}
	if _, reason := parseMacroString("a b", false, false); reason.IsZero() {
		t.Error("space accepted outside exp text")
	}
}
