package spf

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
)

// appendixA is the zone of RFC 7208 Appendix A.
func appendixA(t testing.TB) *dnsx.Zone {
	z := dnsx.NewZone()
	err := z.Add(
		"example.com. MX 10 mail-a.example.com.",
		"example.com. MX 20 mail-b.example.com.",
		"example.com. A 192.0.2.10",
		"amy.example.com. A 192.0.2.65",
		"bob.example.com. A 192.0.2.66",
		"mail-a.example.com. A 192.0.2.129",
		"mail-b.example.com. A 192.0.2.130",
		"www.example.com. CNAME example.com.",
		"mail-c.example.org. A 192.0.2.140",
		"example.org. MX 10 mail-c.example.org.",
		"10.2.0.192.in-addr.arpa. PTR example.com.",
		"65.2.0.192.in-addr.arpa. PTR amy.example.com.",
		"66.2.0.192.in-addr.arpa. PTR bob.example.com.",
		"129.2.0.192.in-addr.arpa. PTR mail-a.example.com.",
		"130.2.0.192.in-addr.arpa. PTR mail-b.example.com.",
		"140.2.0.192.in-addr.arpa. PTR mail-c.example.org.",
		"10.0.0.10.in-addr.arpa. PTR bob.example.com.",
	)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func checker(z *dnsx.Zone) *Checker {
	return &Checker{Resolver: dnsx.NewFake(z), Receiver: "tester.example"}
}

func mailFrom(t testing.TB, c *Checker, ip, from string) *Evaluation {
	t.Helper()
	return c.CheckHost(context.Background(), IdentityMailFrom, netip.MustParseAddr(ip), from, "helo.example.net")
}

// TestAppendixA runs the RFC 7208 Appendix A.1 record examples: each record
// is published at example.com, and exactly the listed hosts pass.
func TestAppendixA1(t *testing.T) {
	hosts := []string{"192.0.2.10", "192.0.2.65", "192.0.2.66", "192.0.2.129", "192.0.2.130",
		"192.0.2.131", "192.0.2.140", "192.0.2.143", "192.0.2.200", "10.0.0.10"}
	for _, tc := range []struct {
		record string
		pass   []string
	}{
		{"v=spf1 +all", hosts},
		{"v=spf1 a -all", []string{"192.0.2.10"}},
		{"v=spf1 a:example.org -all", nil},
		{"v=spf1 mx -all", []string{"192.0.2.129", "192.0.2.130"}},
		{"v=spf1 mx:example.org -all", []string{"192.0.2.140"}},
		{"v=spf1 mx mx:example.org -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.140"}},
		{"v=spf1 mx/30 mx:example.org/30 -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.131", "192.0.2.140", "192.0.2.143"}},
		{"v=spf1 ptr -all", []string{"192.0.2.10", "192.0.2.65", "192.0.2.66", "192.0.2.129", "192.0.2.130"}},
		{"v=spf1 ip4:192.0.2.128/28 -all", []string{"192.0.2.129", "192.0.2.130", "192.0.2.131", "192.0.2.140", "192.0.2.143"}},
	} {
		z := appendixA(t)
		z.AddTXT("example.com", tc.record)
		c := checker(z)
		for _, h := range hosts {
			want := Fail
			for _, p := range tc.pass {
				if p == h {
					want = Pass
				}
			}
			if tc.record == "v=spf1 +all" {
				want = Pass
			}
			if ev := mailFrom(t, c, h, "user@example.com"); ev.Result != want {
				t.Errorf("%q from %s: %s, want %s (%s)", tc.record, h, ev.Result, want, ev.Reason)
			}
		}
	}
}

