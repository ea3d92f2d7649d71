package spf

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParseTerms(t *testing.T) {
	rec, err := Parse("v=spf1  ip4:192.0.2.0/24 -a:mail.%{d}/28//64 ~mx ?include:_spf.example.net ptr exists:%{ir}.bl.example.org redirect=other.example FOO=bar exp=exp.%{d}")
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		pos  int
		mech Mechanism
		mod  string
		q    Qualifier
	}{
		{9, MIP4, "", QPass}, {26, MA, "", QFail}, {46, MMX, "", QSoftFail},
		{50, MInclude, "", QNeutral}, {76, MPTR, "", QPass}, {80, MExists, "", QPass},
		{108, "", "redirect", 0}, {131, "", "foo", 0}, {139, "", "exp", 0},
	}
	if len(rec.Terms) != len(want) {
		t.Fatalf("%d terms, want %d", len(rec.Terms), len(want))
	}
	for i, w := range want {
		tm := rec.Terms[i]
		if tm.Pos != w.pos || tm.Mechanism != w.mech || tm.Modifier != w.mod || (w.mech != "" && tm.Qualifier != w.q) {
			t.Errorf("term %d = %+v, want %+v", i, tm, w)
		}
	}
	a := rec.Terms[1]
	if a.DomainSpec != "mail.%{d}" || a.CIDR4 != 28 || a.CIDR6 != 64 {
		t.Errorf("a term = %+v", a)
	}
	if rec.Terms[0].Network != netip.MustParsePrefix("192.0.2.0/24") {
		t.Errorf("ip4 network = %v", rec.Terms[0].Network)
	}
	if rec.Redirect != rec.Terms[6] || rec.Exp != rec.Terms[8] {
		t.Error("Redirect/Exp do not point at their terms")
	}
	if !rec.Terms[2].IsDNS() || rec.Terms[0].IsDNS() || !rec.Terms[6].IsDNS() || rec.Terms[8].IsDNS() {
		t.Error("IsDNS")
	}
}

func TestParseRoundTrip(t *testing.T) {
	for _, s := range []string{
		"v=spf1",
		"v=spf1 -all",
		"v=spf1 ip4:192.0.2.1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ip6:::ffff:1.2.3.4 -all",
		"v=spf1 a a/24 a//64 a/24//64 a:example.com/0 mx:%{d}.example.net//0 ~all",
		"v=spf1 +include:_spf.example.com ?exists:%{ir}.%{l1r-}.%{d2}._spf.example.org ptr:example.com redirect=_spf.example.com",
		"v=spf1 -all exp=explain._spf.%{d} x-custom=%{s}%%%_%- other.thing=1",
	} {
		r, err := Parse(s)
		if err != nil {
			t.Errorf("Parse(%q): %v", s, err)
			continue
		}
		if got := r.String(); got != s {
			t.Errorf("String() = %q, want %q", got, s)
		}
	}
	// Non-canonical input becomes canonical, and stays so.
	r, err := Parse("V=SPF1   IP4:192.0.2.1/32  +MX  A:Example.COM  -ALL ")
	if err != nil {
		t.Fatal(err)
	}
	const want = "v=spf1 ip4:192.0.2.1 +mx a:Example.COM -all"
	if got := r.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		rec  string
		term string
		pos  int
	}{
		{"v=spf1 ip4:1.2.3.4 -all moo", "moo", 25},
		{"v=spf1 ip4:1.2.3.4/33", "ip4:1.2.3.4/33", 8},
		{"v=spf1 ip4:1.2.3.4/032", "ip4:1.2.3.4/032", 8},
		{"v=spf1 ip6:1.2.3.4", "ip6:1.2.3.4", 8},
		{"v=spf1 ip4:::1", "ip4:::1", 8},
		{"v=spf1 -all ip6", "ip6", 13},
		{"v=spf1 a:museum", "a:museum", 8},
		{"v=spf1 a:example.123", "a:example.123", 8},
		{"v=spf1 a:example.-com", "a:example.-com", 8},
		{"v=spf1 mx:example.com:8080", "mx:example.com:8080", 8},
		{"v=spf1 include", "include", 8},
		{"v=spf1 include:", "include:", 8},
		{"v=spf1 exists:%{x}.example.com", "exists:%{x}.example.com", 8},
		{"v=spf1 exists:%{d0}.example.com", "exists:%{d0}.example.com", 8},
		{"v=spf1 exists:%{r}.example.com", "exists:%{r}.example.com", 8},
		{"v=spf1 exists:%{d.example.com", "exists:%{d.example.com", 8},
		{"v=spf1 a:%z.example.com", "a:%z.example.com", 8},
		{"v=spf1 redirect=a.example redirect=b.example", "redirect=b.example", 27},
		{"v=spf1 exp=a.example -all exp=b.example", "exp=b.example", 27},
		{"v=spf1 redirect=", "redirect=", 8},
		{"v=spf1 foo=%abc", "foo=%abc", 8},
		{"v=spf1 all:x", "all:x", 8},
		{"v=spf1 ptr/24", "ptr/24", 8},
		{"v=spf1 a:ctrl.example.com\rptr -all", "a:ctrl.example.com\rptr", 8},
		{"v=spf1 a:caf\xc3\xa9.example.com", "a:caf\xc3\xa9.example.com", 8},
		{"v=spf1 =x", "=x", 8},
	} {
		_, err := Parse(tc.rec)
		var se *SyntaxError
		if !errors.As(err, &se) || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want a SyntaxError", tc.rec, err)
			continue
		}
		if se.Term != tc.term || se.Pos != tc.pos {
			t.Errorf("Parse(%q): term %q at %d, want %q at %d (%s)", tc.rec, se.Term, se.Pos, tc.term, tc.pos, se.Reason)
		}
	}
	for _, s := range []string{"", "v=spf10", "spf1 -all", "v=spf2.0/pra -all"} {
		if _, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want a syntax error", s, err)
		}
	}
}

func TestIsSPF(t *testing.T) {
	for s, want := range map[string]bool{
		"v=spf1": true, "v=spf1 -all": true, "V=SPF1 -all": true,
		"v=spf10": false, "v=spf1-all": false, " v=spf1": false, "": false,
	} {
		if IsSPF(s) != want {
			t.Errorf("IsSPF(%q) = %v", s, !want)
		}
	}
}
