package main

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/reports"
	"github.com/testerd/testerd/store"
)

func aggregateReport(id string, begin time.Time) []byte {
	row := func(ip string, n int, dkim, spf, spfDomain, dkimResult string) string {
		return fmt.Sprintf(`<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated><disposition>none</disposition>`+
			`<dkim>%s</dkim><spf>%s</spf></policy_evaluated></row><identifiers><header_from>abc.it</header_from></identifiers>`+
			`<auth_results><dkim><domain>abc.it</domain><result>%s</result></dkim><spf><domain>%s</domain><result>pass</result></spf></auth_results></record>`,
			ip, n, dkim, spf, dkimResult, spfDomain)
	}
	return []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8"?><feedback><report_metadata><org_name>google.com</org_name>`+
		`<email>noreply-dmarc-support@google.com</email><report_id>%s</report_id><date_range><begin>%d</begin><end>%d</end></date_range>`+
		`</report_metadata><policy_published><domain>abc.it</domain><adkim>r</adkim><aspf>r</aspf><p>reject</p></policy_published>%s%s%s</feedback>`,
		id, begin.Unix(), begin.Add(24*time.Hour-time.Second).Unix(),
		row("127.0.0.1", 40, "pass", "pass", "abc.it", "pass"),
		row("192.0.2.66", 25, "fail", "fail", "esp.example", "fail"),
		row("198.51.100.7", 5, "fail", "fail", "other.example", "fail")))
}

func reportMail(xmlDoc []byte) string {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(xmlDoc)
	w.Close()
	b64 := base64.StdEncoding.EncodeToString(gz.Bytes())
	var lines []string
	for len(b64) > 76 {
		lines, b64 = append(lines, b64[:76]), b64[76:]
	}
	lines = append(lines, b64)
	return "From: noreply-dmarc-support@google.com\r\nTo: rua@" + probeDomain + "\r\nSubject: Report domain: abc.it\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: application/gzip; name=\"google.com!abc.it.xml.gz\"\r\n" +
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"google.com!abc.it.xml.gz\"\r\n\r\n" +
		strings.Join(lines, "\r\n") + "\r\n"
}

// TestReports sends a gzip aggregate report over SMTP to rua@, then reads
// it back from the JSON API (bearer token) and from the pages (after the
// login form), with a duplicate and an unparsable message beside it.
func TestReports(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.AdminToken = probeDNS(t), "s3cret-admin-token"
	smtpAddr, httpAddr := startServeWith(t, c)
	base := "http://" + httpAddr
	msg := reportMail(aggregateReport("r-1", time.Now().UTC().Truncate(24*time.Hour)))
	for _, rcpt := range []string{"rua@" + probeDomain, "RUA+customer1@" + probeDomain} {
		if err := sendProbe(smtpAddr, rcpt, msg, true); err != nil {
			t.Fatalf("%s: %v", rcpt, err)
		}
	}
	if err := sendProbe(smtpAddr, "rua@"+probeDomain, "From: x@y\r\nSubject: hi\r\n\r\nnot a report\r\n", false); err != nil {
		t.Fatal(err)
	}

	// Without the token: 401 from the API, the login form for pages.
	resp, err := http.Get(base + "/api/reports/abc.it")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API without a token: %s", resp.Status)
	}
	if page := get(t, base+"/reports/abc.it"); !strings.Contains(page, "Admin token") {
		t.Fatal("a report page without a session did not show the login form")
	}

	// Report mail is read after its 250: wait for both reports.
	var api struct {
		Summary reports.Summary      `json:"summary"`
		Reports []*store.DMARCReport `json:"reports"`
	}
	waitFor(t, httpAddr, func() bool {
		req, _ := http.NewRequest("GET", base+"/api/reports/abc.it?days=7", nil)
		req.Header.Set("Authorization", "Bearer "+c.AdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		api.Reports = nil
		decodeJSON(t, resp, &api)
		return len(api.Reports) >= 2
	}, func() string { return fmt.Sprintf("%d of 2 reports read", len(api.Reports)) })
	s := api.Summary
	if s.Total.Messages != 70 || s.Total.DMARCPass != 40 || len(s.Sources) != 3 || len(s.Reporters) != 1 || len(s.Daily) != 7 {
		t.Fatalf("summary %+v", s)
	}
	// 198.51.100.7 is in too: 5 failing is under 10, but over 5% of 70.
	if len(s.Fixes) != 2 || s.Fixes[0].IP != "192.0.2.66" || s.Fixes[0].Failing != 25 || !strings.Contains(s.Fixes[0].Why.String(), "SPF passes for another domain") {
		t.Errorf("fixes %+v", s.Fixes)
	}
	if s.Sources[0].IP != "127.0.0.1" || s.Sources[0].PTR != "mail.abc.it" {
		t.Errorf("first source %+v", s.Sources[0])
	}
	if len(api.Reports) != 2 || (api.Reports[0].DuplicateOf == 0) == (api.Reports[1].DuplicateOf == 0) {
		t.Errorf("reports %+v: want the report and its duplicate", api.Reports)
	}

	// The login form sets a session cookie.
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	resp, err = client.PostForm(base+"/login", url.Values{"token": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %s", resp.Status)
	}
	resp, err = client.PostForm(base+"/login", url.Values{"token": {c.AdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The message that is not a report is read after its 250 too, maybe
	// after both reports: wait for its row.
	var body string
	waitFor(t, httpAddr, func() bool {
		body = clientGet(t, client, base+"/reports")
		return strings.Contains(body, "no report found")
	}, func() string { return "/reports never listed the message that is not a report" })
	for _, want := range []string{"Latest reports", `href="/reports/abc.it"`, "unparsable", "duplicate", "no report found"} {
		if !strings.Contains(body, want) {
			t.Errorf("/reports after login lacks %q", want)
		}
	}
	page := clientGet(t, client, base+"/reports/abc.it")
	for _, want := range []string{"DMARC reports for abc.it", "<svg", "192.0.2.66", "What to fix", "mail.abc.it", "57.1%", "google.com"} {
		if !strings.Contains(page, want) {
			t.Errorf("/reports/abc.it lacks %q", want)
		}
	}
	id := api.Reports[len(api.Reports)-1].ID
	if x := clientGet(t, client, fmt.Sprintf("%s/reports/xml/%d", base, id)); !strings.Contains(x, "<report_id>r-1</report_id>") {
		t.Errorf("raw XML: %.200q", x)
	}
}

func clientGet(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	return string(b)
}

func decodeJSON(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s: %s", resp.Status, b)
	}
	if err := jsonDecode(resp.Body, v); err != nil {
		t.Fatal(err)
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
