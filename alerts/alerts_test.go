package alerts

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/i18n/i18ntest"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/outbound/mxtest"
	"github.com/testerd/testerd/store"
)

// day stores one daily DMARC report for abc.it: pass messages from the
// usual source and fail messages from ip.
func day(t *testing.T, st *store.Store, begin time.Time, pass, fail int64, ip string) {
	t.Helper()
	ctx := context.Background()
	m := &store.ReportMessage{ID: store.NewID(), Received: begin.Add(25 * time.Hour), Rcpt: "rua@t", ClientIP: "192.0.2.1", Raw: []byte("x")}
	if err := st.SaveReportMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	rows := []*store.DMARCRecord{{SourceIP: "192.0.2.10", Count: pass, DKIM: "pass", SPF: "pass", HeaderFrom: "abc.it", DKIMPass: true, SPFPass: true, Auth: "{}"}}
	if fail > 0 {
		rows = append(rows, &store.DMARCRecord{SourceIP: ip, Count: fail, DKIM: "fail", SPF: "fail", HeaderFrom: "abc.it", Auth: "{}"})
	}
	r := &store.DMARCReport{Org: "google.com", ReportID: fmt.Sprint(begin.Unix()), Domain: "abc.it", Begin: begin, End: begin.Add(24*time.Hour - time.Second),
		Messages: pass + fail, Records: len(rows), XML: []byte("<x/>"), Rows: rows}
	if err := st.AddReports(ctx, m, []*store.DMARCReport{r}, nil); err != nil {
		t.Fatal(err)
	}
}

