package requirements

import (
	"flag"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestOctetScans(t *testing.T) {
	for in, want := range map[string]bool{"": false, "a\r\nb": false, "a\rb": true, "abc\r": true, "\r\n\r\n\r": true, "\r\r\n": true} {
		if got := bareCR([]byte(in)); got != want {
			t.Errorf("bareCR(%q) = %v", in, got)
		}
	}
	for in, want := range map[string]bool{"": false, "plain ascii text, long enough": false, "1234567è": true, "è": true, "12345678901234567\x80": true} {
		if got := has8bit([]byte(in)); got != want {
			t.Errorf("has8bit(%q) = %v", in, got)
		}
	}
}

func TestGenericPTR(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	for name, generic_ := range map[string]bool{
		"mail.abc.it":                 false,
		"mailhost.abc.it":             false,
		"192-0-2-10.dsl.isp.example":  true,
		"10.2.0.192.in-addr.isp.test": true,
		"host-10.pool.isp.example":    true,
		"dynamic.isp.example":         true,
		"smtp2.example.com":           false,
	} {
		if got := generic(name, ip) != ""; got != generic_ {
			t.Errorf("generic(%q) = %v", name, got)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the README's generated providers table")

// TestREADMEProviders: the README's table of providers and codes is the
// one ProvidersMarkdown generates from the code's table.
func TestREADMEProviders(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- providers: generated -->\n", "<!-- end providers -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", begin, end)
	}
	want := s[:i+len(begin)] + ProvidersMarkdown() + s[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != s {
		t.Error("README.md's providers table differs from verify/requirements/providers.go: go test ./verify/requirements -run README -update")
	}
}

// TestProviders: each provider's verdict follows its own rules, on items
// made to fail.
func TestProviders(t *testing.T) {
	for _, c := range []struct {
		failed                        []string
		gmail, yahoo, outlook, icloud bool
	}{
		{nil, true, true, true, true},
		{[]string{"tls"}, false, true, true, true},
		{[]string{"rdns"}, false, false, true, false},
		{[]string{"dmarc"}, false, false, false, false},
		{[]string{"alignment"}, false, false, false, true},
	} {
		rep := &Report{}
		for _, id := range []string{"spf", "dkim", "spf-and-dkim", "alignment", "dmarc", "rdns", "tls", "format", "gmail-from"} {
			st := Pass
			if slices.Contains(c.failed, id) {
				st = Fail
			}
			rep.Items = append(rep.Items, Item{ID: id, Status: st})
		}
		got := map[string]bool{}
		for _, v := range providerVerdicts(rep, Input{}, true, true) {
			got[v.Provider] = v.Accepted
			if v.Accepted != (len(v.Blocking) == 0) || !strings.Contains(v.Source, "https://") {
				t.Errorf("%v: %+v", c.failed, v)
			}
			if !v.Accepted && v.Provider == "Outlook.com" && !strings.HasPrefix(v.Bounce, "550 5.7.515") {
				t.Errorf("%v: Outlook's bounce %q", c.failed, v.Bounce)
			}
		}
		want := map[string]bool{"Gmail": c.gmail, "Yahoo/AOL": c.yahoo, "Outlook.com": c.outlook, "iCloud Mail": c.icloud}
		for p, w := range want {
			if got[p] != w {
				t.Errorf("with %v failing, %s accepts %v, want %v", c.failed, p, got[p], w)
			}
		}
	}
}
