package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func testZone(t *testing.T) *Zone {
	t.Helper()
	z := NewZone()
	z.AddTXT("example.com", "v=spf1 ", "ip4:192.0.2.0/24 -all")
	z.AddTXT("example.com", "other \"quoted\" \\ \r\x00 caf\xc3\xa9")
	z.AddIP("example.com", netip.MustParseAddr("192.0.2.1"))
	z.AddIP("example.com", netip.MustParseAddr("2001:db8::1"))
	z.AddMX("example.com", 20, "mx2.example.com")
	z.AddMX("example.com", 10, "mx1.example.com")
	z.AddPTR(netip.MustParseAddr("192.0.2.1"), "host.example.com")
	z.AddPTR(netip.MustParseAddr("2001:db8::1"), "host6.example.com")
	z.AddCNAME("alias.example.com", "example.com")
	for i := range 40 { // far over 1232 octets: truncated over UDP
		z.AddTXT("big.example.com", fmt.Sprintf("%02d-%s", i, strings.Repeat("x", 60)))
	}
	if err := z.Add(`zf.example.com. 60 IN TXT "from" " zone file"`); err != nil {
		t.Fatal(err)
	}
	z.Fail("servfail.example.com", 0, ServFail)
	z.Fail("timeout.example.com", 0, Timeout)
	z.Fail("txttimeout.example.com", dns.TypeTXT, Timeout)
	z.AddIP("txttimeout.example.com", netip.MustParseAddr("192.0.2.9"))
	return z
}

// resolvers returns the Fake and the real Client talking to a Server, both
// over the same zone: every expectation must hold for both.
func resolvers(t *testing.T) map[string]Resolver {
	z := testZone(t)
	srv, err := StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := NewClient(srv.Addr(), 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]Resolver{"fake": NewFake(z), "client": c}
}

func TestResolvers(t *testing.T) {
	for name, r := range resolvers(t) {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			txt, err := r.LookupTXT(ctx, "Example.COM.")
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(txt)
			want := []string{"other \"quoted\" \\ \r\x00 caf\xc3\xa9", "v=spf1 ip4:192.0.2.0/24 -all"}
			if !slices.Equal(txt, want) {
				t.Errorf("TXT = %q, want %q", txt, want)
			}
			if txt, err := r.LookupTXT(ctx, "zf.example.com"); err != nil || len(txt) != 1 || txt[0] != "from zone file" {
				t.Errorf("zone-file TXT = %q, %v", txt, err)
			}
			if txt, err := r.LookupTXT(ctx, "big.example.com"); err != nil || len(txt) != 40 {
				t.Errorf("big TXT: %d records, %v", len(txt), err)
			}
			ips, err := r.LookupIP(ctx, "ip4", "alias.example.com")
			if err != nil || len(ips) != 1 || ips[0] != netip.MustParseAddr("192.0.2.1") {
				t.Errorf("A via CNAME = %v, %v", ips, err)
			}
			ips, err = r.LookupIP(ctx, "ip6", "example.com")
			if err != nil || len(ips) != 1 || ips[0] != netip.MustParseAddr("2001:db8::1") {
				t.Errorf("AAAA = %v, %v", ips, err)
			}
			mx, err := r.LookupMX(ctx, "example.com")
			if err != nil || len(mx) != 2 || mx[0].Host != "mx1.example.com." || mx[0].Pref != 10 {
				t.Errorf("MX = %v, %v", mx, err)
			}
			for addr, host := range map[string]string{"192.0.2.1": "host.example.com.", "2001:db8::1": "host6.example.com."} {
				ptr, err := r.LookupAddr(ctx, netip.MustParseAddr(addr))
				if err != nil || len(ptr) != 1 || ptr[0] != host {
					t.Errorf("PTR %s = %v, %v", addr, ptr, err)
				}
			}

			for _, tc := range []struct {
				name     string
				lookup   func() error
				sentinel error
			}{
				{"nxdomain", func() error { _, err := r.LookupTXT(ctx, "nope.example.com"); return err }, ErrNXDomain},
				{"nodata", func() error { _, err := r.LookupMX(ctx, "mx1.example.com.invalid-absent"); return err }, ErrNXDomain},
				{"nodata-mx", func() error { _, err := r.LookupMX(ctx, "alias.example.com"); return nil2(err, "MX via CNAME") }, nil},
				{"nodata-a", func() error { _, err := r.LookupIP(ctx, "ip4", "zf.example.com"); return err }, ErrNoData},
				{"servfail", func() error { _, err := r.LookupTXT(ctx, "servfail.example.com"); return err }, ErrServFail},
				{"timeout", func() error { _, err := r.LookupTXT(ctx, "timeout.example.com"); return err }, ErrTimeout},
				{"type-timeout", func() error { _, err := r.LookupTXT(ctx, "txttimeout.example.com"); return err }, ErrTimeout},
				{"type-timeout-other-ok", func() error { _, err := r.LookupIP(ctx, "ip4", "txttimeout.example.com"); return err }, nil},
				{"badname", func() error { _, err := r.LookupTXT(ctx, "a..b"); return err }, ErrBadName},
				{"toolong", func() error { _, err := r.LookupTXT(ctx, strings.Repeat("a", 64)+".com"); return err }, ErrBadName},
			} {
				err := tc.lookup()
				if tc.sentinel == nil {
					if err != nil {
						t.Errorf("%s: %v", tc.name, err)
					}
					continue
				}
				if !errors.Is(err, tc.sentinel) {
					t.Errorf("%s: err = %v, want %v", tc.name, err, tc.sentinel)
				}
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := r.LookupTXT(cctx, "example.com"); KindOf(err) != Timeout {
				t.Errorf("cancelled ctx: err = %v, want timeout kind", err)
			}
		})
	}
}

