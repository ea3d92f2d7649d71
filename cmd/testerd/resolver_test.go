package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// TestResolverFailures: a question testerd's resolver refuses, then one
// it does not answer in time, make the verdict the tester's failure:
// nothing is stored as the sender's result and no reply goes while the
// page says that testerd's DNS is not answering and which retry it is
// at; once the resolver answers again, the probe gets its real verdict
// and exactly one reply.
func TestResolverFailures(t *testing.T) {
	t.Parallel()
	mx, port := startMX(t)
	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ip4:127.0.0.0/24 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(dkimtest.Ed25519("serve").Public()))
	z.AddMX("abc.it", 10, "mx.abc.it")
	z.AddIP("mx.abc.it", netip.MustParseAddr("127.0.0.2"))
	// The Tree Walk of abc.it stops at its record; this refusal is met on
	// the DKIM key instead, then the timeout on the DMARC record.
	z.Fail("s1._domainkey.abc.it", dns.TypeTXT, dnsx.Refused)
	dnsSrv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dnsSrv.Close() })

	c := testConfig(t)
	// No cache: each judging asks again, as it would after the cap.
	c.Resolver, c.RejudgeDelay, c.DNSCache = dnsSrv.Addr(), 300*time.Millisecond, 0
	c.Out.MXPort, c.Out.MXAllowPrivate = port, true
	smtpAddr, httpAddr := startServeWith(t, c)
	if err := sendProbe(smtpAddr, "check@"+probeDomain, probeMessage(t, "refused", "Joe <joe@abc.it>"), true); err != nil {
		t.Fatal(err)
	}
	l := waitPending(t, httpAddr, 1)
	id := l.Results[0].ID

	var r struct {
		Judged        time.Time `json:"judged"`
		TesterRetries int       `json:"tester_retries"`
		Waiting       string    `json:"waiting"`
		Diagnosis     *struct {
			Headline string `json:"headline"`
		} `json:"diagnosis"`
	}
	retries := func(n int) {
		t.Helper()
		waitFor(t, httpAddr, func() bool {
			getJSON(t, "http://"+httpAddr+"/api/results/"+id, &r)
			return r.TesterRetries >= n
		}, func() string { return fmt.Sprintf("%d retries, want %d: %+v", r.TesterRetries, n, r) })
		if !r.Judged.IsZero() || r.Diagnosis != nil || !strings.Contains(r.Waiting, "testerd's DNS is not answering; retrying") {
			t.Fatalf("while the resolver fails: %+v", r)
		}
		if page := get(t, "http://"+httpAddr+"/r/"+id+"?lang=it"); !strings.Contains(page, "Il DNS di testerd non risponde; nuovo tentativo") {
			t.Errorf("the waiting page does not say testerd's DNS is failing:\n%s", page)
		}
	}
	retries(1)
	// Now the key answers and the DMARC record times out.
	z.Unfail("s1._domainkey.abc.it", dns.TypeTXT)
	z.Fail("_dmarc.abc.it", dns.TypeTXT, dnsx.Timeout)
	retries(r.TesterRetries + 1)
	if n := len(mx.Messages()); n != 0 {
		t.Fatalf("%d replies while testerd's DNS failed", n)
	}

	// Recovery: the real verdict, and one reply.
	z.Unfail("_dmarc.abc.it", dns.TypeTXT)
	waitFor(t, httpAddr, func() bool {
		getJSON(t, "http://"+httpAddr+"/api/results/"+id, &r)
		return !r.Judged.IsZero()
	}, func() string { return fmt.Sprintf("not judged after recovery: %+v", r) })
	var full struct {
		Tags    []string `json:"tags"`
		Verdict struct {
			TesterFailure string `json:"tester_failure"`
		} `json:"verdict"`
	}
	getJSON(t, "http://"+httpAddr+"/api/results/"+id, &full)
	if strings.Join(full.Tags, " ") != "|OK| dmarc-pass |OK| spf-pass |OK| dkim-pass" || full.Verdict.TesterFailure != "" {
		t.Fatalf("after recovery: %+v", full)
	}
	var sent struct {
		Reply *struct {
			State string `json:"state"`
		} `json:"reply"`
	}
	waitFor(t, httpAddr, func() bool {
		getJSON(t, "http://"+httpAddr+"/api/results/"+id, &sent)
		return sent.Reply != nil && sent.Reply.State == "sent"
	}, func() string { return fmt.Sprintf("the reply after recovery: %+v", sent.Reply) })
	if n := len(mx.Messages()); n != 1 {
		t.Errorf("%d replies, want 1", n)
	}
}

// waitPending waits until n probes are listed, judged or not.
func waitPending(t *testing.T, httpAddr string, n int) apiList {
	t.Helper()
	var l apiList
	waitFor(t, httpAddr, func() bool {
		l = apiList{}
		getJSON(t, "http://"+httpAddr+"/api/results?kind=check&limit=50", &l)
		return len(l.Results) >= n
	}, func() string { return fmt.Sprintf("%d of %d probes listed", len(l.Results), n) })
	return l
}