// TestAppendixA2to4 covers the multiple-domain, DNSBL-style and
// multiple-requirement examples of Appendix A.2 to A.4.
func TestAppendixA2to4(t *testing.T) {
	z := appendixA(t)
	// A.2
	z.AddTXT("example.org", "v=spf1 include:example.com include:example.net -all")
	z.AddTXT("la.example.org", "v=spf1 redirect=example.org")
	z.AddTXT("example.com", "v=spf1 mx include:mobile-users._spf.%{d} include:remote-users._spf.%{d} -all")
	z.AddTXT("example.net", "v=spf1 ip4:198.51.100.0/24 -all")
	// A.3
	z.AddTXT("mobile-users._spf.example.com", "v=spf1 exists:%{l1r+}.%{d}")
	z.AddTXT("remote-users._spf.example.com", "v=spf1 exists:%{ir}.%{l1r+}.%{d}")
	z.Add("mary.mobile-users._spf.example.com. A 127.0.0.2",
		"fred.mobile-users._spf.example.com. A 127.0.0.2",
		"15.15.168.192.joel.remote-users._spf.example.com. A 127.0.0.2",
		"16.15.168.192.joel.remote-users._spf.example.com. A 127.0.0.2")
	// A.4
	z.AddTXT("bl.example", "v=spf1 -include:ip4._spf.%{d} -include:ptr._spf.%{d} +all")
	z.AddTXT("ip4._spf.bl.example", "v=spf1 -ip4:192.0.2.0/24 +all")
	z.AddTXT("ptr._spf.bl.example", "v=spf1 -ptr:example.com +all")
	c := checker(z)
	for _, tc := range []struct {
		ip, from string
		want     Result
		path     string // the match path, terms joined by " > "
	}{
		{"192.0.2.129", "a@la.example.org", Pass, "redirect=example.org > include:example.com > mx"},
		{"198.51.100.7", "a@la.example.org", Pass, "redirect=example.org > include:example.net > ip4:198.51.100.0/24"},
		{"203.0.113.1", "a@la.example.org", Fail, "redirect=example.org > -all"},
		{"203.0.113.1", "mary@example.com", Pass, "include:mobile-users._spf.%{d} > exists:%{l1r+}.%{d}"},
		{"203.0.113.1", "mary+travel@example.com", Pass, "include:mobile-users._spf.%{d} > exists:%{l1r+}.%{d}"},
		{"192.168.15.15", "joel@example.com", Pass, "include:remote-users._spf.%{d} > exists:%{ir}.%{l1r+}.%{d}"},
		{"192.168.15.17", "joel@example.com", Fail, "-all"},
		{"203.0.113.1", "bob@example.com", Fail, "-all"},
		// A.4: only hosts in 192.0.2.0/24 whose validated PTR name is in
		// example.com pass.
		{"192.0.2.10", "x@bl.example", Pass, "+all"},
		{"192.0.2.200", "x@bl.example", Fail, "-include:ptr._spf.%{d} > +all"},
		{"10.0.0.1", "x@bl.example", Fail, "-include:ip4._spf.%{d} > +all"},
	} {
		ev := mailFrom(t, c, tc.ip, tc.from)
		var path []string
		for _, r := range ev.MatchPath {
			path = append(path, r.Term)
		}
		if ev.Result != tc.want || strings.Join(path, " > ") != tc.path {
			t.Errorf("%s from %s: %s via %q, want %s via %q (%s)", tc.from, tc.ip, ev.Result, strings.Join(path, " > "), tc.want, tc.path, ev.Reason)
		}
	}
}

func TestTraceAndCounts(t *testing.T) {
	z := appendixA(t)
	z.AddTXT("example.com", "v=spf1 ip4:203.0.113.0/24 include:_spf.example.net a:nx.example.com mx -all")
	z.AddTXT("_spf.example.net", "v=spf1 ip4:198.51.100.0/24 ~all")
	ev := mailFrom(t, checker(z), "192.0.2.130", "user@example.com")
	if ev.Result != Pass || ev.Matched != "mx" {
		t.Fatalf("result %s matched %q: %s", ev.Result, ev.Matched, ev.Reason)
	}
	if ev.DNSTerms != 3 || ev.VoidLookups != 1 || ev.DNSTermsLimit != 10 || ev.VoidLookupsLimit != 2 {
		t.Errorf("counts: %d/%d terms, %d/%d voids", ev.DNSTerms, ev.DNSTermsLimit, ev.VoidLookups, ev.VoidLookupsLimit)
	}
	tr := ev.Trace
	if tr.Query == nil || tr.Query.Type != "TXT" || tr.Record != ev.Record || len(tr.Steps) != 4 {
		t.Fatalf("trace root = %+v", tr)
	}
	inc := tr.Steps[1]
	if inc.Count != 1 || inc.Sub == nil || inc.Sub.Domain != "_spf.example.net" || inc.Sub.Result != SoftFail || inc.Match {
		t.Errorf("include step = %+v", inc)
	}
	a := tr.Steps[2]
	if len(a.Queries) != 1 || a.Queries[0].Error != "NXDOMAIN" || !a.Queries[0].Void || a.Target != "nx.example.com" {
		t.Errorf("a step = %+v", a)
	}
	mx := tr.Steps[3]
	if !mx.Match || len(mx.Queries) != 3 || mx.Queries[0].Type != "MX" || mx.Queries[2].Answers[0] != "192.0.2.130" {
		t.Errorf("mx step = %+v", mx)
	}
	if _, err := json.Marshal(ev); err != nil {
		t.Error(err)
	}
	if !strings.Contains(i18n.EN.Say(ev.Reason), `"mx"`) {
		t.Errorf("reason %q does not name the term", ev.Reason)
	}
}

