package dmarcrpt

import (
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

func TestParseNormalizes(t *testing.T) {
	f, err := Parse([]byte(tiny))
	if err != nil {
		t.Fatal(err)
	}
	r := f.Records[0]
	if f.Policy.Domain != "example.com" || f.Policy.P != "reject" || r.DKIM != "pass" || !r.DMARCPass() || !r.DKIMPass() || r.SPFPass() ||
		len(r.AuthDKIM) != 2 || r.Count != 3 {
		t.Fatalf("%+v", f)
	}
	for _, bad := range []string{
		strings.Replace(tiny, "<count>3", "<count>-3", 1),
		strings.Replace(tiny, "<count>3", "<count>three", 1),
		strings.Replace(tiny, "<begin>1700000000", "<begin>1800000000", 1),
		strings.Replace(tiny, "<end>1700086399", "<end>1800000000", 1),
		strings.Replace(tiny, "<source_ip>192.0.2.1", "<source_ip>mail.example", 1),
		strings.Replace(tiny, "<report_id>r1</report_id>", "", 1),
		"<html></html>",
	} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("accepted %.80q…", bad)
		}
	}
}
