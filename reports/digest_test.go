package reports

import (
	"context"
	"io"
	"mime/quotedprintable"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/rcpt"

	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/reports/rpttest"
	"github.com/testerd/testerd/store"
)

func TestDigest(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "d.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Date(2023, 11, 15, 13, 0, 0, 0, time.UTC) // the tiny report covers 2023-11-14/15
	in := &Ingester{Store: st}
	p := &store.Probe{Address: rcpt.Address{Kind: "rua"}, ID: store.NewID(), Received: now, Recipient: "rua@tester.example",
		ClientIP: netip.MustParseAddr("192.0.2.9"), Raw: rpttest.Message("application/gzip", rpttest.Gzip([]byte(rpttest.Tiny)))}
	if err := in.Ingest(ctx, p); err != nil {
		t.Fatal(err)
	}
	// And a TLS report, in the body as some reporters send it.
	tlsJSON := `{"organization-name":"R","report-id":"t1","date-range":{"start-datetime":"2023-11-14T00:00:00Z","end-datetime":"2023-11-14T23:59:59Z"},` +
		`"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.com"},"summary":{"total-successful-session-count":9,"total-failure-session-count":1},` +
		`"failure-details":[{"result-type":"starttls-not-supported","receiving-mx-hostname":"mx.example.com","failed-session-count":1}]}]}`
	tp := &store.Probe{Address: rcpt.Address{Kind: "rua"}, ID: store.NewID(), Received: now, Recipient: "tlsrpt@tester.example",
		ClientIP: netip.MustParseAddr("192.0.2.9"), Raw: []byte("From: r@reporter.example\r\nSubject: Report Domain: example.com\r\nContent-Type: application/tlsrpt+json\r\n\r\n" + tlsJSON + "\r\n")}
	if err := in.Ingest(ctx, tp); err != nil {
		t.Fatal(err)
	}
	woke := false
	d := &Digest{Store: st, Domain: "tester.example", Hostname: "mx.tester.example", BaseURL: "https://tester.example",
		To: []string{"ops@example.com"}, Hour: 13, Enqueued: func() { woke = true }}
	if err := d.Send(ctx, now); err != nil {
		t.Fatal(err)
	}
	due, err := st.Due(ctx, now, 10)
	if err != nil || len(due) != 1 || due[0].Rcpt != "ops@example.com" || due[0].MailFrom != "" || !woke {
		t.Fatalf("due %+v, %v", due, err)
	}
	m := message.Parse(due[0].Data)
	body, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(m.Body))))
	for _, want := range []string{"example.com: 3 messages in 1 reports; DMARC pass 100.0%", "details: https://tester.example/reports/example.com",
		"SMTP TLS reports", "example.com: 10 sessions in 1 reports, 10.0% failed", "starttls-not-supported at mx.example.com, 1 sessions", "reports/tls/example.com"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if m.First("Auto-Submitted") != "auto-generated" || m.First("From") != `"testerd" <rua@tester.example>` {
		t.Errorf("header:\n%s", m.Header)
	}
}

func TestDigestSchedule(t *testing.T) {
	d := &Digest{Hour: 13, Location: time.UTC}
	for now, want := range map[string]string{
		"2026-11-23T12:00:00Z": "2026-11-23T13:00:00Z",
		"2026-11-23T13:00:00Z": "2026-11-24T13:00:00Z",
		"2026-11-23T23:59:00Z": "2026-11-24T13:00:00Z",
	} {
		n, _ := time.Parse(time.RFC3339, now)
		if got := d.Next(n).Format(time.RFC3339); got != want {
			t.Errorf("Next(%s) = %s, want %s", now, got, want)
		}
	}
	if _, _, err := ParseAt("25:00"); err == nil {
		t.Error("25:00 accepted")
	}
	for _, bad := range []string{"a b@c", "Joe <j@c>", "j@c\r\nBcc: x", ""} {
		if CheckAddress(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
