package reports

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/rcpt"
	"github.com/testerd/testerd/reports/rpttest"
	"github.com/testerd/testerd/store"
)

// TestWhitespaceAmplification: a valid report padded with megabytes of
// spaces gzips to kilobytes; the store keeps the message and the parsed
// rows, not the decompressed blob, and one network's reports stop being
// read past the daily budget (the messages are kept, with the reason).
func TestWhitespaceAmplification(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "r.db")
	st, err := store.Open(ctx, file)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const pad = 8 << 20
	in := &Ingester{Store: st, Budget: 3*pad + 1<<20}
	var probes []*store.Probe
	for i := range 4 {
		doc := strings.Replace(rpttest.Tiny, "<report_id>r1<", fmt.Sprintf("<report_id>pad-%d<", i), 1)
		doc = strings.Replace(doc, "<record>", strings.Repeat(" ", pad)+"<record>", 1)
		p := &store.Probe{ID: store.NewID(), Received: time.Now(), Address: rcpt.Address{Kind: kind.Report}, Recipient: "rua@tester.example",
			ClientIP: netip.MustParseAddr("198.51.100.7"), Raw: rpttest.Message("application/gzip", rpttest.Gzip([]byte(doc)))}
		if len(p.Raw) > 64<<10 {
			t.Fatalf("the padded report mails %d bytes", len(p.Raw))
		}
		if err := in.Ingest(ctx, p); err != nil {
			t.Fatal(err)
		}
		probes = append(probes, p)
	}
	list, err := st.Reports(ctx, "", time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	read, refused := 0, 0
	for _, r := range list {
		full, err := st.Report(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case r.Error == "" && r.Records == 1:
			read++
			if len(full.XML) != 0 {
				t.Errorf("report %s keeps %d bytes of decompressed XML", r.ReportID, len(full.XML))
			}
			if x, ok := Original(full.Raw, r.ReportID); !ok || len(x) < pad {
				t.Errorf("report %s cannot be decompressed again from its message", r.ReportID)
			}
		case strings.Contains(r.Error, ErrDaily.Error()):
			refused++
		default:
			t.Errorf("report %+v", r)
		}
	}
	if read != 3 || refused != 1 {
		t.Errorf("%d read, %d refused, want 3 and 1 (budget %d MB)", read, refused, in.Budget>>20)
	}
	st.Close()
	if fi, err := os.Stat(file); err != nil || fi.Size() > 4<<20 {
		t.Errorf("4 messages of %d MB decompressed stored %d bytes (%v)", pad>>20, fi.Size(), err)
	}
}