func TestProblems(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("late.example", "v=spf1 +all moo")
	z.AddTXT("two.example", "v=spf1 -all")
	z.AddTXT("two.example", "v=spf1 +all")
	var chain []string
	for i := range 11 {
		chain = append(chain, "a:h"+string(rune('a'+i))+".limit.example")
		z.AddIP("h"+string(rune('a'+i))+".limit.example", netip.MustParseAddr("198.51.100.1"))
	}
	z.AddTXT("limit.example", "v=spf1 "+strings.Join(chain, " ")+" -all")
	z.AddTXT("voids.example", "v=spf1 a:n1.voids.example a:n2.voids.example a:n3.voids.example -all")
	z.AddTXT("loop.example", "v=spf1 include:loop.example -all")
	z.AddTXT("inc-none.example", "v=spf1 include:norecord.example -all")
	z.AddTXT("srvfail.example", "v=spf1 a:broken.example -all")
	z.Fail("broken.example", 0, dnsx.ServFail)
	for i := range 11 {
		z.AddMX("manymx.example", uint16(i), "mx"+string(rune('a'+i))+".manymx.example")
	}
	z.AddTXT("manymx.example", "v=spf1 mx -all")
	c := checker(z)
	for _, tc := range []struct {
		domain string
		want   Result
		err    error
		term   string
		col    int
	}{
		{"late.example", PermError, ErrSyntax, "moo", 13},
		{"two.example", PermError, ErrMultipleRecords, "", 0},
		{"limit.example", PermError, ErrLookupLimit, "a:hk.limit.example", 198},
		{"voids.example", PermError, ErrVoidLimit, "a:n3.voids.example", 46},
		{"loop.example", PermError, ErrLookupLimit, "include:loop.example", 8},
		{"inc-none.example", PermError, ErrNoTargetRecord, "include:norecord.example", 8},
		{"srvfail.example", TempError, ErrDNS, "a:broken.example", 8},
		{"manymx.example", PermError, ErrMXLimit, "mx", 8},
	} {
		ev := mailFrom(t, c, "192.0.2.1", "x@"+tc.domain)
		if ev.Result != tc.want || ev.Problem == nil {
			t.Errorf("%s: %s, problem %+v", tc.domain, ev.Result, ev.Problem)
			continue
		}
		p := ev.Problem
		if !errors.Is(p.Err, tc.err) || p.Term != tc.term || p.Column != tc.col {
			t.Errorf("%s: problem %+v (%v), want %v at %q col %d", tc.domain, p, p.Err, tc.err, tc.term, tc.col)
		}
		if !strings.Contains(i18n.EN.Say(ev.Reason), i18n.EN.Say(p.Reason)) {
			t.Errorf("%s: reason %q lacks the problem", tc.domain, ev.Reason)
		}
	}
}

// slowResolver answers nothing until ctx is done.
type slowResolver struct{}

