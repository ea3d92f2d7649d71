package verify

import (
	"context"
	"crypto"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// BenchmarkJudge is one full verdict (SPF for both identities, one
// RSA-2048 DKIM signature, From, DMARC, tags, Authentication-Results) for
// an 8 KB message, through the in-memory fake resolver.
//
//	go test ./verify -run '^$' -bench Judge -benchmem
func BenchmarkJudge(b *testing.B) {
	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 include:_spf.esp.net ip4:192.0.2.0/24 -all")
	z.AddTXT("_spf.esp.net", "v=spf1 ip4:198.51.100.0/24 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject; rua=mailto:dmarc@abc.it")
	key := dkimtest.RSA(2048)
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(key.Public()))

	var body strings.Builder
	for body.Len() < 8<<10 {
		body.WriteString("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n")
	}
	msg := "From: Joe <joe@abc.it>\r\nTo: check@tester.example\r\nSubject: bench\r\n" +
		"Date: Mon, 23 Nov 2026 11:59:00 +0000\r\nMessage-ID: <b@abc.it>\r\n\r\n" + body.String()
	sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: key})
	if err != nil {
		b.Fatal(err)
	}
	p := Probe{Kind: kind.Check, IP: netip.MustParseAddr("198.51.100.7"), Helo: "out.esp.net", MailFrom: "joe@abc.it", Raw: []byte(sig + msg)}
	j := &Judge{Resolver: dnsx.NewFake(z), Receiver: "tester.example", Now: func() time.Time { return benchNow }}
	if v := j.Judge(context.Background(), p); strings.Join(v.Tags, " ") != "|OK| dmarc-pass |OK| spf-pass |OK| dkim-pass" {
		b.Fatalf("tags %q", v.Tags)
	}
	b.SetBytes(int64(len(p.Raw)))
	b.ReportAllocs()
	for b.Loop() {
		j.Judge(context.Background(), p)
	}
}

// BenchmarkJudgeSize shows how a verdict's cost grows with the message
// size (8 KB, 100 KB, 1 MB) and with the number of DKIM signatures (1, 3
// and 10, the verification cap; RSA-2048 and Ed25519 alternating, each
// under its own selector).
//
//	go test ./verify -run '^$' -bench JudgeSize -benchmem
func BenchmarkJudgeSize(b *testing.B) {
	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ip4:192.0.2.0/24 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject; rua=mailto:dmarc@abc.it")
	var keys []crypto.Signer
	for i := range dkim.MaxSignatures {
		var k crypto.Signer = dkimtest.Ed25519(fmt.Sprint("size", i))
		if i%2 == 0 {
			k = dkimtest.RSA(2048)
		}
		keys = append(keys, k)
		z.AddTXT(fmt.Sprintf("s%d._domainkey.abc.it", i), dkimtest.KeyRecord(k.Public()))
	}
	j := &Judge{Resolver: dnsx.NewFake(z), Receiver: "tester.example", Now: func() time.Time { return benchNow }}
	line := "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
	for _, size := range []int{8 << 10, 100 << 10, 1 << 20} {
		for _, sigs := range []int{1, 3, dkim.MaxSignatures} {
			body := strings.Repeat(line, size/len(line)+1)
			msg := "From: Joe <joe@abc.it>\r\nTo: check@tester.example\r\nSubject: bench\r\n" +
				"Date: Mon, 23 Nov 2026 11:59:00 +0000\r\nMessage-ID: <b@abc.it>\r\n\r\n" + body
			raw := msg
			for i := range sigs {
				sig, err := dkimtest.Sign([]byte(raw), dkimtest.Options{Domain: "abc.it", Selector: fmt.Sprintf("s%d", i), Signer: keys[i]})
				if err != nil {
					b.Fatal(err)
				}
				raw = sig + raw
			}
			p := Probe{Kind: kind.Check, IP: netip.MustParseAddr("192.0.2.7"), Helo: "mail.abc.it", MailFrom: "joe@abc.it", Raw: []byte(raw)}
			b.Run(fmt.Sprintf("size=%dKB/sigs=%d", size>>10, sigs), func(b *testing.B) {
				if v := j.Judge(context.Background(), p); strings.Join(v.Tags, " ") != "|OK| dmarc-pass |OK| spf-pass |OK| dkim-pass" {
					b.Fatalf("tags %q", v.Tags)
				}
				b.SetBytes(int64(len(p.Raw)))
				b.ReportAllocs()
				for b.Loop() {
					j.Judge(context.Background(), p)
				}
			})
		}
	}
}

// benchNow is the clock of the benchmarks (the golden cases' day).
var benchNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