// TestWatcher: a week of good reports, then a bad day from a new source
// and a weakened policy: each problem is one alert, by mail and webhook,
// and a second check within the cooldown sends nothing.
func TestWatcher(t *testing.T) {
	ctx := context.Background()
	w, st, now := badDay(t, "")
	got, kinds := check(t, w)
	for _, k := range []string{"dmarc-pass-drop", "new-failing-source", "dmarc-policy-weakened"} {
		if kinds[k] == "" {
			t.Errorf("no %s alert in %v", k, kinds)
		}
	}
	if !strings.Contains(kinds["new-failing-source"], "203.0.113.66") || !strings.Contains(kinds["dmarc-policy-weakened"], "p=reject to p=none") {
		t.Errorf("alerts: %v", kinds)
	}
	due, err := st.Due(ctx, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	var mails, hooks int
	for _, o := range due {
		if o.Channel == store.Webhook {
			hooks++
		} else if o.Rcpt == "ops@example.com" {
			mails++
		}
	}
	if mails != len(got) || hooks != len(got) {
		t.Errorf("%d alerts, %d mails, %d webhook requests", len(got), mails, hooks)
	}
	if again, err := w.Check(ctx); err != nil || len(again) != 0 {
		t.Errorf("within the cooldown: %v %v", again, err)
	}
}

// TestWatcherSilenceAndTLS: reports that stop arriving, and TLS failures
// that appear after a clean week, each make one alert.
func TestWatcherSilenceAndTLS(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	today := now.Truncate(24 * time.Hour)
	for i := 5; i <= 7; i++ {
		day(t, st, today.AddDate(0, 0, -i), 1000, 0, "")
	}
	tls := func(begin time.Time, fail int64) {
		m := &store.ReportMessage{ID: store.NewID(), Received: begin.Add(25 * time.Hour), Rcpt: "tlsrpt@t", ClientIP: "192.0.2.1", Raw: []byte("x")}
		if err := st.SaveReportMail(ctx, m); err != nil {
			t.Fatal(err)
		}
		p := &store.TLSPolicy{Type: "sts", Domain: "abc.it", Success: 100, Failure: fail}
		if fail > 0 {
			p.Failures = []*store.TLSFailureDetail{{Type: "certificate-expired", ReceivingMX: "mx.abc.it", Sessions: fail}}
		}
		r := &store.TLSReport{Organization: "R", ReportID: fmt.Sprint(begin.Unix()), Start: begin, End: begin.Add(24*time.Hour - time.Second),
			Policies: []*store.TLSPolicy{p}}
		if err := st.AddReports(ctx, m, nil, []*store.TLSReport{r}); err != nil {
			t.Fatal(err)
		}
	}
	tls(today.AddDate(0, 0, -3), 0)
	tls(today.AddDate(0, 0, -1), 7)
	z := dnsx.NewZone()
	z.AddTXT("_smtp._tls.abc.it", "v=TLSRPTv1; rua=mailto:tlsrpt@tester.example")
	w := &Watcher{Store: st, Resolver: dnsx.NewFake(z), Domain: "tester.example", Hostname: "mx.tester.example", Now: func() time.Time { return now }}
	_, kinds := check(t, w)
	if !strings.Contains(kinds["reports-stopped"], "no DMARC report since") || !strings.Contains(kinds["tls-failures"], "certificate-expired at mx.abc.it") {
		t.Errorf("alerts: %v", kinds)
	}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestWatcherMTASTS: a published policy whose host certificate expires
// soon, or that cannot be fetched, alerts.
func TestWatcherMTASTS(t *testing.T) {
	ctx := context.Background()
	cert, pool, err := mxtest.Cert("mta-sts.abc.it") // valid for an hour: well within the warning
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "version: STSv1\nmode: enforce\nmx: mx.abc.it\nmax_age: 604800\n")
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	z := dnsx.NewZone()
	z.AddTXT("_mta-sts.abc.it", "v=STSv1; id=1")
	z.AddIP("mta-sts.abc.it", netip.MustParseAddr("127.0.0.1"))
	r := dnsx.NewFake(z)
	for _, tc := range []struct{ port, want string }{{port, "mta-sts-certificate-expiring"}, {"1", "mta-sts-policy-unreachable"}} {
		w := &Watcher{Store: openStore(t), Resolver: r, Domains: []string{"abc.it"}, Domain: "tester.example", Hostname: "mx.tester.example",
			STS: &mtasts.Fetcher{Resolver: r, Port: tc.port, RootCAs: pool, AllowPrivate: true}}
		got, err := w.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Kind != tc.want {
			t.Errorf("port %s: %+v, want %s", tc.port, got, tc.want)
		}
	}
}

// badDay is a watcher in l after a quiet week, then a bad day from a
// new source and a weakened policy; its store has a reports token with a
// webhook.
func badDay(t *testing.T, l i18n.Lang) (*Watcher, *store.Store, time.Time) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t)
	if _, err := st.AddToken(ctx, &store.Token{Scopes: []store.Scope{store.ScopeReports}, Webhook: "https://hooks.example/alerts"}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	today := now.Truncate(24 * time.Hour)
	for i := 2; i <= 7; i++ {
		day(t, st, today.AddDate(0, 0, -i), 1000, 0, "")
	}
	z := dnsx.NewZone()
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject; rua=mailto:rua@tester.example")
	w := &Watcher{Lang: l, Store: st, Resolver: dnsx.NewFake(z), To: []string{"ops@example.com"}, Domain: "tester.example", Hostname: "mx.tester.example",
		BaseURL: "https://tester.example", Now: func() time.Time { return now }}
	if got, err := w.Check(ctx); err != nil || len(got) != 0 {
		t.Fatalf("a quiet week: %v %v", got, err)
	}
	day(t, st, today.AddDate(0, 0, -1), 500, 400, "203.0.113.66")
	z.Remove("_dmarc.abc.it", 16)
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=none; rua=mailto:rua@tester.example")
	return w, st, now
}

// TestPseudoLocale: the alert mails, in the pseudo-locale, hold no word
// outside the catalog but the data (addresses, records, links).
func TestPseudoLocale(t *testing.T) {
	w, st, now := badDay(t, i18n.EnablePseudo())
	if got, _ := check(t, w); len(got) < 3 {
		t.Fatalf("%d alerts", len(got))
	}
	due, err := st.Due(context.Background(), now, 100)
	if err != nil {
		t.Fatal(err)
	}
	mails := 0
	for _, o := range due {
		if o.Channel == store.Webhook {
			continue
		}
		m := message.Parse(o.Data)
		body, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(m.Body)))
		if err != nil {
			t.Fatal(err)
		}
		subject, _ := new(mime.WordDecoder).DecodeHeader(m.First("Subject"))
		if bad := i18ntest.Unmarked(subject + "\n" + string(body)); len(bad) > 0 {
			t.Errorf("alert mail %q: words not from the catalog: %q\n%s", subject, bad, body)
		}
		mails++
	}
	if mails < 3 {
		t.Errorf("%d alert mails", mails)
	}
}