func nil2(err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

func TestClientTCPFallback(t *testing.T) {
	z := testZone(t)
	srv, err := StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := NewClient(srv.Addr(), time.Second)
	if _, err := c.LookupTXT(t.Context(), "example.com"); err != nil {
		t.Fatal(err)
	}
	if n := srv.TCPQueries(); n != 0 {
		t.Errorf("small answer went over TCP %d times", n)
	}
	if _, err := c.LookupTXT(t.Context(), "big.example.com"); err != nil {
		t.Fatal(err)
	}
	if n := srv.TCPQueries(); n != 1 {
		t.Errorf("truncated answer: %d TCP queries, want 1", n)
	}
}

func TestIsNotFound(t *testing.T) {
	for _, k := range []Kind{NXDomain, NoData} {
		if !IsNotFound(&Error{Kind: k}) {
			t.Errorf("%v not a void answer", k)
		}
	}
	for _, k := range []Kind{ServFail, Timeout, BadName} {
		if IsNotFound(&Error{Kind: k}) {
			t.Errorf("%v taken as a void answer", k)
		}
	}
	if KindOf(context.DeadlineExceeded) != Timeout || KindOf(nil) != 0 {
		t.Error("KindOf")
	}
}

func TestTXTEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b\c`, "\x00\x01\xff\r\n", "café"} {
		if got := UnescapeTXT(EscapeTXT(s)); got != s {
			t.Errorf("round trip %q = %q", s, got)
		}
	}
}

func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{
		"example.com": true, "example.com.": true, "": false, ".": false, "a..b": false,
		strings.Repeat("a", 63) + ".com": true, strings.Repeat("a", 64) + ".com": false,
		strings.Repeat("abcdefg.", 32) + "com": false,
	} {
		if err := CheckName(name); (err == nil) != ok {
			t.Errorf("CheckName(%q) = %v", name, err)
		}
	}
}

// hostile serves answers a well-behaved server would not send.
func hostile(t *testing.T, h dns.HandlerFunc) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: h}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestClientHostileServer(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    dns.HandlerFunc
		want error
	}{
		{"refused", func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetRcode(r, dns.RcodeRefused)
			w.WriteMsg(m)
		}, ErrRefused},
		{"other question", func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Question[0].Name = "evil.example."
			m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "evil.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{"v=spf1 +all"}}}
			w.WriteMsg(m)
		}, ErrServFail},
		{"answer for another name", func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: "evil.example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{"v=spf1 +all"}}}
			w.WriteMsg(m)
		}, ErrNoData},
		{"silent", func(w dns.ResponseWriter, r *dns.Msg) {}, ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := NewClient(hostile(t, tc.h), 200*time.Millisecond)
			txt, err := c.LookupTXT(t.Context(), "example.com")
			if !errors.Is(err, tc.want) {
				t.Errorf("got %q, %v; want %v", txt, err, tc.want)
			}
		})
	}
}
