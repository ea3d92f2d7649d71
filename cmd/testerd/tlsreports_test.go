package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/i18n"
)

// tlsReport is an SMTP TLS report for abc.it over day (RFC 8460).
func tlsReport(id string, day time.Time) []byte {
	return []byte(fmt.Sprintf(`{"organization-name":"Reporter Inc.","date-range":{"start-datetime":%q,"end-datetime":%q},
"contact-info":"tls@reporter.example","report-id":%q,"policies":[{"policy":{"policy-type":"sts","policy-domain":"abc.it","mx-host":"mx.abc.it"},
"summary":{"total-successful-session-count":90,"total-failure-session-count":10},
"failure-details":[{"result-type":"certificate-expired","sending-mta-ip":"198.51.100.1","receiving-mx-hostname":"mx.abc.it","failed-session-count":10}]}]}`,
		day.Format(time.RFC3339), day.Add(24*time.Hour-time.Second).Format(time.RFC3339), id))
}

// tlsReportMail is a report mail as reporters send it: the report gzipped
// in an application/tlsrpt+gzip attachment.
func tlsReportMail(report []byte) string {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(report)
	w.Close()
	b64 := base64.StdEncoding.EncodeToString(gz.Bytes())
	return "From: noreply-smtp-tls-reporting@reporter.example\r\nTo: tlsrpt@" + probeDomain + "\r\nSubject: Report Domain: abc.it\r\n" +
		"TLS-Report-Domain: abc.it\r\nTLS-Report-Submitter: reporter.example\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=tlsrpt; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nThis is a TLS report.\r\n" +
		"--b\r\nContent-Type: application/tlsrpt+gzip\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"reporter.example!abc.it!1!2!001.json.gz\"\r\n\r\n" +
		b64 + "\r\n--b--\r\n"
}