// check runs one check and returns its alerts and their texts by kind.
func check(t *testing.T, w *Watcher) ([]Alert, map[string]string) {
	t.Helper()
	got, err := w.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, a := range got {
		kinds[a.Kind] = a.Text
	}
	return got, kinds
}

// TestWatchedDomains: the operator's domains are all watched, before any
// a report names; a reported domain is watched only when it publishes
// this tester as its report address, and one reporter naming 250 domains
// brings at most MaxPerReporter of them, and their alerts at most
// MaxAlertsPerReporter. A domain whose data breaks the check is skipped,
// not the end of the run.
func TestWatchedDomains(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	z := dnsx.NewZone()
	var reports []*store.DMARCReport
	for i := range 250 {
		d := fmt.Sprintf("d%03d.example", i)
		// Each was weakened from p=reject, and names the tester.
		z.AddTXT("_dmarc."+d, "v=DMARC1; p=none; rua=mailto:rua@tester.example")
		reports = append(reports, &store.DMARCReport{Org: "flood.example", ReportID: d, Domain: d, Begin: now.Add(-30 * time.Hour), End: now.Add(-6 * time.Hour),
			Messages: 1, Records: 1, Rows: []*store.DMARCRecord{{SourceIP: "192.0.2.1", Count: 1, HeaderFrom: d, Auth: "{}"}}})
	}
	// A stranger's domain that does not name the tester is not watched.
	z.AddTXT("_dmarc.other.example", "v=DMARC1; p=none; rua=mailto:d@tester.example.evil")
	reports = append(reports, &store.DMARCReport{Org: "flood.example", ReportID: "other", Domain: "other.example", Begin: now.Add(-30 * time.Hour), End: now.Add(-6 * time.Hour),
		Messages: 1, Records: 1, Rows: []*store.DMARCRecord{{SourceIP: "192.0.2.1", Count: 1, HeaderFrom: "other.example", Auth: "{}"}}})
	m := &store.ReportMessage{ID: store.NewID(), Received: now.Add(-time.Hour), Rcpt: "rua@t", ClientIP: "198.51.100.1", Raw: []byte("x")}
	if err := st.SaveReportMail(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := st.AddReports(ctx, m, reports, nil); err != nil {
		t.Fatal(err)
	}
	z.AddTXT("_dmarc.mine.example", "v=DMARC1; p=reject")
	w := &Watcher{Store: st, Resolver: dnsx.NewFake(z), Domains: []string{"mine.example"}, Domain: "tester.example", Hostname: "mx.tester.example",
		Now: func() time.Time { return now }}
	// What the records were at the last run: p=reject everywhere.
	st.SetWatchState(ctx, "mine.example", "dmarc", "v=DMARC1; p=reject")
	for i := range 250 {
		st.SetWatchState(ctx, fmt.Sprintf("d%03d.example", i), "dmarc", "v=DMARC1; p=reject; rua=mailto:rua@tester.example")
	}
	st.SetWatchState(ctx, "other.example", "dmarc", "v=DMARC1; p=reject")
	z.Remove("_dmarc.mine.example", 16)
	z.AddTXT("_dmarc.mine.example", "v=DMARC1; p=none")
	got, err := w.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byDomain := map[string]bool{}
	flood := 0
	for _, a := range got {
		byDomain[a.Domain] = true
		if strings.HasSuffix(a.Domain, ".example") && strings.HasPrefix(a.Domain, "d") {
			flood++
		}
	}
	if !byDomain["mine.example"] {
		t.Errorf("the operator's weakened record raised no alert among %d", len(got))
	}
	if byDomain["other.example"] {
		t.Error("a domain that does not name the tester was watched")
	}
	if flood == 0 || flood > MaxAlertsPerReporter {
		t.Errorf("%d alerts about one reporter's domains, want 1 to %d", flood, MaxAlertsPerReporter)
	}
}
