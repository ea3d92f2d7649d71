package outbound

import (
	"bytes"
	"testing"
)

// BenchmarkSign: one reply-sized message (6 KB) signed with RSA-2048 and
// Ed25519, as the queue does before each attempt.
func BenchmarkSign(b *testing.B) {
	keys, err := LoadOrCreateKeys(b.TempDir(), "testerd", true)
	if err != nil {
		b.Fatal(err)
	}
	s := &Signer{Domain: "tester.example", Keys: keys}
	data := append([]byte("From: spf@tester.example\r\nTo: <joe@abc.it>\r\nSubject: |OK| spf-pass x\r\n\r\n"),
		bytes.Repeat([]byte("a line of the explanation, quoted-printable encoded\r\n"), 120)...)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(data); err != nil {
			b.Fatal(err)
		}
	}
}
