package spf

import (
	"net/netip"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
)

// TestEndToEndDNS evaluates through the production dnsx.Client talking to
// a real DNS server on loopback.
func TestEndToEndDNS(t *testing.T) {
	z := appendixA(t)
	z.AddTXT("example.com", "v=spf1 include:_spf.example.net a mx -all")
	z.AddTXT("_spf.example.net", "v=spf1 ip6:2001:db8::/32 ~all")
	z.AddTXT("slow.example", "v=spf1 a:hang.example -all")
	z.Fail("hang.example", 0, dnsx.Timeout)
	srv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client, err := dnsx.NewClient(srv.Addr(), 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c := &Checker{Resolver: client}
	for _, tc := range []struct {
		ip, from string
		want     Result
		matched  string
	}{
		{"2001:db8::25", "a@example.com", Pass, "include:_spf.example.net"},
		{"192.0.2.10", "a@example.com", Pass, "a"},
		// www.example.com is a CNAME to example.com: its TXT lookup
		// finds example.com's record.
		{"192.0.2.130", "a@www.example.com", Pass, "mx"},
		{"192.0.2.130", "a@example.com", Pass, "mx"},
		{"198.51.100.1", "a@example.com", Fail, "-all"},
		{"198.51.100.1", "a@slow.example", TempError, ""},
	} {
		ev := c.CheckHost(t.Context(), IdentityMailFrom, netip.MustParseAddr(tc.ip), tc.from, "h.example")
		if ev.Result != tc.want || ev.Matched != tc.matched {
			t.Errorf("%s from %s: %s %q, want %s %q (%s)", tc.from, tc.ip, ev.Result, ev.Matched, tc.want, tc.matched, ev.Reason)
		}
	}
	if srv.Queries() == 0 {
		t.Error("the DNS server saw no query")
	}
}
