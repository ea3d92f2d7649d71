package spf

import (
	"net/netip"
	"testing"
)

func TestAuthorizeAndMerge(t *testing.T) {
	must := func(s string) *Record {
		r, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tt := range []struct{ rec, term, want string }{
		{"v=spf1 include:a.example ~all", "ip4:192.0.2.1", "v=spf1 include:a.example ip4:192.0.2.1 ~all"},
		{"v=spf1 mx redirect=_spf.example", "include:b.example", "v=spf1 mx include:b.example redirect=_spf.example"},
		{"v=spf1 a", "ip6:2001:db8::1", "v=spf1 a ip6:2001:db8::1"},
		{"v=spf1 ip4:192.0.2.1 -all", "ip4:192.0.2.1", "v=spf1 ip4:192.0.2.1 -all"},
	} {
		out, _, err := must(tt.rec).Authorize(tt.term)
		if err != nil || out.String() != tt.want {
			t.Errorf("%q + %s = %v %v, want %q", tt.rec, tt.term, out, err, tt.want)
		}
	}
	out, added, _ := must("v=spf1 -all").AuthorizeIP(netip.MustParseAddr("::ffff:192.0.2.9"))
	if !added || out.String() != "v=spf1 ip4:192.0.2.9 -all" {
		t.Errorf("mapped IPv4: %v", out)
	}
	m := Merge([]*Record{must("v=spf1 include:a.example mx ~all"), must("v=spf1 include:b.example mx -all exp=x.example")})
	if got := m.String(); got != "v=spf1 include:a.example mx include:b.example ~all exp=x.example" || m.DNSTerms() != 3 {
		t.Errorf("merge: %s (%d)", got, m.DNSTerms())
	}
	if _, err := Parse(m.String()); err != nil {
		t.Errorf("merged record does not parse: %v", err)
	}
}

func TestAuthorizesAnyone(t *testing.T) {
	for _, tt := range []struct {
		term string
		want bool
	}{{"+all", true}, {"all", true}, {"~all", false}, {"ip4:0.0.0.0/1", true}, {"ip4:10.0.0.0/8", true}, {"ip4:40.92.0.0/15", false}, {"ip6:2000::/3", true}, {"ip6:2001:db8::/32", false}, {"mx", false}} {
		ev := &Evaluation{Result: Pass, MatchPath: []TermRef{{Domain: "esp.example", Term: tt.term}}}
		if _, _, got := ev.AuthorizesAnyone(); got != tt.want {
			t.Errorf("%s: %v", tt.term, got)
		}
	}
}
