package bimi_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testerd/testerd/bimi"
	"github.com/testerd/testerd/bimi/bimitest"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/verify/dmarc"
)

// rig is a brand's web server (HTTPS, in process) and DNS.
type rig struct {
	t     *testing.T
	mu    sync.Mutex
	files map[string][]byte
	srv   *httptest.Server
	zone  *dnsx.Zone
	ca    *bimitest.CA
	c     *bimi.Checker
}

func newRig(t *testing.T) *rig {
	r := &rig{t: t, files: map[string][]byte{}, ca: bimitest.NewCA(t), zone: dnsx.NewZone()}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/moved.svg" {
			http.Redirect(w, req, "/logo.svg", http.StatusFound)
			return
		}
		r.mu.Lock()
		b, ok := r.files[req.URL.Path]
		r.mu.Unlock()
		if !ok {
			http.NotFound(w, req)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(r.srv.Close)
	dns, err := dnsx.StartServer(r.zone)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Close() })
	client, err := dnsx.NewClient(dns.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(r.ca.Cert)
	r.c = &bimi.Checker{Resolver: client, Client: r.srv.Client(), Roots: roots}
	return r
}

func (r *rig) serve(path string, b []byte) {
	r.mu.Lock()
	r.files[path] = b
	r.mu.Unlock()
}

var enforced = bimi.Enforcement{Policy: dmarc.PolicyReject, Record: "brand.example", Enforced: true, Judged: true, Pass: true}

func (r *rig) check(domain string, e bimi.Enforcement) *bimi.Result {
	return r.c.Check(context.Background(), bimi.Input{Domain: domain, OrgDomain: "brand.example", DMARC: e})
}

// said is every finding in English, one per line.
func said(res *bimi.Result) string {
	var b strings.Builder
	for _, f := range res.Findings {
		b.WriteString(string(f.Severity) + ": " + i18n.EN.Say(f.Message) + "\n")
	}
	return b.String()
}

func TestValidVMC(t *testing.T) {
	r := newRig(t)
	r.serve("/logo.svg", []byte(bimitest.GoodSVG))
	r.serve("/vmc.pem", r.ca.Issue(t, bimitest.Mark{Names: []string{"brand.example"}, Logo: []byte(bimitest.GoodSVG)}))
	r.zone.AddTXT("default._bimi.brand.example", "v=BIMI1; l="+r.srv.URL+"/logo.svg; a="+r.srv.URL+"/vmc.pem")
	res := r.check("brand.example", enforced)
	if !res.Shown || res.Mark == nil || res.Mark.Kind != bimi.VMC || !res.Mark.LogoMatches || !res.Mark.Anchored || res.Logo.Title != "Forno Anna" {
		t.Fatalf("a valid bimi.VMC setup: %+v %+v\n%s", res, res.Mark, said(res))
	}
	if !strings.Contains(said(res), "blue check mark") {
		t.Errorf("the summary does not say what Gmail shows:\n%s", said(res))
	}
	// A subdomain without a record falls back to the organizational
	// domain's, whose certificate names it.
	res = r.check("news.brand.example", enforced)
	if !res.Fallback || !res.Shown {
		t.Errorf("fallback: %+v\n%s", res, said(res))
	}
	// A bimi.CMC: shown, without the check mark.
	r.serve("/cmc.pem", r.ca.Issue(t, bimitest.Mark{Names: []string{"brand.example"}, Logo: []byte(bimitest.GoodSVG), MarkType: "Prior Use Mark"}))
	r.zone.AddTXT("default._bimi.cmc.example", "v=BIMI1; l="+r.srv.URL+"/logo.svg; a="+r.srv.URL+"/cmc.pem")
	r.c.Roots = nil
	res = r.c.Check(context.Background(), bimi.Input{Domain: "cmc.example", DMARC: enforced})
	if res.Mark == nil || res.Mark.Kind != bimi.CMC || !strings.Contains(said(res), "without the check mark") || !strings.Contains(said(res), "did not anchor it") {
		t.Errorf("a bimi.CMC without roots: %+v\n%s", res.Mark, said(res))
	}
}

