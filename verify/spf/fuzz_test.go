package spf

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/testerd/testerd/dnsx"
)

// FuzzParse: no panic; an accepted record's String() parses back to the
// same String(); a rejected one says where.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"v=spf1 -all", "v=spf1 a/24//64 mx:%{d2}.example.com ~all",
		"v=spf1 include:_spf.google.com ip4:192.0.2.0/24 ip6:2001:db8::/32 ?all",
		"v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} redirect=_spf.example.com exp=%{d}.exp",
		"v=spf1 a:foo:bar/baz.example.com", "v=spf1 foo=%abc", "v=spf1 ip4:1.2.3.4/032",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if se, ok := err.(*SyntaxError); ok && se.Term != "" {
				if se.Pos < 1 || se.Pos+len(se.Term)-1 > len(s) || s[se.Pos-1:se.Pos-1+len(se.Term)] != se.Term {
					t.Fatalf("error term %q at %d is not in %q", se.Term, se.Pos, s)
				}
			}
			return
		}
		s2 := r.String()
		r2, err := Parse(s2)
		if err != nil {
			t.Fatalf("String() of %q = %q, which does not parse: %v", s, s2, err)
		}
		if s3 := r2.String(); s3 != s2 {
			t.Fatalf("round trip: %q → %q → %q", s, s2, s3)
		}
		for _, tm := range r.Terms {
			if s[tm.Pos-1:tm.Pos-1+len(tm.Raw)] != tm.Raw {
				t.Fatalf("term %q not at column %d", tm.Raw, tm.Pos)
			}
		}
	})
}

// FuzzCheck evaluates a fuzzed record, published among records that
// include and redirect back to it, and checks that the evaluation ends
// with a valid result within MaxQueries lookups.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"v=spf1 include:loop.fuzz.example -all",
		"v=spf1 mx ptr a exists:%{p}.fuzz.example ~all",
		"v=spf1 redirect=%{d}",
		"v=spf1 a:%{ir}.%{v}.%{d} mx:many.fuzz.example ptr:%{p} -all exp=%{l}.%{d}",
		"v=spf1 include:top.fuzz.example include:top.fuzz.example include:top.fuzz.example include:top.fuzz.example",
	} {
		f.Add(s, "192.0.2.1", "user@top.fuzz.example")
		f.Add(s, "2001:db8::1", "")
	}
	f.Fuzz(func(t *testing.T, record, ip, sender string) {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			addr = netip.MustParseAddr("192.0.2.1")
		}
		z := dnsx.NewZone()
		z.AddTXT("top.fuzz.example", record)
		z.AddTXT("loop.fuzz.example", "v=spf1 include:top.fuzz.example mx:many.fuzz.example redirect=top.fuzz.example")
		for i := range 12 {
			host := string(rune('a'+i)) + ".many.fuzz.example"
			z.AddMX("many.fuzz.example", uint16(i), host)
			z.AddMX("top.fuzz.example", uint16(i), host)
			z.AddIP(host, netip.MustParseAddr("198.51.100.1"))
		}
		for range 12 {
			z.AddPTR(addr, "top.fuzz.example")
		}
		z.AddIP("top.fuzz.example", addr)
		fake := dnsx.NewFake(z)
		c := &Checker{Resolver: fake}
		if !strings.Contains(sender, "@") {
			sender += "@top.fuzz.example"
		}
		ev := c.CheckHost(context.Background(), IdentityMailFrom, addr, sender, "helo.fuzz.example")
		switch ev.Result {
		case None, Neutral, Pass, Fail, SoftFail, TempError, PermError:
		default:
			t.Fatalf("result %q", ev.Result)
		}
		if n := fake.Queries(); n > MaxQueries {
			t.Fatalf("%d DNS queries, over MaxQueries %d, for %q", n, MaxQueries, record)
		}
		if ev.DNSTerms > MaxDNSTerms+1 || ev.VoidLookups > MaxVoidLookups+1 {
			t.Fatalf("counts past the limits: %d terms, %d voids", ev.DNSTerms, ev.VoidLookups)
		}
		if strings.ContainsAny(ev.ReceivedSPF("r.example"), "\r\n") {
			t.Fatal("CR or LF in Received-SPF")
		}
	})
}
