package lint

import (
	"context"
	"testing"

	"github.com/testerd/testerd/dnsx"
)

// BenchmarkCheck: a whole check of the healthy domain (SPF tree with an
// include, DMARC, one DKIM key, one MX with FCrDNS) through the fake
// resolver: the checker's own cost, without network time.
func BenchmarkCheck(b *testing.B) {
	z := dnsx.NewZone()
	base(z)
	c := &Checker{Resolver: dnsx.NewFake(z)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Check(context.Background(), "example.com", Options{Selectors: []string{"s1"}}); err != nil {
			b.Fatal(err)
		}
	}
}