func (slowResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	<-ctx.Done()
	return nil, &dnsx.Error{Name: name, Type: "TXT", Kind: dnsx.Timeout}
}
func (slowResolver) LookupIP(ctx context.Context, _, name string) ([]netip.Addr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (slowResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (slowResolver) LookupAddr(ctx context.Context, _ netip.Addr) ([]string, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func TestDeadline(t *testing.T) {
	c := &Checker{Resolver: slowResolver{}, Timeout: 20 * time.Millisecond}
	ev := c.CheckHost(t.Context(), IdentityMailFrom, netip.MustParseAddr("192.0.2.1"), "a@example.com", "")
	if ev.Result != TempError || ev.Problem == nil || !errors.Is(ev.Problem.Err, ErrDeadline) {
		t.Errorf("got %s, problem %+v", ev.Result, ev.Problem)
	}
}

func TestIdentities(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("example.com", "v=spf1 ip4:192.0.2.1 -all")
	z.AddTXT("mx.example.net", "v=spf1 a -all")
	z.AddIP("mx.example.net", netip.MustParseAddr("192.0.2.1"))
	c := checker(z)
	ip := netip.MustParseAddr("::ffff:192.0.2.1")

	o := c.Check(t.Context(), Params{IP: ip, Helo: "mx.example.net", MailFrom: "a@example.com"})
	if o.MailFrom == nil || o.Helo == nil || o.Effective() != o.MailFrom {
		t.Fatalf("outcome %+v", o)
	}
	if o.MailFrom.Result != Pass || o.Helo.Result != Pass || o.Helo.Identity != IdentityHelo || o.Helo.Sender != "postmaster@mx.example.net" {
		t.Errorf("mailfrom %s, helo %s %s %s", o.MailFrom.Result, o.Helo.Result, o.Helo.Identity, o.Helo.Sender)
	}
	if o.MailFrom.IP != netip.MustParseAddr("192.0.2.1") {
		t.Errorf("IPv4-mapped client not normalised: %s", o.MailFrom.IP)
	}

	// Null MAIL FROM: the HELO result is the one that counts (§2.4).
	o = c.Check(t.Context(), Params{IP: ip, Helo: "mx.example.net"})
	if o.MailFrom != nil || o.Effective() != o.Helo || o.Effective().Result != Pass {
		t.Errorf("null MAIL FROM: %+v", o)
	}
	// No local part: postmaster (§4.3).
	if ev := mailFrom(t, c, "192.0.2.9", "@example.com"); ev.Sender != "postmaster@example.com" || ev.Result != Fail {
		t.Errorf("empty local part: %s %s", ev.Sender, ev.Result)
	}
	// A domain that cannot be checked gives none without any lookup.
	for _, d := range []string{"a@[192.0.2.1]", "a@localhost", "a@a..b.example", "a@" + strings.Repeat("x", 64) + ".example", strings.Repeat("x", 600) + "@example.com"} {
		if ev := mailFrom(t, c, "192.0.2.1", d); ev.Result != None || ev.Trace.Query != nil {
			t.Errorf("%s: %s", d, ev.Result)
		}
	}
}

func TestExplanation(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("example.com", "v=spf1 -all exp=why.%{d}")
	z.AddTXT("why.example.com", "%{i} may not send for %{d} (see https://example.com/spf?s=%{S})")
	z.AddTXT("plain.example", "v=spf1 -all")
	z.AddTXT("soft.example", "v=spf1 ~all exp=why.example.com")
	c := checker(z)
	if ev := mailFrom(t, c, "192.0.2.1", "a+b@example.com"); ev.Explanation != "192.0.2.1 may not send for example.com (see https://example.com/spf?s=a%2Bb%40example.com)" {
		t.Errorf("explanation %q", ev.Explanation)
	}
	if ev := mailFrom(t, c, "192.0.2.1", "a@plain.example"); ev.Explanation != "plain.example does not designate 192.0.2.1 as a permitted sender of mail for a@plain.example" {
		t.Errorf("default explanation %q", ev.Explanation)
	}
	if ev := mailFrom(t, c, "192.0.2.1", "a@soft.example"); ev.Explanation != "" {
		t.Errorf("softfail got an explanation %q", ev.Explanation)
	}
}

func TestHeaders(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("example.com", "v=spf1 ip4:192.0.2.0/24 -all")
	c := checker(z)
	ev := c.CheckHost(t.Context(), IdentityMailFrom, netip.MustParseAddr("192.0.2.1"), "a@example.com", "evil\r\nX-Injected: 1")
	h := ev.ReceivedSPF("tester.example")
	const want = `pass (tester.example: domain of a@example.com designates 192.0.2.1 as permitted sender) client-ip=192.0.2.1; envelope-from="a@example.com"; helo="evil??X-Injected: 1"; receiver=tester.example; identity=mailfrom; mechanism="ip4:192.0.2.0/24"`
	if h != want {
		t.Errorf("Received-SPF:\n got %s\nwant %s", h, want)
	}
	if ar := ev.AuthResultsPart(); ar != "spf=pass smtp.mailfrom=a@example.com" {
		t.Errorf("Authentication-Results part %q", ar)
	}
	ev = c.CheckHost(t.Context(), IdentityHelo, netip.MustParseAddr("192.0.2.1"), "mx.example.com", "mx.example.com")
	if ar := ev.AuthResultsPart(); ar != "spf=none smtp.helo=mx.example.com" {
		t.Errorf("Authentication-Results part %q", ar)
	}
	if h := ev.ReceivedSPF("tester.example"); strings.ContainsAny(h, "\r\n") || !strings.HasPrefix(h, "none (") {
		t.Errorf("Received-SPF %q", h)
	}
}

// A macro-built include target may hold any octet a local part has.
func TestIncludeTargetFromLocalPart(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("users.example", "v=spf1 include:%{l}.%{d} -all")
	z.AddTXT("mary+travel.users.example", "v=spf1 ip4:192.0.2.1 -all")
	ev := mailFrom(t, checker(z), "192.0.2.1", "mary+travel@users.example")
	if ev.Result != Pass || len(ev.MatchPath) != 2 || ev.MatchPath[1].Domain != "mary+travel.users.example" {
		t.Errorf("%s %+v: %s", ev.Result, ev.MatchPath, ev.Reason)
	}
}
