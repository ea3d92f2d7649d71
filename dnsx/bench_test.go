package dnsx

import (
	"context"
	"testing"
	"time"
)

// BenchmarkLookup measures what each part of the client buys, against the
// loopback server: a new socket per question, a reused one, and a cache
// hit; then 8 goroutines asking the same name, with and without
// coalescing.
//
//	go test ./dnsx -run '^$' -bench Lookup -benchmem
func BenchmarkLookup(b *testing.B) {
	z := NewZone()
	z.AddTXT("a.example", "v=spf1 ip4:192.0.2.0/24 -all")
	srv, err := StartServer(z)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		name               string
		noReuse, noCoalesc bool
		cache              time.Duration
		parallel           bool
	}{
		{"new-socket", true, true, 0, false},
		{"reused-socket", false, true, 0, false},
		{"cached", false, false, 5 * time.Second, false},
		{"parallel-same-name/no-coalescing", false, true, 0, true},
		{"parallel-same-name/coalesced", false, false, 0, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, _ := NewClient(srv.Addr(), time.Second)
			c.noReuse, c.noCoalesce, c.CacheTTL = tc.noReuse, tc.noCoalesc, tc.cache
			before := srv.Queries()
			if tc.parallel {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := c.LookupTXT(ctx, "a.example"); err != nil {
							b.Error(err)
						}
					}
				})
			} else {
				for b.Loop() {
					if _, err := c.LookupTXT(ctx, "a.example"); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(srv.Queries()-before)/float64(b.N), "queries/op")
		})
	}
}
