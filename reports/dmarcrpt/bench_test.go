package dmarcrpt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/testerd/testerd/internal/shared"
)

// BenchmarkParseLarge parses the 909 KB, 2,286-record sample.
func BenchmarkParseLarge(b *testing.B) {
	doc, err := os.ReadFile(filepath.Join(shared.Dir(b, "testdata", "dmarc-rua", "parsedmarc", "aggregate"), "large-example.com_1711897200_1711983600.xml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if f, err := Parse(doc); err != nil || len(f.Records) != 2286 {
			b.Fatal(err)
		}
	}
}
