package dmarc

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
)

func TestOrgDomainAndAlignment(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"mail.abc.it", "abc.it"}, {"abc.mail.it", "mail.it"}, {"abc.it", "abc.it"},
		{"a.b.example.co.uk", "example.co.uk"}, {"Mail.ABC.it.", "abc.it"}, {"it", "it"}, {"co.uk", "co.uk"},
	} {
		if got := OrgDomain(tt.in); got != tt.want {
			t.Errorf("OrgDomain(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, tt := range []struct {
		a, b string
		mode Mode
		want bool
	}{
		{"bounce.abc.it", "abc.it", Relaxed, true},
		{"bounce.abc.it", "abc.it", Strict, false},
		{"ABC.it.", "abc.it", Strict, true},
		{"esp.net", "abc.it", Relaxed, false},
		{"abc.mail.it", "abc.it", Relaxed, false},
		{"x.example.co.uk", "y.example.co.uk", Relaxed, true},
		{"example.co.uk", "other.co.uk", Relaxed, false},
		{"", "abc.it", Relaxed, false},
	} {
		if got := Aligned(tt.a, tt.b, tt.mode); got != tt.want {
			t.Errorf("Aligned(%q, %q, %s) = %v", tt.a, tt.b, tt.mode, got)
		}
	}
}

func TestParse(t *testing.T) {
	r, err := Parse("v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=r; pct=50; rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d; rf=afrf; ri=3600")
	if err != nil {
		t.Fatal(err)
	}
	if r.P != PolicyReject || r.SP != PolicyQuarantine || r.NP != PolicyReject || r.ADKIM != Strict || r.ASPF != Relaxed ||
		r.PCT != 50 || len(r.RUA) != 2 || len(r.RUF) != 1 || r.FO != "1:d" || r.RI != 3600 {
		t.Errorf("%+v", r)
	}
	r, err = Parse("v=DMARC1;p=none")
	if err != nil || r.SP != PolicyNone || r.NP != PolicyNone || r.PCT != 100 || r.ADKIM != Relaxed || r.RI != 86400 || !hasIssue(r, "rua", "no rua") {
		t.Errorf("defaults: %+v %v", r, err)
	}

	tests := []struct {
		rec, tag, msg string
		fatal         bool
	}{
		{"v=DMARC1; p=block", "p", "no valid rua", true},
		{"v=DMARC1; rua=mailto:a@example.com", "p", "p= is missing; because rua= is valid", false},
		{"v=DMARC1; p=block; rua=mailto:a@example.com", "p", "p= is invalid", false},
		{"v=DMARC1; p=none; sp=all", "sp", "sp= is invalid", true},
		{"v=DMARC1", "p", "p= is missing", true},
		{"v=DMARC1; p=none;; rua=mailto:a@example.com", "", "empty tag", true},
		{"V=DMARC1; p=none", "v", "exactly v=DMARC1", true},
		{"v=DMARC1; p=none; adkim=x", "adkim", "not r or s", false},
		{"v=DMARC1; p=none; pct=101", "pct", "0 to 100", false},
		{"v=DMARC1; p=none; pct=-1", "pct", "0 to 100", false},
		{"v=DMARC1; p=none; rua=a@example.com", "rua", "no scheme", false},
		{"v=DMARC1; p=none; rua=mailto:not an address", "rua", "not an e-mail address", false},
		{"v=DMARC1; p=none; rua=mailto:a@example.com!10x", "rua", "size limit", false},
		{"v=DMARC1; p=none; rua=https://example.com/r", "rua", "only required to support mailto", false},
		{"v=DMARC1; p=none; fo=2", "fo", "not 0, 1, d or s", false},
		{"v=DMARC1; p=none; rf=iodef", "rf", "unknown", false},
		{"v=DMARC1; p=none; ri=day", "ri", "seconds", false},
		{"v=DMARC1; p=none; foo=bar", "foo", "unknown tag", false},
		{"v=DMARC1; p=none; p=reject", "p", "twice", true},
		{"v=DMARC1; p=none; t=y", "t", "testing", false},
	}
	for _, tt := range tests {
		r, err := Parse(tt.rec)
		if tt.fatal {
			se, ok := err.(*SyntaxError)
			if !ok || se.Tag != tt.tag || !strings.Contains(se.Reason, tt.msg) {
				t.Errorf("%q: %v, want fatal on %s containing %q", tt.rec, err, tt.tag, tt.msg)
			}
			continue
		}
		if err != nil || !hasIssue(r, tt.tag, tt.msg) {
			t.Errorf("%q: %v %+v, want issue on %s containing %q", tt.rec, err, r, tt.tag, tt.msg)
		}
	}
	for _, rec := range []string{"v=spf1 -all", "v=DMARC10; p=none", "p=none; v=DMARC1", ""} {
		if _, err := Parse(rec); err != ErrNotDMARC {
			t.Errorf("%q: %v, want ErrNotDMARC", rec, err)
		}
	}
}

func hasIssue(r *Record, tag, msg string) bool {
	for _, is := range r.Issues {
		if is.Tag == tag && strings.Contains(is.Message, msg) {
			return true
		}
	}
	return false
}

func TestDiscover(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:d@abc.it")
	z.AddIP("mail.abc.it", mustAddr("192.0.2.1"))
	z.AddTXT("_dmarc.own.abc.it", "v=DMARC1; p=none; rua=mailto:d@abc.it")
	z.AddTXT("_dmarc.two.example", "v=DMARC1; p=none", "v=DMARC1; p=reject")
	z.AddTXT("_dmarc.bad.example", "v=DMARC1; p=maybe")
	z.AddTXT("_dmarc.other.example", "some verification token")
	z.Fail("_dmarc.flaky.example", dns.TypeTXT, dnsx.ServFail)
	r := dnsx.NewFake(z)

	tests := []struct {
		from     string
		result   Result
		domain   string
		fallback bool
		queries  int
	}{
		{"abc.it", "", "abc.it", false, 1},
		{"mail.abc.it", "", "abc.it", true, 2},
		{"own.abc.it", "", "own.abc.it", false, 1},
		{"two.example", PermError, "two.example", false, 1},
		{"bad.example", PermError, "bad.example", false, 1},
		{"other.example", None, "", false, 1},
		{"sub.other.example", None, "", false, 2},
		{"flaky.example", TempError, "", false, 1},
		{"nothing.example", None, "", false, 1},
	}
	for _, tt := range tests {
		d := Discover(context.Background(), r, tt.from)
		if d.Result != tt.result || d.Domain != tt.domain || d.Fallback != tt.fallback || len(d.Queries) != tt.queries {
			t.Errorf("%s: %+v", tt.from, d)
		}
	}

	// Policies: p for the domain, sp for an existing subdomain, np for
	// one that does not exist.
	for _, tt := range []struct {
		from, tag string
		pol       Policy
	}{{"abc.it", "p", PolicyReject}, {"mail.abc.it", "sp", PolicyQuarantine}, {"ghost.abc.it", "np", PolicyReject}} {
		e := Evaluate(context.Background(), r, Input{FromDomain: tt.from, SPFDomain: "esp.net", SPFPass: true})
		if e.Result != Fail || e.PolicyTag != tt.tag || e.Disposition != tt.pol {
			t.Errorf("%s: %s %s=%s → %s (%s)", tt.from, e.Result, e.PolicyTag, e.Policy, e.Disposition, e.PolicyNote)
		}
	}
}

func TestEvaluate(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=quarantine; pct=25; rua=mailto:d@abc.it")
	z.AddTXT("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:d@strict.example")
	z.Fail("_dmarc.flaky.example", dns.TypeTXT, dnsx.Timeout)
	r := dnsx.NewFake(z)
	tests := []struct {
		name string
		in   Input
		want Result
		spf  bool
		dkim bool
		note string
	}{
		{"spf aligned", Input{FromDomain: "abc.it", SPFDomain: "bounce.abc.it", SPFPass: true}, Pass, true, false, "does not come into play"},
		{"dkim aligned", Input{FromDomain: "abc.it", SPFDomain: "esp.net", SPFPass: true, DKIM: []DKIMInput{{"esp.net", true}, {"abc.it", true}}}, Pass, false, true, ""},
		{"aligned but failing", Input{FromDomain: "abc.it", SPFDomain: "abc.it", DKIM: []DKIMInput{{"abc.it", false}}}, Fail, false, false, "25% of failing messages get quarantine, the rest none"},
		{"strict", Input{FromDomain: "strict.example", SPFDomain: "mail.strict.example", SPFPass: true, DKIM: []DKIMInput{{"mail.strict.example", true}}}, Fail, false, false, "p=reject"},
		{"no record", Input{FromDomain: "norecord.example", SPFDomain: "esp.net", SPFPass: true}, None, false, false, "no DMARC policy"},
		{"no record, aligned", Input{FromDomain: "norecord.example", SPFDomain: "norecord.example", SPFPass: true}, Pass, true, false, ""},
		{"temperror", Input{FromDomain: "flaky.example", SPFDomain: "esp.net", SPFPass: true}, TempError, false, false, ""},
		{"no From domain", Input{FromProblem: "the message has no From header", SPFDomain: "abc.it", SPFPass: true}, None, false, false, ""},
	}
	for _, tt := range tests {
		e := Evaluate(context.Background(), r, tt.in)
		if e.Result != tt.want || e.SPFAligned != tt.spf || e.DKIMAligned != tt.dkim || !strings.Contains(e.PolicyNote, tt.note) {
			t.Errorf("%s: %s (%s) spf=%v dkim=%v note=%q", tt.name, e.Result, e.Reason, e.SPFAligned, e.DKIMAligned, e.PolicyNote)
		}
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