// TestTLSReports: a TLS report mailed to tlsrpt@ is read, its copy is kept
// as a duplicate and counted once, and the API sums sessions per day and
// failures by type and MX, with what each type means.
func TestTLSReports(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.AdminToken = probeDNS(t), "s3cret-admin-token"
	smtpAddr, httpAddr := startServeWith(t, c)
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	msg := tlsReportMail(tlsReport("tls-1", day))
	for range 2 {
		if err := sendProbe(smtpAddr, "tlsrpt@"+probeDomain, msg, false); err != nil {
			t.Fatal(err)
		}
	}
	var sum struct {
		Reports int `json:"reports"`
		Days    []struct {
			Day              string `json:"day"`
			Success, Failure int64
		} `json:"days"`
		Failures []struct {
			Type        string   `json:"type"`
			Meaning     i18n.Msg `json:"meaning"`
			ReceivingMX string   `json:"receiving_mx"`
			Sessions    int64    `json:"sessions"`
		} `json:"failures"`
	}
	var body string
	waitFor(t, httpAddr, func() bool {
		_, body = call(t, "GET", "http://"+httpAddr+"/api/tlsreports/abc.it", c.AdminToken)
		return strings.Contains(body, "certificate-expired")
	}, func() string { return "no TLS report: " + body })
	if err := json.Unmarshal([]byte(body), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Reports != 1 || len(sum.Days) != 1 || sum.Days[0].Day != day.Format("2006-01-02") || sum.Days[0].Success != 90 || sum.Days[0].Failure != 10 {
		t.Errorf("summary (a duplicate counted?): %s", body)
	}
	if len(sum.Failures) != 1 || sum.Failures[0].Sessions != 10 || sum.Failures[0].ReceivingMX != "mx.abc.it" || !strings.Contains(sum.Failures[0].Meaning.String(), "expired") {
		t.Errorf("failures: %s", body)
	}
	if code, page := call(t, "GET", "http://"+httpAddr+"/reports/tls/abc.it", c.AdminToken); code != 200 ||
		!strings.Contains(page, "certificate-expired") || !strings.Contains(page, "renew the MX") || !strings.Contains(page, "90.0%") {
		t.Errorf("the TLS report page: %d", code)
	}
	if code, page := call(t, "GET", "http://"+httpAddr+"/reports", c.AdminToken); code != 200 || !strings.Contains(page, `href="/reports/tls/abc.it"`) {
		t.Errorf("the reports index does not list the TLS domain: %d", code)
	}
	if code, _ := call(t, "GET", "http://"+httpAddr+"/api/tlsreports/abc.it", ""); code != 401 {
		t.Errorf("without a token: %d", code)
	}
}

// TestPostedGzipReports: gzip reports POSTed to /api/tlsrpt reach the
// decoder byte for byte, also those whose compressed bytes hold a bare LF
// (they were wrapped as a message and had their LFs turned into CRLF:
// 201, then "gzip: invalid checksum", and the report lost).
func TestPostedGzipReports(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.AdminToken = "s3cret-admin-token"
	_, httpAddr := startServeWith(t, c)
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	posted := 0
	for i := 0; posted < 3 && i < 500; i++ {
		var gz bytes.Buffer
		w := gzip.NewWriter(&gz)
		w.Write(tlsReport(fmt.Sprintf("posted-%d", i), day))
		w.Close()
		if !bytes.Contains(gz.Bytes(), []byte("\n")) || bytes.Contains(gz.Bytes(), []byte("\r\n")) {
			continue // only reports whose gzip has a bare LF
		}
		resp, err := http.Post("http://"+httpAddr+"/api/tlsrpt", "application/tlsrpt+gzip", bytes.NewReader(gz.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %s", resp.Status)
		}
		posted++
	}
	if posted < 3 {
		t.Fatalf("found %d reports whose gzip holds a bare LF", posted)
	}
	var body string
	waitFor(t, httpAddr, func() bool {
		_, body = call(t, "GET", "http://"+httpAddr+"/api/tlsreports/abc.it", c.AdminToken)
		return strings.Contains(body, `"reports": 3`)
	}, func() string { return "not all 3 posted reports were read: " + body })
	if code, page := call(t, "GET", "http://"+httpAddr+"/reports", c.AdminToken); code != 200 || strings.Contains(page, "invalid checksum") || strings.Contains(page, "corrupt") {
		t.Errorf("a posted report was not read: %d", code)
	}
}

// TestTLSReportSums: reporters choose the counts. Ten reports of 1,000
// policies of 10^15 sessions each overflow an int64 sum; the pages and the
// API still answer, with the sums saturated, and a report whose 10,000
// failure details exceed a summary of 0 is refused with the reason.
func TestTLSReportSums(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.AdminToken = "s3cret-admin-token"
	_, httpAddr := startServeWith(t, c)
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	dates := fmt.Sprintf(`"date-range":{"start-datetime":%q,"end-datetime":%q}`, day.Format(time.RFC3339), day.Add(24*time.Hour-time.Second).Format(time.RFC3339))
	post := func(doc string) {
		resp, err := http.Post("http://"+httpAddr+"/api/tlsrpt", "application/tlsrpt+json", strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST: %s", resp.Status)
		}
	}
	policy := `{"policy":{"policy-type":"sts","policy-domain":"abc.it"},"summary":{"total-successful-session-count":1000000000000000,"total-failure-session-count":1000000000000000}}`
	for i := range 10 {
		post(`{"organization-name":"Big","report-id":"big-` + fmt.Sprint(i) + `",` + dates + `,"policies":[` + strings.TrimSuffix(strings.Repeat(policy+",", 1000), ",") + `]}`)
	}
	detail := `{"result-type":"certificate-expired","receiving-mx-hostname":"mx.abc.it","failed-session-count":1000000000000000}`
	post(`{"organization-name":"Odd","report-id":"odd-1",` + dates + `,"policies":[{"policy":{"policy-type":"sts","policy-domain":"abc.it"},` +
		`"summary":{"total-successful-session-count":1,"total-failure-session-count":0},"failure-details":[` + strings.TrimSuffix(strings.Repeat(detail+",", 10000), ",") + `]}]}`)

	var body string
	waitFor(t, httpAddr, func() bool {
		_, body = call(t, "GET", "http://"+httpAddr+"/api/tlsreports/abc.it", c.AdminToken)
		return strings.Contains(body, `"reports": 10`)
	}, func() string { return "the 10 reports were not read: " + body })
	if strings.Contains(body, `-`) && strings.Contains(body, `"success": -`) {
		t.Errorf("a negative sum: %s", body[:min(len(body), 300)])
	}
	for _, path := range []string{"/reports", "/reports/tls/abc.it"} {
		if code, page := call(t, "GET", "http://"+httpAddr+path, c.AdminToken); code != 200 {
			t.Errorf("%s: %d %.200s", path, code, page)
		}
	}
	// The odd report is read after its 201 too: wait for its row.
	waitFor(t, httpAddr, func() bool {
		_, page := call(t, "GET", "http://"+httpAddr+"/reports", c.AdminToken)
		return strings.Contains(page, "more than the summary")
	}, func() string { return "the report whose details exceed its summary is not listed with the reason" })
}