func TestRecords(t *testing.T) {
	r := newRig(t)
	r.serve("/logo.svg", []byte(bimitest.GoodSVG))
	for _, c := range []struct {
		record, want string
	}{
		{"", "no BIMI record at default._bimi.rec.example"},
		{"v=BIMI1; l=", "declines BIMI"},
		{"v=BIMI2; l=https://x.example/l.svg", "must begin with v=BIMI1"},
		{"l=https://x.example/l.svg; v=BIMI1", "must begin with v=BIMI1"},
		{"v=BIMI1; a=https://x.example/a.pem", "has no l= tag"},
		{"v=BIMI1; l=http://x.example/l.svg", "must be an https: URL"},
		{"v=BIMI1; l=https://a.example/1.svg,https://b.example/2.svg", "lists several URLs"},
		{"v=BIMI1; l=https://x.example/l.svg; l=https://y.example/l.svg", "gives l= twice"},
		{"v=BIMI1; l=; a=https://x.example/a.pem", "a= with an empty l="},
		{"v=BIMI1; l=" + r.srv.URL + "/logo.svg", "no mark certificate (a=)"},
		{"v=BIMI1; l=" + r.srv.URL + "/logo.svg; z=1", "a tag receivers do not know (z=)"},
	} {
		r.zone.Remove("default._bimi.rec.example", 16)
		if c.record != "" {
			r.zone.AddTXT("default._bimi.rec.example", c.record)
		}
		res := r.c.Check(context.Background(), bimi.Input{Domain: "rec.example", DMARC: enforced})
		if got := said(res); !strings.Contains(got, c.want) || res.Shown {
			t.Errorf("%q: want %q in\n%s", c.record, c.want, got)
		}
	}
	// The selector of a BIMI-Selector header, and whether DKIM covers it.
	r.zone.AddTXT("brand._bimi.rec.example", "v=BIMI1; l="+r.srv.URL+"/logo.svg")
	res := r.c.Check(context.Background(), bimi.Input{Domain: "rec.example", Selector: "brand", SelectorHeader: true, DMARC: enforced})
	if res.RecordName != "brand._bimi.rec.example" || !strings.Contains(said(res), "no passing DKIM signature covers that header") {
		t.Errorf("selector: %s\n%s", res.RecordName, said(res))
	}
}

func TestEnforcement(t *testing.T) {
	r := newRig(t)
	r.serve("/logo.svg", []byte(bimitest.GoodSVG))
	r.zone.AddTXT("default._bimi.brand.example", "v=BIMI1; l="+r.srv.URL+"/logo.svg")
	rec := func(txt string) *dmarc.Discovery {
		rr, err := dmarc.Parse(txt)
		if err != nil {
			t.Fatal(err)
		}
		return &dmarc.Discovery{Domain: "brand.example", Record: rr}
	}
	for _, c := range []struct {
		name string
		e    bimi.Enforcement
		want string
	}{
		{"p=none", bimi.EnforcementOf(rec("v=DMARC1; p=none"), nil), "is none: BIMI needs quarantine or reject"},
		{"sp=none", bimi.EnforcementOf(rec("v=DMARC1; p=reject; sp=none"), nil), "says sp=none"},
		{"pct=50", bimi.EnforcementOf(rec("v=DMARC1; p=quarantine; pct=50"), nil), "only part of the mail"},
		{"no record", bimi.EnforcementOf(nil, nil), "has no DMARC record"},
		{"a failing message", bimi.Enforcement{Policy: dmarc.PolicyReject, Record: "brand.example", Enforced: true, Judged: true}, "does not pass DMARC"},
	} {
		res := r.check("brand.example", c.e)
		if got := said(res); !strings.Contains(got, c.want) || res.DMARC.Enforced {
			t.Errorf("%s: want %q in\n%s", c.name, c.want, got)
		}
	}
	if e := bimi.EnforcementOf(rec("v=DMARC1; p=reject"), nil); !e.Enforced {
		t.Errorf("p=reject is not enforcement: %+v", e)
	}
}

