package store

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/testerd/testerd/rcpt"
)

// BenchmarkRetention fills the store with a million judged probes, then
// deletes the older half (half a million: a busy day) while intake goes
// on, and reports how long the deletion took and what it did to intake:
// the slowest and the 99th-percentile SaveProbe during it. "batched" is
// DeleteBefore; "one-statement" is the single DELETE it replaced.
//
//	go test ./store -run '^$' -bench Retention -benchtime 1x -timeout 30m
func BenchmarkRetention(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, how := range []string{"batched", "one-statement"} {
			b.Run(engine+"/"+how, func(b *testing.B) {
				ctx := context.Background()
				s, err := Open(ctx, location(b))
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				const rows = 1_000_000
				base := time.Now().Add(-48 * time.Hour).UnixNano()
				fill := `WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < ?)
					INSERT INTO probes (id, received_at, kind, rcpt, extension, client_ip, helo, mail_from, tls_version, tls_cipher, size, raw)
					SELECT 'p' || i, CAST(? AS BIGINT) + i * CAST(100000 AS BIGINT), 'spf', 'spf@t', '', '192.0.2.1', 'h', 'a@b', '', '', 1, ?  FROM g`
				if _, err := s.w.ExecContext(ctx, fill, rows, base, []byte("x")); err != nil {
					b.Fatal(err)
				}
				if _, err := s.w.ExecContext(ctx, `INSERT INTO verdicts (probe_id, judged_at, tags, from_domain, subject, verdict)
					SELECT id, received_at, '|OK| spf-pass', 'b', 's', ? FROM probes`, []byte("{}")); err != nil {
					b.Fatal(err)
				}
				cut := time.Unix(0, base+rows/2*100000)
				var mu sync.Mutex
				var lat []time.Duration
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						start := time.Now()
						p := &Probe{Address: rcpt.Address{Kind: "spf"}, ID: fmt.Sprint("new", i), Received: time.Now(), ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte("x")}
						if err := s.SaveProbe(ctx, p); err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						lat = append(lat, time.Since(start))
						mu.Unlock()
						time.Sleep(time.Millisecond)
					}
				}()
				b.ResetTimer()
				start := time.Now()
				var n int64
				if how == "batched" {
					n, err = s.DeleteBefore(ctx, cut)
				} else {
					var res interface{ RowsAffected() (int64, error) }
					res, err = s.w.ExecContext(ctx, `DELETE FROM probes WHERE received_at < ?`, cut.UnixNano())
					if err == nil {
						n, _ = res.RowsAffected()
					}
				}
				took := time.Since(start)
				close(stop)
				wg.Wait()
				if err != nil || n < rows/2-1 {
					b.Fatalf("deleted %d: %v", n, err)
				}
				slices.Sort(lat)
				b.ReportMetric(took.Seconds(), "delete-s")
				b.ReportMetric(float64(len(lat)), "intake-writes")
				if len(lat) > 0 {
					b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "intake-p99-ms")
					b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "intake-max-ms")
				}
			})
		}
	}
}
