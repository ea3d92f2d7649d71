package verify

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
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
	p := Probe{Kind: KindCheck, IP: netip.MustParseAddr("198.51.100.7"), Helo: "out.esp.net", MailFrom: "joe@abc.it", Raw: []byte(sig + msg)}
	j := &Judge{Resolver: dnsx.NewFake(z), Receiver: "tester.example", Now: func() time.Time { return goldenNow }}
	if v := j.Judge(context.Background(), p); strings.Join(v.Tags, " ") != "|OK| dmarc-pass |OK| spf-pass |OK| dkim-pass" {
		b.Fatalf("tags %q", v.Tags)
	}
	b.SetBytes(int64(len(p.Raw)))
	b.ReportAllocs()
	for b.Loop() {
		j.Judge(context.Background(), p)
	}
}
