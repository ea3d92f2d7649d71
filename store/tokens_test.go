package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/rcpt"

	"github.com/testerd/testerd/kind"
)

// TestTokens: a token is found by its secret only, kept hashed, and a
// revoked one is refused at once.
func TestTokens(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		path := location(t)
		s := open(t, path)
		tok := &Token{Name: "monitor", Scopes: []Scope{ScopeResults}}
		secret, err := s.AddToken(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, TokenPrefix) || len(secret) < 40 || tok.Rate != DefaultRate {
			t.Fatalf("secret %q rate %d", secret, tok.Rate)
		}
		got, err := s.TokenBySecret(ctx, secret)
		if err != nil || got.ID != tok.ID || !got.Has(ScopeResults) || got.Has(ScopeReports) {
			t.Fatalf("by secret: %+v %v", got, err)
		}
		for _, wrong := range []string{"", secret + "x", strings.TrimPrefix(secret, TokenPrefix), HashToken(secret)} {
			if _, err := s.TokenBySecret(ctx, wrong); !errors.Is(err, ErrNotFound) {
				t.Errorf("TokenBySecret(%q): %v", wrong, err)
			}
		}
		var stored int
		s.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM api_tokens WHERE hash = ? OR name LIKE ?`, secret, "%"+secret+"%").Scan(&stored)
		if stored != 0 {
			t.Error("the secret is stored as it is")
		}
		if err := s.RevokeToken(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.TokenBySecret(ctx, secret); !errors.Is(err, ErrRevoked) {
			t.Errorf("revoked token: %v", err)
		}
		if err := s.RevokeToken(ctx, "nosuch"); !errors.Is(err, ErrNotFound) {
			t.Errorf("revoking an unknown token: %v", err)
		}
		admin := &Token{Scopes: []Scope{ScopeAdmin}}
		if !admin.Has(ScopeReports) || (*Token)(nil).Has(ScopeResults) {
			t.Error("admin grants every scope; no token grants none")
		}
		if _, err := ParseScopes("results,bogus"); err == nil {
			t.Error("an unknown scope is accepted")
		}
		if _, err := s.AddToken(ctx, &Token{Name: "a\r\nb", Scopes: []Scope{ScopeTests}}); err == nil {
			t.Error("a name with CR LF is accepted")
		}
	})
}

// TestWebhookEvents: a verdict's event is queued for the tokens that see
// it, once each, with the verdict in one transaction.
func TestWebhookEvents(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		all := &Token{Name: "all", Scopes: []Scope{ScopeResults}, Webhook: "https://hooks.example/all"}
		owner := &Token{Name: "owner", Scopes: []Scope{ScopeTests}, Webhook: "https://hooks.example/owner"}
		quiet := &Token{Name: "no hook", Scopes: []Scope{ScopeResults}}
		gone := &Token{Name: "revoked", Scopes: []Scope{ScopeResults}, Webhook: "https://hooks.example/gone"}
		for _, tk := range []*Token{all, owner, quiet, gone} {
			if _, err := s.AddToken(ctx, tk); err != nil {
				t.Fatal(err)
			}
		}
		s.RevokeToken(ctx, gone.ID)
		test := rcpt.NewPrivate()
		if err := s.OwnTest(ctx, test, owner.ID); err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		for _, p := range []*Probe{
			{ID: "public", Received: now, Address: rcpt.Address{Kind: kind.Check}, ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte("x")},
			{ID: "mine", Received: now, Address: rcpt.Parse(kind.Check, test), ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte("x")},
		} {
			if err := s.SaveProbe(ctx, p); err != nil {
				t.Fatal(err)
			}
			for range 2 { // stored twice: queued once
				if err := s.SaveVerdict(ctx, &Verdict{ProbeID: p.ID, Judged: now, JSON: []byte("{}"), Event: []byte(`{"id":"` + p.ID + `"}`)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		due, err := s.Due(ctx, now.Add(time.Second), 100)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, o := range due {
			if o.Channel != Webhook || o.ProbeID != "" || len(o.Data) == 0 {
				t.Errorf("event %+v", o)
			}
			got = append(got, o.About+">"+o.Rcpt)
		}
		want := map[string]bool{"public>https://hooks.example/all": true, "mine>https://hooks.example/all": true, "mine>https://hooks.example/owner": true}
		if len(got) != len(want) {
			t.Fatalf("queued %v, want %v", got, want)
		}
		for _, g := range got {
			if !want[g] {
				t.Errorf("queued %s", g)
			}
		}
	})
}

// BenchmarkSaveVerdictEvent: what queueing a verdict's webhook event
// costs the writer, with no token, and with one webhook token that sees
// every verdict.
func BenchmarkSaveVerdictEvent(b *testing.B) {
	verdict := []byte(`{"tags":["|OK| spf-pass"],"spf":{"result":"pass"}}` + strings.Repeat(" ", 6<<10))
	for _, c := range []struct {
		name         string
		event, token bool
	}{{"no-event", false, false}, {"event,no-token", true, false}, {"event,one-webhook", true, true}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			s, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if c.token {
				s.AddToken(ctx, &Token{Scopes: []Scope{ScopeResults}, Webhook: "https://hooks.example/"})
			}
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := &Probe{Address: rcpt.Address{Kind: kind.Check}, ID: NewID(), Received: time.Now(), ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte("x")}
					if err := s.SaveProbe(ctx, p); err != nil {
						b.Error(err)
					}
					v := &Verdict{ProbeID: p.ID, Judged: time.Now(), Tags: []string{"|OK| spf-pass"}, JSON: verdict}
					if c.event {
						v.Event = verdict
					}
					if err := s.SaveVerdict(ctx, v); err != nil {
						b.Error(err)
					}
				}
			})
		})
	}
}

// TestTLSReportsStore: TLS reports are stored with their message, a second
// copy is a duplicate counted nowhere, and the summary sums per day and by
// failure type and MX.
func TestTLSReportsStore(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		day := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
		rep := func() *TLSReport {
			return &TLSReport{Organization: "R", ReportID: "1", Start: day, End: day.Add(24*time.Hour - time.Second),
				Policies: []*TLSPolicy{{Type: "sts", Domain: "abc.it", Success: 90, Failure: 10,
					Failures: []*TLSFailureDetail{{Type: "starttls-not-supported", ReceivingMX: "mx.abc.it", Sessions: 10}}}}}
		}
		for i := range 2 {
			m := &ReportMessage{ID: fmt.Sprint("tm", i), Received: day.Add(25 * time.Hour), Rcpt: "tlsrpt@t", ClientIP: "192.0.2.1", Raw: []byte("x")}
			if err := s.SaveReportMail(ctx, m); err != nil {
				t.Fatal(err)
			}
			if err := s.AddReports(ctx, m, nil, []*TLSReport{rep()}); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := s.TLSSummaryOf(ctx, "abc.it", day.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if sum.Reports != 1 || len(sum.Days) != 1 || sum.Days[0].Success != 90 || len(sum.Failures) != 1 || sum.Failures[0].Sessions != 10 {
			t.Errorf("summary: %+v", sum)
		}
	})
}
