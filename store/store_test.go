package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/rcpt"

	"github.com/testerd/testerd/internal/pgtest"
	"github.com/testerd/testerd/kind"
)

// bothEngines runs test on SQLite and, when a server is given, on
// PostgreSQL (pgtest): the store has one code path for the two.
func bothEngines(t *testing.T, test func(t *testing.T)) {
	t.Run("sqlite", test)
	t.Run("postgres", test)
}

// location is a fresh database for the engine t runs on (bothEngines).
func location(t testing.TB) string {
	if strings.Contains(t.Name(), "/postgres") {
		return pgtest.DSN(t)
	}
	return filepath.Join(t.TempDir(), "testerd.db")
}

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestProbesAndVerdicts(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		path := location(t)
		s := open(t, path)
		base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		for i := 0; i < 5; i++ {
			k := "spf"
			if i%2 == 1 {
				k = "dkim"
			}
			p := &Probe{Address: rcpt.Address{Kind: kind.Kind(k)}, ID: fmt.Sprintf("id%d", i), Received: base.Add(time.Duration(i) * time.Second), Recipient: k + "@tester.example", ClientIP: netip.MustParseAddr("2001:db8::1"), Helo: "mx.example.com",
				MailFrom: "a@example.com", Size: 10, Raw: []byte("Subject: x\r\n\r\nbody")}
			if i == 0 {
				p.TLS = &TLS{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256"}
			}
			if err := s.SaveProbe(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SaveProbe(ctx, &Probe{ID: "id0", Received: base}); err == nil {
			t.Error("a duplicate id was accepted")
		}
		if err := s.SaveVerdict(ctx, &Verdict{ProbeID: "id0", Judged: base.Add(time.Minute), Tags: []string{"|OK| spf-pass", "!! spf-diff !!"}, FromDomain: "example.com", JSON: []byte(`{"kind":"spf"}`)}); err != nil {
			t.Fatal(err)
		}
		pending, err := s.Pending(ctx)
		if err != nil || fmt.Sprint(pending) != "[id1 id2 id3 id4]" {
			t.Fatalf("pending %v %v", pending, err)
		}
		r, err := s.Get(ctx, "id0")
		if err != nil {
			t.Fatal(err)
		}
		if r.Kind != "spf" || r.TLS == nil || r.TLS.Version != "TLS 1.3" || string(r.Raw) != "Subject: x\r\n\r\nbody" ||
			string(r.Verdict) != `{"kind":"spf"}` || len(r.Tags) != 2 || r.Tags[1] != "!! spf-diff !!" || r.ClientIP.String() != "2001:db8::1" || !r.Received.Equal(base) {
			t.Errorf("%+v", r)
		}
		if _, err := s.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
		list, err := s.List(ctx, ListQuery{Kind: "spf", Limit: 10})
		if err != nil || len(list) != 3 || list[0].ID != "id4" || list[2].ID != "id0" || list[0].Raw != nil || list[2].Verdict != nil {
			t.Fatalf("list: %v %v", list, err)
		}
		if list, _ := s.List(ctx, ListQuery{Limit: 2, WithVerdict: true}); len(list) != 2 || list[0].ID != "id4" {
			t.Errorf("list all: %v", list)
		}

		// Reopening applies no migration twice and keeps everything.
		s.Close()
		s = open(t, path)
		if n, err := s.DeleteBefore(ctx, base.Add(2*time.Second)); err != nil || n != 2 {
			t.Fatalf("delete: %d %v", n, err)
		}
		var verdicts int
		s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM verdicts`).Scan(&verdicts)
		if verdicts != 0 {
			t.Errorf("the verdict of a deleted probe remains")
		}
		if !s.d.postgres {
			var mode string
			s.db.QueryRowContext(context.Background(), `PRAGMA journal_mode`).Scan(&mode)
			if mode != "wal" {
				t.Errorf("journal mode %q", mode)
			}
		}
	})
}

func TestNewerSchema(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		path := location(t)
		s := open(t, path)
		s.w.ExecContext(context.Background(), `UPDATE schema_version SET version = 99`)
		s.Close()
		if _, err := Open(context.Background(), path); err == nil {
			t.Fatal("a newer schema was accepted")
		}
	})
}

// BenchmarkSaveProbes measures committing 8 KB probes from 1 and from 16
// concurrent callers: the writer batches the concurrent ones into shared
// transactions and fsyncs.
//
//	go test ./store -run '^$' -bench SaveProbes -benchmem
func BenchmarkSaveProbes(b *testing.B) {
	raw := []byte(strings.Repeat("x", 8<<10))
	for _, callers := range []int{1, 16} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			s, err := Open(context.Background(), filepath.Join(b.TempDir(), "b.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			b0 := s.Stats()
			c0, w0 := b0.Commits, b0.Writes
			b.SetParallelism(callers)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p := &Probe{Address: rcpt.Address{Kind: "spf"}, ID: NewID(), Received: time.Now(), Recipient: "spf@t", ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: raw, Size: len(raw)}
					if err := s.SaveProbes(context.Background(), []*Probe{p}); err != nil {
						b.Error(err)
					}
				}
			})
			st := s.Stats()
			c, w, largest := st.Commits, st.Writes, st.Largest
			b.ReportMetric(float64(w-w0)/float64(c-c0), "writes/commit")
			b.ReportMetric(float64(largest), "largest-batch")
		})
	}
}

// TestHealth: a writable store is healthy; one whose writes fail (here
// the write connection made read-only, as a read-only file or a full disk
// would) is not, and neither is a damaged file.
func TestHealth(t *testing.T) {
	ctx := context.Background()
	path := location(t)
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Health(ctx); err != nil {
		t.Fatalf("a new store: %v", err)
	}
	for i := range 50 {
		s.SaveProbe(ctx, &Probe{Address: rcpt.Address{Kind: "spf"}, ID: fmt.Sprint(i), Received: time.Now(), ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte(strings.Repeat("x", 5000))})
	}
	if _, err := s.w.ExecContext(ctx, `PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	s.health.checked = time.Time{}
	if err := s.Health(ctx); err == nil || !strings.Contains(err.Error(), "cannot be written") {
		t.Errorf("read-only: %v", err)
	}
	if err := s.SaveProbe(ctx, &Probe{ID: "x", Received: time.Now(), ClientIP: netip.MustParseAddr("192.0.2.1")}); err == nil {
		t.Fatal("a write to a read-only store succeeded")
	}
	if err := s.Health(ctx); err == nil || !strings.Contains(err.Error(), "writes failed") {
		t.Errorf("after a failed commit: %v", err)
	}
	s.Close()

	// Damage a page in the middle of the file.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := f.Stat()
	f.WriteAt(bytes.Repeat([]byte{0xff}, 4096), st.Size()/2/4096*4096)
	f.Close()
	s, err = Open(ctx, path)
	if err != nil {
		t.Logf("Open refused the damaged file: %v", err)
		return // refusing to open a damaged file is fine too
	}
	defer s.Close()
	if err := s.Health(ctx); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged file: %v", err)
	}
}

// TestRawOnce: a message to several recipients is stored once, and each
// probe reads it back; retention drops it with its last probe.
func TestRawOnce(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		raw := bytes.Repeat([]byte("x"), 1<<20)
		var ps []*Probe
		for i := range 10 {
			ps = append(ps, &Probe{Address: rcpt.Address{Kind: "spf"}, ID: fmt.Sprint("p", i), Received: time.Now().Add(-time.Hour), Recipient: fmt.Sprintf("spf+%d@t", i),
				ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: raw, Size: len(raw)})
		}
		if err := s.SaveProbes(ctx, ps); err != nil {
			t.Fatal(err)
		}
		var stored int64
		if err := s.db.QueryRowContext(ctx, `SELECT (SELECT COALESCE(SUM(length(raw)), 0) FROM probes) + (SELECT COALESCE(SUM(length(raw)), 0) FROM raws)`).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored != int64(len(raw)) {
			t.Errorf("%d bytes of messages stored for one 1 MB message to 10 recipients", stored)
		}
		for _, p := range ps {
			r, err := s.Get(ctx, p.ID)
			if err != nil || !bytes.Equal(r.Raw, raw) {
				t.Fatalf("%s: %v, %d bytes", p.ID, err, len(r.Raw))
			}
		}
		if n, err := s.DeleteBefore(ctx, time.Now()); err != nil || n != 10 {
			t.Fatalf("retention: %d, %v", n, err)
		}
		var left int
		s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM raws`).Scan(&left)
		if left != 0 {
			t.Errorf("%d messages left after their probes went", left)
		}
	})
}

// TestReportCountOverflow: report counts that overflow a 64-bit sum still
// list, clamped.
func TestReportCountOverflow(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		for i := range 3 {
			m := &ReportMessage{ID: fmt.Sprint("m", i), Received: time.Now(), Rcpt: "rua@t", ClientIP: "192.0.2.1", Raw: []byte("x")}
			r := &DMARCReport{Org: "big", ReportID: fmt.Sprint("r", i), Domain: "abc.it", Begin: time.Now(), End: time.Now().Add(time.Hour), Messages: 4e18, XML: []byte("<x/>")}
			if err := s.SaveReportMessage(ctx, m, []*DMARCReport{r}); err != nil {
				t.Fatal(err)
			}
		}
		ds, err := s.ReportDomains(ctx, time.Now().Add(-time.Hour))
		if err != nil || len(ds) != 1 || ds[0].Messages < 8e18 {
			t.Errorf("%+v %v", ds, err)
		}
	})
}

// TestOperatorMail: the lists never mix probes and the operator's own
// mail (postmaster@, abuse@).
func TestOperatorMail(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		for i, k := range []kind.Kind{kind.Check, kind.Postmaster, kind.SPF, kind.Abuse} {
			p := &Probe{Address: rcpt.Address{Kind: k}, ID: fmt.Sprintf("id%d", i), Received: base.Add(time.Duration(i) * time.Second), Recipient: string(k) + "@tester.example", ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte("Subject: x\r\n\r\nbody")}
			if err := s.SaveProbe(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(q ListQuery) string { return listIDs(t, s, q) }
		if got := ids(ListQuery{}); got != "id2 id0" {
			t.Errorf("probes: %s", got)
		}
		if got := ids(ListQuery{Kind: kind.Postmaster}); got != "" {
			t.Errorf("postmaster@ mail in a probe list: %s", got)
		}
		if got := ids(ListQuery{Operator: true}); got != "id3 id1" {
			t.Errorf("operator mail: %s", got)
		}
		if got := ids(ListQuery{Operator: true, Kind: kind.Abuse}); got != "id3" {
			t.Errorf("abuse@ mail: %s", got)
		}
	})
}

// TestJudgedAgain: a verdict stored with Again keeps the one it replaces.
func TestJudgedAgain(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		if err := s.SaveProbe(ctx, &Probe{Address: rcpt.Address{Kind: kind.SPF}, ID: "p1", Received: t0, ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveVerdict(ctx, &Verdict{ProbeID: "p1", Judged: t0, Tags: []string{"old"}, JSON: []byte(`{"tags":["old"]}`)}); err != nil {
			t.Fatal(err)
		}
		if ids, err := s.JudgedSince(ctx, t0, 10); err != nil || fmt.Sprint(ids) != "[p1]" {
			t.Fatalf("JudgedSince: %v %v", ids, err)
		}
		if ids, _ := s.JudgedSince(ctx, t0.Add(time.Second), 10); len(ids) != 0 {
			t.Errorf("JudgedSince after the probe: %v", ids)
		}
		t1 := t0.Add(time.Hour)
		if err := s.SaveVerdict(ctx, &Verdict{ProbeID: "p1", Judged: t1, Tags: []string{"new"}, JSON: []byte(`{"tags":["new"]}`), Again: true}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Get(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Verdict) != `{"tags":["new"]}` || string(r.Previous) != `{"tags":["old"]}` || !r.PreviousJudged.Equal(t0) || !r.Judged.Equal(t1) {
			t.Errorf("after re-analysis: verdict %s previous %s at %v, judged %v", r.Verdict, r.Previous, r.PreviousJudged, r.Judged)
		}
	})
}

// TestPrivateTests: a private test's probes are listed only for its tag.
func TestPrivateTests(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		tok := rcpt.NewPrivate()
		if !rcpt.IsPrivate(tok) || rcpt.IsPrivate("t-short") || rcpt.IsPrivate("mario") || !rcpt.IsPrivate(strings.ToUpper(tok)) {
			t.Fatalf("IsPrivate wrong around %q", tok)
		}
		base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		for i, ext := range []string{"", strings.ToUpper(tok), "it+" + tok, "mario"} {
			p := &Probe{Address: rcpt.Parse(kind.Check, ext), ID: fmt.Sprintf("id%d", i), Received: base.Add(time.Duration(i) * time.Second), ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte("x")}
			if err := s.SaveProbe(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(q ListQuery) string { return listIDs(t, s, q) }
		if got := ids(ListQuery{}); got != "id3 id0" {
			t.Errorf("public list: %s", got)
		}
		if got := ids(ListQuery{Tag: tok}); got != "" {
			t.Errorf("a private tag through the public tag filter: %s", got)
		}
		if got := ids(ListQuery{Private: tok}); got != "id2 id1" {
			t.Errorf("private test: %s", got)
		}
	})
}

// listIDs lists q (at most 10) and returns the ids, space-separated.
func listIDs(t *testing.T, s *Store, q ListQuery) string {
	t.Helper()
	q.Limit = 10
	rs, err := s.List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return strings.Join(out, " ")
}

// TestStrangersText: text that PostgreSQL's text type refuses (NUL,
// invalid UTF-8) is stored all the same, readable; the message itself
// keeps its bytes.
func TestStrangersText(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		raw := []byte("Subject: \xff\xfe\r\n\r\nbody\x00\r\n")
		p := &Probe{Address: rcpt.Address{Kind: "spf"}, ID: "odd", Received: time.Now(), Recipient: "spf@t", Helo: "bad\x00\xffhelo", MailFrom: "a\xc3@b",
			ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: raw, Size: len(raw)}
		if err := s.SaveProbe(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveVerdict(ctx, &Verdict{ProbeID: "odd", Judged: time.Now(), Subject: "\xff\x00x", FromDomain: "b", JSON: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		r, err := s.Get(ctx, "odd")
		if err != nil || !bytes.Equal(r.Raw, raw) {
			t.Fatalf("read back: %+v %v", r, err)
		}
		// The one divergence of the engines (dialect.clean): SQLite keeps
		// a stranger's text as it came; PostgreSQL's text drops NUL and
		// replaces invalid UTF-8 with U+FFFD. Bytes are equal on both.
		want := []string{"bad\x00\xffhelo", "a\xc3@b", "\xff\x00x"}
		if s.d.postgres {
			want = []string{"bad\ufffdhelo", "a\ufffd@b", "\ufffdx"}
		}
		if got := []string{r.Helo, r.MailFrom, r.Subject}; strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("text read back %q, want %q", got, want)
		}
	})
}

// TestPrivateBackfill: probes stored before a private test's token was
// found anywhere in the extension (check+x+t-TOKEN@) are marked private
// by the migration that brings the view keys, and leave the lists.
func TestPrivateBackfill(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		path := location(t)
		s := open(t, path)
		tok := rcpt.NewPrivate()
		p := &Probe{Address: rcpt.Parse(kind.Check, "x+"+tok), ID: NewID(), Received: time.Now(), Recipient: "check+x+" + tok + "@t",
			ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte("Subject: s\r\n\r\nb\r\n")}
		if err := s.SaveProbe(ctx, p); err != nil {
			t.Fatal(err)
		}
		// As an older testerd stored it: not private, schema 20.
		for _, q := range []string{`UPDATE probes SET private = ''`, `ALTER TABLE probes DROP COLUMN view_key`,
			`DROP INDEX outbox_live_rcpt_key`, `DROP INDEX outbox_live_rcpt_domain`, `DROP INDEX outbox_live_client_ip`,
			`ALTER TABLE outbox DROP COLUMN attempt_started`, `DROP TABLE nodes`, `DROP TABLE sessions`, `UPDATE schema_version SET version = 20`} {
			if _, err := s.w.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		s = open(t, path)
		if got, err := s.List(ctx, ListQuery{Kind: kind.Check, Limit: 10}); err != nil || len(got) != 0 {
			t.Errorf("listed after the backfill: %d (%v)", len(got), err)
		}
		if got, err := s.List(ctx, ListQuery{Private: tok, Limit: 10}); err != nil || len(got) != 1 {
			t.Errorf("the private test has %d results (%v)", len(got), err)
		}
	})
}
