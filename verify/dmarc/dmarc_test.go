package dmarc

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
)

func TestPSLOrgDomainAndAlignment(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"mail.abc.it", "abc.it"}, {"abc.mail.it", "mail.it"}, {"abc.it", "abc.it"},
		{"a.b.example.co.uk", "example.co.uk"}, {"Mail.ABC.it.", "abc.it"}, {"it", "it"}, {"co.uk", "co.uk"},
	} {
		if got := PSLOrgDomain(tt.in); got != tt.want {
			t.Errorf("PSLOrgDomain(%q) = %q, want %q", tt.in, got, tt.want)
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
		if got := PSLAligned(tt.a, tt.b, tt.mode); got != tt.want {
			t.Errorf("PSLAligned(%q, %q, %s) = %v", tt.a, tt.b, tt.mode, got)
		}
		// With no DMARC record anywhere, the Tree Walk falls back to the
		// Public Suffix List (verdicts.md), so both agree.
		w := NewWalker(dnsx.NewFake(dnsx.NewZone()))
		if got := w.Aligned(context.Background(), tt.a, tt.b, tt.mode); got != tt.want {
			t.Errorf("Walker.Aligned(%q, %q, %s) = %v with no records", tt.a, tt.b, tt.mode, got)
		}
	}
}

func TestWalkTargets(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want string
	}{
		{"a.mail.example.com", "a.mail.example.com mail.example.com example.com com"},
		{"Example.COM.", "example.com com"},
		{"com", "com"},
		{"", ""},
		// Eight labels or more: the domain, then its last seven, then one
		// fewer each time: eight queries at most (RFC 9989 §4.10).
		{"1.2.3.4.5.6.7.8.9.example", "1.2.3.4.5.6.7.8.9.example 4.5.6.7.8.9.example 5.6.7.8.9.example 6.7.8.9.example 7.8.9.example 8.9.example 9.example example"},
		{"a.b.c.d.e.f.g.h", "a.b.c.d.e.f.g.h b.c.d.e.f.g.h c.d.e.f.g.h d.e.f.g.h e.f.g.h f.g.h g.h h"},
	} {
		got := strings.Join(WalkTargets(tt.in), " ")
		if got != tt.want {
			t.Errorf("WalkTargets(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if n := len(WalkTargets(tt.in)); n > MaxWalkQueries {
			t.Errorf("%q: %d targets", tt.in, n)
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
		{"v=DMARC1; p=none; pct=50", "pct", "removed by RFC 9989", false},
		{"v=DMARC1; p=none; rf=afrf", "rf", "removed by RFC 9989", false},
		{"v=DMARC1; p=none; ri=3600", "ri", "removed by RFC 9989", false},
		{"v=DMARC1; p=none; psd=x", "psd", "not y, n or u", false},
	}
	for _, tt := range tests {
		r, err := Parse(tt.rec)
		if tt.fatal {
			se, ok := err.(*SyntaxError)
			if !ok || se.Tag != tt.tag || !strings.Contains(i18n.EN.Say(se.Reason), tt.msg) {
				t.Errorf("%q: %v, want fatal on %s containing %q", tt.rec, err, tt.tag, tt.msg)
			}
			continue
		}
		if err != nil || !hasIssue(r, tt.tag, tt.msg) {
			t.Errorf("%q: %v %+v, want issue on %s containing %q", tt.rec, err, r, tt.tag, tt.msg)
		}
	}
	for _, rec := range []string{"v=spf1 -all", "v=DMARC10; p=none", "p=none; v=DMARC1", "", "V=DMARC1; p=none", "v=dmarc1; p=none"} {
		if _, err := Parse(rec); err != ErrNotDMARC {
			t.Errorf("%q: %v, want ErrNotDMARC", rec, err)
		}
	}
}

func hasIssue(r *Record, tag, msg string) bool {
	for _, is := range r.Issues {
		if is.Tag == tag && strings.Contains(i18n.EN.Say(is.Message), msg) {
			return true
		}
	}
	return false
}

func TestDiscover(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:d@abc.it")
	z.AddIP("mail.abc.it", mustAddr("192.0.2.1"))
	z.AddIP("a.b.c.abc.it", mustAddr("192.0.2.1"))
	z.AddTXT("_dmarc.own.abc.it", "v=DMARC1; p=none; rua=mailto:d@abc.it")
	z.AddTXT("_dmarc.two.example", "v=DMARC1; p=none")
	z.AddTXT("_dmarc.two.example", "v=DMARC1; p=reject")
	z.AddTXT("_dmarc.bad.example", "v=DMARC1; p=maybe")
	z.AddTXT("_dmarc.lower.example", "v=dmarc1; p=reject")
	z.AddTXT("_dmarc.suffix.example", "v=DMARC1x; p=reject")
	z.AddTXT("_dmarc.other.example", "some verification token")
	z.Fail("_dmarc.flaky.example", dns.TypeTXT, dnsx.ServFail)
	r := dnsx.NewFake(z)

	tests := []struct {
		from      string
		result    Result
		domain    string
		inherited bool
		queries   int
		discarded int
	}{
		{"abc.it", "", "abc.it", false, 1, 0},
		{"mail.abc.it", "", "abc.it", true, 2, 0},
		{"a.b.c.abc.it", "", "abc.it", true, 4, 0},
		{"own.abc.it", "", "own.abc.it", false, 1, 0},
		// Two records are discarded and the walk goes on (RFC 9989 §4.10).
		{"two.example", None, "", false, 2, 1},
		// One record that cannot be used: no DMARC processing (none), and
		// the walk ends there (RFC 9989 §4.10.1).
		{"bad.example", None, "bad.example", false, 1, 0},
		// Not v=DMARC1 to the letter: not a DMARC record.
		{"lower.example", None, "", false, 2, 1},
		{"suffix.example", None, "", false, 2, 1},
		{"other.example", None, "", false, 2, 0},
		{"sub.other.example", None, "", false, 3, 0},
		{"flaky.example", TempError, "", false, 1, 0},
		{"nothing.example", None, "", false, 2, 0},
		{"1.2.3.4.5.6.7.8.9.example", None, "", false, 8, 0},
	}
	for _, tt := range tests {
		d := Discover(context.Background(), r, tt.from)
		if d.Result != tt.result || d.Domain != tt.domain || d.Inherited != tt.inherited || len(d.Queries) != tt.queries || len(d.Discarded) != tt.discarded {
			t.Errorf("%s: %+v", tt.from, d)
		}
	}

	// Policies: p for the domain, sp for an existing subdomain, np for
	// one that does not exist.
	for _, tt := range []struct {
		from, tag string
		pol       Policy
	}{{"abc.it", "p", PolicyReject}, {"mail.abc.it", "sp", PolicyQuarantine}, {"ghost.abc.it", "np", PolicyReject}} {
		e := Evaluate(context.Background(), r, Input{FromDomain: tt.from, SPFDomain: "esp.net", SPFResult: "pass"})
		if e.Result != Fail || e.PolicyTag != tt.tag || e.Disposition != tt.pol {
			t.Errorf("%s: %s %s=%s → %s (%s)", tt.from, e.Result, e.PolicyTag, e.Policy, e.Disposition, e.PolicyNote)
		}
	}
}

func TestOrgDomain(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject")
	z.AddTXT("_dmarc.b.corp.example", "v=DMARC1; p=none")
	z.AddTXT("_dmarc.psd.example", "v=DMARC1; p=reject; psd=y")
	z.AddTXT("_dmarc.b.team.example", "v=DMARC1; p=none; psd=n")
	z.AddTXT("_dmarc.team.example", "v=DMARC1; p=reject")
	z.AddTXT("_dmarc.x.top.example", "v=DMARC1; p=none")
	z.AddTXT("_dmarc.top.example", "v=DMARC1; p=reject")
	z.Fail("_dmarc.flaky.example", dns.TypeTXT, dnsx.ServFail)
	for _, tt := range []struct {
		in, want, by, psl string
	}{
		{"mail.abc.it", "abc.it", "record", ""},
		{"x.y.abc.it", "abc.it", "record", ""},
		// A record below the registrable domain makes its own organization.
		{"deep.b.corp.example", "b.corp.example", "record", "corp.example"},
		{"c.corp.example", "corp.example", "psl", ""},
		// psd=y: one label below the public suffix domain.
		{"a.shop.psd.example", "shop.psd.example", "psd=y", "psd.example"},
		{"psd.example", "psd.example", "psd=y", ""},
		// psd=n stops the walk, though a parent has a record.
		{"a.b.team.example", "b.team.example", "psd=n", "team.example"},
		// Otherwise the highest name with a record wins.
		{"a.x.top.example", "top.example", "record", ""},
		{"nothing.example.co.uk", "example.co.uk", "psl", ""},
	} {
		w := NewWalker(dnsx.NewFake(z))
		o := w.OrgDomain(context.Background(), tt.in)
		if o.Domain != tt.want || o.By != tt.by || o.PSL != tt.psl {
			t.Errorf("OrgDomain(%q) = %+v, want %s by %s (psl %q)", tt.in, o, tt.want, tt.by, tt.psl)
		}
		if w.Asked() > MaxWalkQueries {
			t.Errorf("%q: %d names asked", tt.in, w.Asked())
		}
	}
	o := NewWalker(dnsx.NewFake(z)).OrgDomain(context.Background(), "a.flaky.example")
	if o.Domain != "flaky.example" || len(o.Unsure) != 1 {
		t.Errorf("flaky: %+v", o)
	}
}

func TestEvaluate(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=quarantine; rua=mailto:d@abc.it")
	z.AddTXT("_dmarc.strict.example", "v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:d@strict.example")
	z.AddTXT("_dmarc.pct0.example", "v=DMARC1; p=reject; pct=0; rua=mailto:d@pct0.example")
	z.AddTXT("_dmarc.pct25.example", "v=DMARC1; p=quarantine; pct=25; rua=mailto:d@pct25.example")
	z.AddTXT("_dmarc.testing.example", "v=DMARC1; p=reject; t=y; rua=mailto:d@testing.example")
	z.AddTXT("_dmarc.b.corp.example", "v=DMARC1; p=reject; rua=mailto:d@corp.example")
	z.Fail("_dmarc.flaky.example", dns.TypeTXT, dnsx.Timeout)
	z.AddTXT("_dmarc.nop.example", "v=DMARC1; adkim=s")
	z.AddTXT("_dmarc.badsp.example", "v=DMARC1; p=reject; sp=quarantin; rua=mailto:d@badsp.example")
	r := dnsx.NewFake(z)
	pass := "pass"
	tests := []struct {
		name   string
		in     Input
		want   Result
		spf    bool
		dkim   bool
		disp   Policy
		note   string // in PolicyNote
		reason string // in Reason or SPF.Reason
		legacy string // in RFC7489.Note; "" means no RFC7489 block
	}{
		{"spf aligned", Input{FromDomain: "abc.it", SPFDomain: "bounce.abc.it", SPFResult: pass}, Pass, true, false, PolicyNone, "does not come into play", "share the organizational domain abc.it", ""},
		{"dkim aligned", Input{FromDomain: "abc.it", SPFDomain: "esp.net", SPFResult: pass, DKIM: []DKIMInput{{Domain: "esp.net", Pass: true}, {Domain: "abc.it", Pass: true}}}, Pass, false, true, PolicyNone, "", "belong to different organizations", ""},
		{"aligned but failing", Input{FromDomain: "abc.it", SPFDomain: "abc.it", SPFResult: "softfail", DKIM: []DKIMInput{{Domain: "abc.it", Pass: false}}}, Fail, false, false, PolicyQuarantine, "quarantine", "SPF did not pass (softfail), so it cannot align, although the SPF domain is the From domain abc.it", ""},
		{"strict", Input{FromDomain: "strict.example", SPFDomain: "mail.strict.example", SPFResult: pass, DKIM: []DKIMInput{{Domain: "mail.strict.example", Pass: true}}}, Fail, false, false, PolicyReject, "p=reject", "strict alignment (aspf=s)", ""},
		{"no record", Input{FromDomain: "norecord.example", SPFDomain: "esp.net", SPFResult: pass}, None, false, false, PolicyNone, "no DMARC policy", "no usable DMARC record", ""},
		// Aligned without a record is not a pass (verdicts.md, RFC 9989).
		{"no record, aligned", Input{FromDomain: "norecord.example", SPFDomain: "norecord.example", SPFResult: pass}, None, true, false, PolicyNone, "no DMARC policy", "aligned, but no DMARC record applies to norecord.example: publish one to pass", ""},
		{"temperror", Input{FromDomain: "flaky.example", SPFDomain: "flaky.example", SPFResult: pass}, TempError, true, false, PolicyNone, "no DMARC policy", "could not be fetched", ""},
		// RFC 9989 §4.8: an aligned check that ended in temperror, with
		// nothing passing aligned, leaves DMARC at temperror, not fail.
		{"aligned SPF temperror", Input{FromDomain: "abc.it", SPFDomain: "bounce.abc.it", SPFResult: "temperror"}, TempError, false, false, PolicyNone, "cannot be evaluated", "the SPF check of bounce.abc.it ended in temperror", ""},
		{"aligned DKIM temperror", Input{FromDomain: "abc.it", SPFDomain: "esp.net", SPFResult: pass, DKIM: []DKIMInput{{Domain: "abc.it", TempError: true}}}, TempError, false, false, PolicyNone, "", "the DKIM signature of abc.it ended in temperror", ""},
		// An unaligned temperror changes nothing: the aligned ones failed.
		{"unaligned DKIM temperror", Input{FromDomain: "abc.it", SPFDomain: "abc.it", SPFResult: "fail", DKIM: []DKIMInput{{Domain: "esp.net", TempError: true}}}, Fail, false, false, PolicyQuarantine, "quarantine", "", ""},
		// A passing aligned check wins over a temperror elsewhere.
		{"aligned pass beside temperror", Input{FromDomain: "abc.it", SPFDomain: "abc.it", SPFResult: "temperror", DKIM: []DKIMInput{{Domain: "abc.it", Pass: true}}}, Pass, false, true, PolicyNone, "", "", ""},
		// No valid p= and no rua=: no DMARC processing, aligned or not.
		{"unusable record, unaligned", Input{FromDomain: "nop.example", SPFDomain: "esp.net", SPFResult: pass}, None, false, false, PolicyNone, "no DMARC policy", "p= is missing and there is no valid rua= to fall back on, so receivers apply no DMARC processing", ""},
		{"unusable record, aligned", Input{FromDomain: "nop.example", SPFDomain: "nop.example", SPFResult: pass}, None, true, false, PolicyNone, "no DMARC policy", "correct the record to pass", ""},
		// An invalid sp= with a valid rua= reads as p=none throughout.
		{"invalid sp=, rua=", Input{FromDomain: "mail.badsp.example", SPFDomain: "esp.net", SPFResult: pass}, Fail, false, false, PolicyNone, "sp=none", "", ""},
		{"no From domain", Input{FromProblem: i18n.M("from.none"), SPFDomain: "abc.it", SPFResult: pass}, None, false, false, PolicyNone, "", "no From header", ""},
		// pct= is gone in RFC 9989; RFC 7489 receivers still apply it.
		{"pct=0", Input{FromDomain: "pct0.example", SPFDomain: "esp.net", SPFResult: pass}, Fail, false, false, PolicyReject, "p=reject: receivers refuse", "", "pct=0 selects no message for p=reject, so it treats failing mail as quarantine"},
		{"pct=25", Input{FromDomain: "pct25.example", SPFDomain: "esp.net", SPFResult: pass}, Fail, false, false, PolicyQuarantine, "", "", "pct=25: it applies quarantine to 25% of failing mail and none to the rest"},
		{"t=y", Input{FromDomain: "testing.example", SPFDomain: "esp.net", SPFResult: pass}, Fail, false, false, PolicyNone, "t=y (testing)", "", "does not know t=y, so it applies reject in full"},
		// The Tree Walk finds a record below the registrable domain.
		{"intermediate record", Input{FromDomain: "a.b.corp.example", SPFDomain: "c.corp.example", SPFResult: pass}, Fail, false, false, PolicyReject, "sp=reject", "", "does not see the record at _dmarc.b.corp.example"},
	}
	for _, tt := range tests {
		e := Evaluate(context.Background(), r, tt.in)
		say := i18n.EN.Say
		reason, note := say(e.Reason)+" | "+say(e.SPF.Reason), say(e.PolicyNote)
		if e.Result != tt.want || e.SPFAligned != tt.spf || e.DKIMAligned != tt.dkim || e.Disposition != tt.disp ||
			!strings.Contains(note, tt.note) || !strings.Contains(reason, tt.reason) {
			t.Errorf("%s: %s disp=%s (%s) spf=%v dkim=%v note=%q", tt.name, e.Result, e.Disposition, reason, e.SPFAligned, e.DKIMAligned, note)
		}
		switch {
		case tt.legacy == "" && e.RFC7489 != nil:
			t.Errorf("%s: unexpected RFC 7489 view %+v", tt.name, e.RFC7489)
		case tt.legacy != "" && (e.RFC7489 == nil || !strings.Contains(say(e.RFC7489.Note), tt.legacy)):
			t.Errorf("%s: RFC 7489 view %+v, want %q", tt.name, e.RFC7489, tt.legacy)
		}
	}

	// Several authors: RFC 9989 §4.4.
	e := Evaluate(context.Background(), r, Input{FromProblem: i18n.M("text", "2 addresses"), FromDomains: []string{"abc.it", "esp.net"}, SPFDomain: "abc.it", SPFResult: pass})
	if e.Result != None || !strings.Contains(i18n.EN.Say(e.AuthorNote), "exempts such mail from DMARC") {
		t.Errorf("two authors: %s %q", e.Result, e.AuthorNote)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
