package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/i18n/i18ntest"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/rcpt"
	"github.com/testerd/testerd/reports"
	"github.com/testerd/testerd/reports/rpttest"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify/verifytest"
)

// visibleText is what a reader sees of a page: its text nodes and the
// attributes that show (title, alt, placeholder, a button's value), not
// the scripts, and not the data blocks (pre, code), which hold records,
// headers and addresses as they are, nor quotations (q), which hold the
// providers' own bounce wording in its language.
func visibleText(r io.Reader) (string, error) {
	doc, err := html.Parse(r)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "style", "pre", "code", "head", "q":
				if n.Data != "head" {
					return
				}
			}
			for _, a := range n.Attr {
				if a.Key == "title" || a.Key == "alt" || a.Key == "placeholder" || a.Key == "aria-label" || a.Key == "data-copy" ||
					a.Key == "value" && n.Data == "input" && slices.ContainsFunc(n.Attr, func(x html.Attribute) bool { return x.Key == "type" && x.Val == "submit" }) {
					b.WriteString(" " + a.Val + " ")
				}
			}
		}
		if n.Type == html.TextNode {
			b.WriteString(" " + n.Data + " ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return b.String(), nil
}

// TestPseudoLocale renders every page in the pseudo-locale, where every
// catalog sentence is marked: the home page, the lists, the result page
// of every golden verdict as each tester judges it, the private-test
// page, the domain checker on the lint test zone, the report pages, the
// login page and the error pages; any visible text that is neither marked
// nor data fails it.
func TestPseudoLocale(t *testing.T) {
	l := i18n.EnablePseudo()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Every golden verdict, as each tester would give it.
	var paths []string
	data := map[string][]string{} // per path, the strangers' strings it shows
	var seen []string             // the Subjects and names the lists show
	for _, name := range verifytest.Cases(t) {
		v := verifytest.Judge(t, name)
		for _, k := range kind.Testers {
			vk := *v
			vk.Kind = k
			if k != kind.Check {
				vk.Requirements = nil
			}
			js, err := json.Marshal(&vk)
			if err != nil {
				t.Fatal(err)
			}
			p := &store.Probe{ID: store.NewID(), Received: time.Now(), Address: rcpt.Parse(k, "it"), Recipient: string(k) + "+it@tester.example",
				ClientIP: v.Envelope.IP, Helo: "mail.abc.it", MailFrom: "joe@abc.it", Raw: []byte("Subject: x\r\n\r\nhi\r\n"), Size: 10}
			if err := st.SaveProbe(ctx, p); err != nil {
				t.Fatal(err)
			}
			if err := st.SaveVerdict(ctx, &store.Verdict{ProbeID: p.ID, Judged: time.Now(), Tags: vk.Tags, FromDomain: vk.From.Domain,
				Subject: vk.Message.Text(), JSON: js}); err != nil {
				t.Fatal(err)
			}
			path := "/r/" + p.ID
			paths = append(paths, path)
			data[path] = []string{vk.Message.Text(), vk.From.Name, vk.From.Header, l.Say(vk.From.Problem)}
			seen = append(seen, vk.Message.Text(), vk.From.Name)
		}
	}
	// A report, for the report pages.
	const reporter = "Reporting Org Example"
	rm := &store.Probe{ID: store.NewID(), Received: time.Now(), Address: rcpt.Address{Kind: kind.Report}, Recipient: "rua@tester.example",
		ClientIP: netip.MustParseAddr("192.0.2.9"), Raw: rpttest.Message("application/gzip", rpttest.Gzip([]byte(strings.Replace(rpttest.Tiny, "<org_name>x<", "<org_name>"+reporter+"<", 1))))}
	if err := (&reports.Ingester{Store: st}).Ingest(ctx, rm); err != nil {
		t.Fatal(err)
	}

	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ip4:192.0.2.0/24 include:_spf.missing.example ~all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=none; rua=mailto:d@elsewhere.example")
	z.AddMX("abc.it", 10, "mx.abc.it")
	const token = "a-long-enough-admin-token-0123456789"
	s := &Server{Store: st, Domain: "tester.example", Reports: st, AdminToken: token, Lang: l, FailureDelay: time.Millisecond,
		Lint: &lint.Checker{Resolver: dnsx.NewFake(z), Receiver: "tester.example"}}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	paths = append(paths, "/", "/spf", "/dkim", "/check", "/check?tag=team", "/new/"+rcpt.NewPrivate(), "/domain", "/domain?name=abc.it",
		"/login", "/bounce", "/reports", "/reports/example.com", "/reports/tls/example.com", "/r/nosuchresult", "/new/t-nosuchtoken")
	for _, p := range []string{"/spf", "/dkim", "/check", "/check?tag=team"} {
		data[p] = seen
	}
	data["/reports"] = []string{reporter}
	words := map[string]int{}
	pages := 0
	for _, path := range paths {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Accept-Language", string(l))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		text, err := visibleText(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !strings.Contains(text, i18n.PseudoOpen) {
			t.Errorf("%s (%s): nothing from the catalog", path, resp.Status)
		}
		if bad := i18ntest.Unmarked(text, data[path]...); len(bad) > 0 {
			for _, w := range bad {
				words[w]++
			}
			if len(words) < 400 {
				t.Errorf("%s: %d words not from the catalog: %q", path, len(bad), bad[:min(len(bad), 30)])
			}
		}
		pages++
	}
	if len(words) > 0 {
		type wc struct {
			w string
			n int
		}
		var all []wc
		for w, n := range words {
			all = append(all, wc{w, n})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
		t.Logf("%d distinct words outside the catalog; the most frequent: %v", len(all), all[:min(len(all), 40)])
	}
	t.Log(fmt.Sprintf("%d pages in the pseudo-locale", pages))
}
