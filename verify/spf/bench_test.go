package spf

import (
	"context"
	"net/netip"
	"testing"

	"github.com/testerd/testerd/dnsx"
)

// BenchmarkCheck evaluates a record with include, a and mx through the
// fake resolver; the client matches on the last address of the last MX
// host, so every term is tried and traced.
func BenchmarkCheck(b *testing.B) {
	z := dnsx.NewZone()
	z.AddTXT("example.com", "v=spf1 include:_spf.example.net a mx -all")
	z.AddTXT("_spf.example.net", "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 ~all")
	z.AddIP("example.com", netip.MustParseAddr("192.0.2.10"))
	z.AddMX("example.com", 10, "mx1.example.com")
	z.AddMX("example.com", 20, "mx2.example.com")
	z.AddIP("mx1.example.com", netip.MustParseAddr("192.0.2.20"))
	z.AddIP("mx2.example.com", netip.MustParseAddr("192.0.2.30"))
	c := &Checker{Resolver: dnsx.NewFake(z)}
	ip := netip.MustParseAddr("192.0.2.30")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ev := c.CheckHost(ctx, IdentityMailFrom, ip, "user@example.com", "mx.example.org")
		if ev.Result != Pass {
			b.Fatal(ev.Result)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	const rec = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.example.net a mx:%{d2} exists:%{ir}.%{v}._spf.%{d} redirect=_spf.example.org"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(rec); err != nil {
			b.Fatal(err)
		}
	}
}
