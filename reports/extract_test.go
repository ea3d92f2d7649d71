package reports

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/testerd/testerd/reports/rpttest"
)

const tiny = rpttest.Tiny

var (
	gz            = rpttest.Gzip
	zipOf         = rpttest.Zip
	reportMessage = rpttest.Message
)

func TestExtractContainers(t *testing.T) {
	doc := []byte(tiny)
	for name, raw := range map[string][]byte{
		"zip":         reportMessage("application/zip", zipOf(map[string][]byte{"r.xml": doc})),
		"gzip":        reportMessage("application/gzip", gz(doc)),
		"gzip + junk": reportMessage("application/gzip", append(gz(doc), '\r', '\n')),
		"octet zip":   reportMessage("application/octet-stream", zipOf(map[string][]byte{"r.xml": doc})),
		"octet gzip":  reportMessage("application/octet-stream", gz(doc)),
		"text/xml":    reportMessage("text/xml", doc),
		"plain body":  append([]byte("From: r@x\r\nSubject: Report\r\n\r\n"), doc...),
		"inline xml":  []byte("From: r@x\r\nContent-Type: application/xml\r\nContent-Disposition: inline\r\n\r\n" + tiny),
	} {
		files, errs := Extract(raw)
		if len(files) != 1 || len(errs) != 0 || !bytes.Equal(files[0].Data, doc) {
			t.Errorf("%s: %d files, errors %v", name, len(files), errs)
		}
	}
}

func TestExtractRefuses(t *testing.T) {
	bomb := gz(bytes.Repeat([]byte{'<'}, MaxReport+10))
	zipBomb := zipOf(map[string][]byte{"r.xml": bytes.Repeat([]byte{'a'}, MaxReport+10)})
	for name, c := range map[string]struct {
		raw  []byte
		want string
	}{
		"gzip bomb":  {reportMessage("application/gzip", bomb), fmt.Sprintf("over %d MB", MaxReport>>20)},
		"zip bomb":   {reportMessage("application/zip", zipBomb), fmt.Sprintf("over %d MB", MaxReport>>20)},
		"two files":  {reportMessage("application/zip", zipOf(map[string][]byte{"a.xml": []byte(tiny), "b.xml": []byte(tiny)})), "2 files, not one"},
		"not a zip":  {reportMessage("application/zip", []byte("hello")), "zip"},
		"no report":  {[]byte("From: a@b\r\nSubject: hi\r\n\r\nJust text.\r\n"), "no report found"},
		"bad base64": {[]byte("From: a@b\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n"), "base64"},
	} {
		files, errs := Extract(c.raw)
		if len(files) != 0 || len(errs) == 0 || !strings.Contains(errors.Join(errs...).Error(), c.want) {
			t.Errorf("%s: %d files, errors %v; want %q", name, len(files), errs, c.want)
		}
	}
	if len(bomb) > 200<<10 {
		t.Logf("the gzip bomb is %d KB", len(bomb)>>10)
	}
}

// TestMessageBudget: one small message with many compressed parts cannot
// decompress more than MaxMessageReports in all.
func TestMessageBudget(t *testing.T) {
	part := gz(bytes.Repeat([]byte{' '}, 12<<20)) // 12 MB of spaces, a few KB packed
	var b strings.Builder
	b.WriteString("From: r@reporter.example\r\nSubject: Report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
	for range 10 {
		b.WriteString("--b\r\nContent-Type: application/gzip\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(part) + "\r\n")
	}
	b.WriteString("--b--\r\n")
	if b.Len() > 1<<20 {
		t.Fatalf("the message is %d bytes", b.Len())
	}
	files, errs := Extract([]byte(b.String()))
	total := 0
	for _, f := range files {
		total += len(f.Data)
	}
	if total > MaxMessageReports || len(files) != 2 || !strings.Contains(errors.Join(errs...).Error(), "in all") {
		t.Errorf("%d files, %d bytes decompressed, errors %v", len(files), total, errs)
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(reportMessage("application/gzip", gz([]byte(tiny))))
	f.Add(reportMessage("application/zip", zipOf(map[string][]byte{"r.xml": []byte(tiny)})))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: multipart/mixed; boundary=y\r\n\r\n--y\r\n\r\n<feedback/>\r\n--y--\r\n--x--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		files, _ := Extract(raw)
		for _, fl := range files {
			if len(fl.Data) > MaxReport {
				t.Fatalf("%d octets extracted", len(fl.Data))
			}
		}
	})
}
