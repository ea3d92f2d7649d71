package requirements

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/message"
)

// FuzzCheck runs stranger-made messages (MIME, ARC, List-Unsubscribe,
// dates) through the report: it must never panic, and every item must
// have a status and evidence.
func FuzzCheck(f *testing.F) {
	f.Add([]byte("From: a@b.example\r\nDate: Mon, 23 Nov 2026 11:59:00 +0000\r\nMessage-ID: <a@b>\r\n\r\nhi\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\nMIME-Version: 1.0\r\n\r\n--x\r\nContent-Type: multipart/alternative; boundary=y\r\n\r\n--y\r\n\r\nè\r\n--y--\r\n--x\r\n"))
	f.Add([]byte("ARC-Seal: i=1; cv=none; d=a\r\nARC-Seal: i=99; cv=x\r\nARC-Authentication-Results: i=1; x\r\nARC-Message-Signature: i=1; d=a; b=\r\nList-Unsubscribe: <https://a/>, junk\r\n\r\n"))
	r := dnsx.NewFake(dnsx.NewZone())
	f.Fuzz(func(t *testing.T, raw []byte) {
		m := message.Parse(raw)
		rep := Check(context.Background(), r, Input{IP: netip.MustParseAddr("192.0.2.1"), Message: m, Size: len(raw),
			From: m.From(), Now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)})
		if len(rep.Items) != 33 || len(rep.Providers) != len(Providers) {
			t.Fatalf("%d items", len(rep.Items))
		}
		for _, it := range rep.Items {
			if it.Status == "" || it.Evidence == nil {
				t.Fatalf("item %s: status %q, evidence %v", it.ID, it.Status, it.Evidence)
			}
		}
	})
}
