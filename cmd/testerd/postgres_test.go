package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/internal/pgtest"
)

// TestServePostgres runs the server on PostgreSQL (--database): probes
// judged and shown, a DMARC report read and listed, a token made by the
// command and honoured by the server, a re-analysis.
func TestServePostgres(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.AdminToken, c.Database = probeDNS(t), "s3cret-admin-token", pgtest.DSN(t)
	_, reader, _ := addToken(t, c.DataDir, "--database", c.Database, "--scopes", "results")
	smtpAddr, httpAddr := startServeWith(t, c)
	base := "http://" + httpAddr
	for _, m := range []struct{ rcpt, msg string }{
		{"spf@" + probeDomain, probeMessage(t, "on postgres \xff", "Joe <joe@abc.it>")},
		{"dkim@" + probeDomain, probeMessage(t, "on postgres too", "Joe <joe@abc.it>")},
		{"rua@" + probeDomain, reportMail(aggregateReport("r-pg", time.Now().UTC().Truncate(24*time.Hour)))},
	} {
		if err := sendProbe(smtpAddr, m.rcpt, m.msg, false); err != nil {
			t.Fatal(err)
		}
	}
	l := waitJudged(t, httpAddr, "spf", 1)
	if strings.Join(l.Results[0].Tags, " ") != "|OK| spf-pass" {
		t.Fatalf("spf on PostgreSQL: %+v", l.Results[0])
	}
	if d := waitJudged(t, httpAddr, "dkim", 1); strings.Join(d.Results[0].Tags, " ") != "|OK| dkim-pass" {
		t.Fatalf("dkim on PostgreSQL: %+v", d.Results[0])
	}
	if page := get(t, base+"/r/"+l.Results[0].ID); !strings.Contains(page, "on postgres") {
		t.Error("the result page lacks the subject")
	}
	waitFor(t, httpAddr, func() bool {
		_, b := call(t, "GET", base+"/api/reports", c.AdminToken)
		return strings.Contains(b, "r-pg")
	}, func() string { return "the DMARC report did not show" })
	if code, body := call(t, "GET", base+"/api/results", reader); code != http.StatusOK || !strings.Contains(body, `"verdict"`) {
		t.Errorf("a results token on PostgreSQL: %d", code)
	}
	if code, body := call(t, "POST", base+"/api/results/"+l.Results[0].ID+"/reanalyze", c.AdminToken); code != http.StatusOK {
		t.Errorf("re-analysis on PostgreSQL: %d %s", code, body)
	}
	var out bytes.Buffer
	if code := run([]string{"token", "list", "--database", c.Database}, nil, &out, &out); code != 0 || !strings.Contains(out.String(), "results") {
		t.Errorf("token list on PostgreSQL: %s", out.String())
	}
}