func TestLogos(t *testing.T) {
	r := newRig(t)
	r.zone.AddTXT("default._bimi.brand.example", "v=BIMI1; l="+r.srv.URL+"/logo.svg; a="+r.srv.URL+"/vmc.pem")
	other := strings.Replace(bimitest.GoodSVG, "#c33", "#33c", 1)
	for _, c := range []struct {
		name, svg, want string
	}{
		{"script", strings.Replace(bimitest.GoodSVG, "<circle", `<script>alert(1)</script><circle`, 1), "scripts are not allowed"},
		{"event", strings.Replace(bimitest.GoodSVG, "<circle", `<circle onclick="x()"`, 1), "event attribute (onclick)"},
		{"raster", strings.Replace(bimitest.GoodSVG, "<circle", `<image href="data:image/png;base64,AAAA"/><circle`, 1), "embedded raster images"},
		{"external", strings.Replace(bimitest.GoodSVG, `fill="#c33"`, `fill="url(https://x.example/p.svg#g)"`, 1), "refers to another file"},
		{"animation", strings.Replace(bimitest.GoodSVG, "</svg>", `<animate attributeName="r" to="10"/></svg>`, 1), "animation is not allowed"},
		{"foreign", strings.Replace(bimitest.GoodSVG, "</svg>", `<foreignObject/></svg>`, 1), "foreign content"},
		{"wrong profile", strings.Replace(bimitest.GoodSVG, `baseProfile="tiny-ps"`, `baseProfile="tiny"`, 1), `baseProfile="tiny"`},
		{"no version", strings.Replace(bimitest.GoodSVG, `version="1.2" `, ``, 1), `version=""`},
		{"not square", strings.Replace(bimitest.GoodSVG, `viewBox="0 0 100 100"`, `viewBox="0 0 200 100"`, 1), "not square"},
		{"x on root", strings.Replace(bimitest.GoodSVG, `viewBox=`, `x="0" viewBox=`, 1), "has x="},
		{"no title", strings.Replace(bimitest.GoodSVG, "<title>Forno Anna</title>", "", 1), "has no <title>"},
		{"entity", strings.Replace(bimitest.GoodSVG, `<svg `, `<!DOCTYPE svg [<!ENTITY a "aaaa">]><svg `, 1), "declares XML entities"},
		{"too big", strings.Replace(bimitest.GoodSVG, "</svg>", "<desc>"+strings.Repeat("x", bimi.MaxLogo)+"</desc></svg>", 1), "more than 32768 bytes"},
		{"not XML", "<svg", "not well-formed XML"},
		{"not the certified logo", other, "not the one in the certificate"},
	} {
		r.serve("/logo.svg", []byte(c.svg))
		r.serve("/vmc.pem", r.ca.Issue(t, bimitest.Mark{Names: []string{"brand.example"}, Logo: []byte(bimitest.GoodSVG)}))
		res := r.check("brand.example", enforced)
		if got := said(res); !strings.Contains(got, c.want) || res.Shown {
			t.Errorf("%s: want %q in\n%s", c.name, c.want, got)
		}
	}
	// No redirect is followed.
	r.zone.Remove("default._bimi.brand.example", 16)
	r.zone.AddTXT("default._bimi.brand.example", "v=BIMI1; l="+r.srv.URL+"/moved.svg")
	r.c.Client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if got := said(r.check("brand.example", enforced)); !strings.Contains(got, "receivers do not follow redirects") {
		t.Errorf("redirect:\n%s", got)
	}
}

func TestCertificates(t *testing.T) {
	r := newRig(t)
	r.serve("/logo.svg", []byte(bimitest.GoodSVG))
	r.zone.AddTXT("default._bimi.brand.example", "v=BIMI1; l="+r.srv.URL+"/logo.svg; a="+r.srv.URL+"/vmc.pem")
	other := bimitest.NewCA(t)
	for _, c := range []struct {
		name string
		pem  []byte
		want string
	}{
		{"expired", r.ca.Issue(t, bimitest.Mark{Names: []string{"brand.example"}, Logo: []byte(bimitest.GoodSVG), Expired: true}), "expired on"},
		{"no EKU", r.ca.Issue(t, bimitest.Mark{Names: []string{"brand.example"}, Logo: []byte(bimitest.GoodSVG), NoEKU: true}), "lacks the BIMI key usage"},
		{"wrong SAN", r.ca.Issue(t, bimitest.Mark{Names: []string{"other.example"}, Logo: []byte(bimitest.GoodSVG)}), "does not name brand.example"},
		{"no logotype", r.ca.Issue(t, bimitest.Mark{Names: []string{"brand.example"}, NoLogotype: true}), "no logotype extension"},
		{"another authority", other.Issue(t, bimitest.Mark{Names: []string{"brand.example"}, Logo: []byte(bimitest.GoodSVG)}), "does not lead to a trusted mark authority"},
		{"not PEM", []byte("hello"), "holds no PEM certificate"},
	} {
		r.serve("/vmc.pem", c.pem)
		res := r.check("brand.example", enforced)
		if got := said(res); !strings.Contains(got, c.want) || res.Shown || res.Mark != nil && res.Mark.Valid {
			t.Errorf("%s: want %q in\n%s", c.name, c.want, got)
		}
	}
}

// TestPublicOnly: the default client dials public addresses only.
func TestPublicOnly(t *testing.T) {
	r := newRig(t)
	r.c.Client = nil
	r.zone.AddTXT("default._bimi.brand.example", "v=BIMI1; l="+r.srv.URL+"/logo.svg")
	if got := said(r.check("brand.example", enforced)); !strings.Contains(got, "not a public address") {
		t.Errorf("a loopback logo was fetched:\n%s", got)
	}
}

func FuzzSVG(f *testing.F) {
	f.Add([]byte(bimitest.GoodSVG))
	f.Add([]byte(`<svg><script/></svg>`))
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY a "b">]><svg>&a;</svg>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > bimi.MaxLogo {
			return
		}
		rep := bimi.CheckSVG(b)
		for _, x := range rep.Findings {
			if x.Message.IsZero() {
				t.Fatal("a finding without words")
			}
		}
	})
}
