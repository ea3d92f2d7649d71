package main

import (
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/verify/dkim/dkimtest"
	"github.com/testerd/testerd/verify/requirements"
)

// TestCheckReport sends check@ probes over SMTP, with and without
// STARTTLS, and reads the sender-requirements report back from the JSON
// and the result page.
func TestCheckReport(t *testing.T) {
	t.Parallel()
	smtpAddr, httpAddr := startServe(t)
	msg := "From: Joe <joe@abc.it>\r\nTo: check@" + probeDomain + "\r\nSubject: Bulk test\r\nDate: " +
		time.Now().Format(time.RFC1123Z) + "\r\nMessage-ID: <bulk-1@abc.it>\r\n\r\nHello.\r\n"
	sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: dkimtest.Ed25519("serve")})
	if err != nil {
		t.Fatal(err)
	}

	type report struct {
		Verdict struct {
			Requirements *requirements.Report `json:"requirements"`
		} `json:"verdict"`
	}
	judge := func(startTLS bool) (string, *requirements.Report) {
		if err := sendProbe(smtpAddr, "check@"+probeDomain, sig+msg, startTLS); err != nil {
			t.Fatal(err)
		}
		id := latestID(t, httpAddr)
		var r report
		waitFor(t, httpAddr, func() bool {
			r = report{}
			getJSON(t, "http://"+httpAddr+full(t, httpAddr, id, true), &r)
			return r.Verdict.Requirements != nil
		}, func() string { return "no requirements report" })
		return id, r.Verdict.Requirements
	}
	status := func(r *requirements.Report) map[string]requirements.Status {
		m := map[string]requirements.Status{}
		for _, it := range r.Items {
			m[it.ID] = it.Status
		}
		return m
	}

	id, r := judge(true)
	st := status(r)
	if !r.Ready || r.FirstError != "" || st["tls"] != requirements.Pass || st["rdns"] != requirements.Pass ||
		st["auth"] != requirements.Pass || st["format"] != requirements.Pass || len(r.Items) != 33 || len(r.Providers) != len(requirements.Providers) {
		t.Fatalf("over STARTTLS: ready %v, first %q, %v", r.Ready, r.FirstError, st)
	}
	page := get(t, "http://"+httpAddr+full(t, httpAddr, id))
	for _, want := range []string{"Sender requirements (Gmail/Yahoo)", "no provider refuses it, in bulk or not", "would accept this message",
		`id="req-tls"`, "the session used TLS 1.3", "PTR 127.0.0.1 → mail.abc.it", `id="providers"`, "Outlook.com", "iCloud Mail"} {
		if !strings.Contains(page, want) {
			t.Errorf("/r/%s lacks %q", id, want)
		}
	}

	id, r = judge(false)
	if st := status(r); r.Ready || st["tls"] != requirements.Fail || !strings.Contains(r.FirstError, "4.7.29") {
		t.Fatalf("without STARTTLS: ready %v, first %q, %v", r.Ready, r.FirstError, st)
	}
	page = get(t, "http://"+httpAddr+full(t, httpAddr, id))
	for _, want := range []string{"1 requirements some provider refuses for", "421-4.7.29", "the SMTP session did not use STARTTLS", "Enable STARTTLS", "Gmail would refuse this message"} {
		if !strings.Contains(page, want) {
			t.Errorf("/r/%s lacks %q", id, want)
		}
	}
}
