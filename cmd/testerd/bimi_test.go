package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/testerd/testerd/bimi/bimitest"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// TestBIMI: check@ and /domain for a domain with a valid VMC setup, one
// whose DMARC is p=none, and one whose logo has a script: the verdict
// JSON, the result page and the domain page say each, with the fix.
func TestBIMI(t *testing.T) {
	t.Parallel()
	ca := bimitest.NewCA(t)
	files := map[string][]byte{
		"/logo.svg":   []byte(bimitest.GoodSVG),
		"/script.svg": []byte(strings.Replace(bimitest.GoodSVG, "<circle", "<script>alert(1)</script><circle", 1)),
		"/vmc.pem":    ca.Issue(t, bimitest.Mark{Names: []string{"abc.it", "news.abc.it", "shop.abc.it"}, Logo: []byte(bimitest.GoodSVG)}),
	}
	web := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := files[r.URL.Path]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	defer web.Close()

	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ip4:127.0.0.0/24 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject")
	z.AddTXT("_dmarc.news.abc.it", "v=DMARC1; p=none")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(dkimtest.Ed25519("serve").Public()))
	z.AddPTR(netip.MustParseAddr("127.0.0.1"), "mail.abc.it")
	z.AddIP("mail.abc.it", netip.MustParseAddr("127.0.0.1"))
	for _, d := range []string{"abc.it", "news.abc.it"} {
		z.AddTXT("default._bimi."+d, "v=BIMI1; l="+web.URL+"/logo.svg; a="+web.URL+"/vmc.pem")
	}
	z.AddTXT("default._bimi.shop.abc.it", "v=BIMI1; l="+web.URL+"/script.svg; a="+web.URL+"/vmc.pem")
	dns, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	defer dns.Close()

	roots := filepath.Join(t.TempDir(), "roots.pem")
	os.WriteFile(roots, ca.PEM(), 0o600)
	c := testConfig(t)
	c.Resolver, c.BIMIRoots, c.bimiClient = dns.Addr(), roots, web.Client()
	smtpAddr, httpAddr := startServeWith(t, c)

	cases := []struct{ domain, want, domainWant string }{
		{"abc.it", "blue check mark", "Receivers that support BIMI would show the logo."},
		{"news.abc.it", "is none: BIMI needs quarantine or reject", "raise DMARC for news.abc.it to p=quarantine"},
		{"shop.abc.it", "scripts are not allowed in a BIMI logo", "scripts are not allowed in a BIMI logo"},
	}
	for _, tc := range cases {
		msg := "From: Anna <anna@" + tc.domain + ">\r\nTo: check@" + probeDomain + "\r\nSubject: bimi " + tc.domain + "\r\nMessage-ID: <b-" + tc.domain + "@abc.it>\r\n\r\nHello.\r\n"
		sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: dkimtest.Ed25519("serve")})
		if err != nil {
			t.Fatal(err)
		}
		if err := sendProbe(smtpAddr, "check@"+probeDomain, sig+msg, false); err != nil {
			t.Fatal(err)
		}
	}
	l := waitJudged(t, httpAddr, "check", 3)
	for _, tc := range cases {
		var id string
		for _, r := range l.Results {
			var res struct {
				Verdict *verify.Verdict `json:"verdict"`
			}
			getJSON(t, "http://"+httpAddr+full(t, httpAddr, r.ID, true), &res)
			if res.Verdict != nil && res.Verdict.From.Domain == tc.domain {
				id = r.ID
				var text bytes.Buffer
				if res.Verdict.BIMI == nil {
					t.Fatalf("%s: no BIMI in the verdict", tc.domain)
				}
				verify.WriteBIMI(&text, res.Verdict.BIMI, i18n.EN)
				if !strings.Contains(text.String(), tc.want) {
					t.Errorf("%s: check@ says\n%s", tc.domain, text.String())
				}
				t.Logf("check@ for %s:\n%s", tc.domain, text.String())
			}
		}
		if id == "" {
			t.Fatalf("no verdict for %s", tc.domain)
		}
		page := get(t, "http://"+httpAddr+full(t, httpAddr, id))
		if !strings.Contains(page, `id="bimi"`) || !strings.Contains(page, htmlEscape(tc.want)) {
			t.Errorf("%s: the result page lacks the BIMI section or %q", tc.domain, tc.want)
		}
		dpage := get(t, "http://"+httpAddr+"/domain?name="+tc.domain)
		var dj struct {
			Findings []struct {
				Area, Severity, Message, Fix string
			} `json:"findings"`
			BIMI *struct {
				Shown bool `json:"shown"`
			} `json:"bimi"`
		}
		b := get(t, "http://"+httpAddr+"/api/domain/"+tc.domain)
		if err := json.Unmarshal([]byte(b), &dj); err != nil || dj.BIMI == nil {
			t.Fatalf("%s: /api/domain: %v %s", tc.domain, err, b)
		}
		var lines []string
		for _, f := range dj.Findings {
			if f.Area == "bimi" {
				lines = append(lines, f.Severity+": "+f.Message+" | fix: "+f.Fix)
			}
		}
		all := strings.Join(lines, "\n")
		if !strings.Contains(all+dpage, tc.domainWant) || !strings.Contains(dpage, `id="bimi"`) {
			t.Errorf("%s: /domain lacks %q:\n%s", tc.domain, tc.domainWant, all)
		}
		if (tc.domain == "abc.it") != dj.BIMI.Shown {
			t.Errorf("%s: shown %v", tc.domain, dj.BIMI.Shown)
		}
		t.Logf("/domain for %s (BIMI findings):\n%s", tc.domain, all)
	}
}
