package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// TestReplies runs the whole reply path: a probe over SMTP, the verdict,
// the reply found through the sender's MX in the test DNS and delivered
// over STARTTLS to an in-process MX, whose DKIM signatures verify against
// the keys exactly as `testerd dns-records` prints them.
func TestReplies(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	const host = "mx." + probeDomain
	var records, errb bytes.Buffer
	if code := run([]string{"dns-records", "--domain", probeDomain, "--hostname", host, "--data-dir", dataDir,
		"--dkim-ed25519", "--ipv4", "127.0.0.1"}, nil, &records, &errb); code != 0 {
		t.Fatalf("dns-records: exit %d: %s", code, errb.String())
	}

	mx, port := startMX(t)

	z := dnsx.NewZone()
	if err := z.Parse(&records, "."); err != nil {
		t.Fatalf("dns-records output does not parse as a zone: %v\n%s", err, records.String())
	}
	z.AddTXT("abc.it", "v=spf1 ip4:127.0.0.0/24 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(dkimtest.Ed25519("serve").Public()))
	z.AddMX("abc.it", 10, "mx.abc.it")
	z.AddMX("other.example", 10, "mx.abc.it")
	z.AddIP("mx.abc.it", netip.MustParseAddr("127.0.0.2"))
	dnsSrv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	defer dnsSrv.Close()

	c := testConfig(t)
	c.DataDir, c.Hostname, c.Resolver = dataDir, host, dnsSrv.Addr()
	c.Out.DKIMEd25519, c.Out.MXPort, c.Out.MXAllowPrivate = true, port, true
	smtpAddr, httpAddr := startServeWith(t, c)

	probe := func(rcpt, extra string) string {
		msg := "From: Joe <joe@abc.it>\r\nTo: " + rcpt + "\r\nSubject: Hello tester\r\nMessage-ID: <probe-1@abc.it>\r\n" +
			extra + "\r\nHello.\r\n"
		sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: dkimtest.Ed25519("serve")})
		if err != nil {
			t.Fatal(err)
		}
		if err := sendProbe(smtpAddr, rcpt, sig+msg, true); err != nil {
			t.Fatal(err)
		}
		return latestID(t, httpAddr)
	}

	id := probe("spf@"+probeDomain, "")
	if !mx.Wait(20 * time.Second) {
		t.Fatal("no reply reached the MX")
	}
	got := mx.Messages()[0]
	if got.MailFrom != "" || got.Rcpt[0] != "joe@abc.it" || got.Helo != host || got.TLS != tls.VersionTLS13 {
		t.Fatalf("reply envelope: MAIL FROM %q, RCPT %v, EHLO %q, TLS %x", got.MailFrom, got.Rcpt, got.Helo, got.TLS)
	}
	m := message.Parse(got.Data)
	for name, want := range map[string]string{
		"Subject":        "|OK| spf-pass Hello tester",
		"From":           `"testerd" <spf@` + probeDomain + `>`,
		"In-Reply-To":    "<probe-1@abc.it>",
		"Auto-Submitted": "auto-replied",
	} {
		if m.First(name) != want {
			t.Errorf("%s: %q, want %q", name, m.First(name), want)
		}
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(m.Body)))
	if !strings.Contains(string(body), "/r/"+id) || !strings.Contains(string(body), "Authentication-Results: "+host) {
		t.Errorf("body:\n%s", body)
	}

	// The reply's signatures verify against the published keys, and the
	// tester itself, judging the reply, finds DKIM and DMARC passing.
	res, err := dnsx.NewClient(dnsSrv.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	out := (&dkim.Verifier{Resolver: res}).Verify(context.Background(), m)
	if len(out.Signatures) != 2 {
		t.Fatalf("%d signatures on the reply, want RSA and Ed25519", len(out.Signatures))
	}
	for _, s := range out.Signatures {
		if s.Result != dkim.Pass || s.Domain != probeDomain {
			t.Errorf("signature %s d=%s s=%s: %s (%s)", s.Algorithm, s.Domain, s.Selector, s.Result, s.Reason)
		}
	}
	v := (&verify.Judge{Resolver: res, Receiver: "mx.abc.it"}).Judge(context.Background(), verify.Probe{
		Kind: kind.Check, IP: netip.MustParseAddr("127.0.0.1"), Helo: host, Raw: got.Data})
	if v.DMARC.Result != "pass" || strings.Join(v.AllTags[kind.DKIM], " ") != "|OK| dkim-pass" {
		t.Errorf("judging the reply: DMARC %s (%s), dkim@ tags %v", v.DMARC.Result, v.DMARC.Reason, v.AllTags[kind.DKIM])
	}

	r := waitReply(t, httpAddr, id, store.Sent)
	if r.Rcpt != "joe@abc.it" || r.Attempts != 1 || r.TLS != "TLS 1.3" || !strings.HasPrefix(r.Relay, "mx.abc.it [127.0.0.2:") {
		t.Errorf("reply state %+v", r)
	}
	if len(r.Tries) != 1 || r.Tries[0].State != store.Sent || r.Tries[0].Relay != r.Relay || r.Tries[0].At.IsZero() {
		t.Errorf("delivery attempts %+v", r.Tries)
	}
	page := get(t, "http://"+httpAddr+full(t, httpAddr, id))
	for _, want := range []string{">sent</span>", "(TLS 1.3)", "joe@abc.it", `id="tries"`} {
		if !strings.Contains(page, want) {
			t.Errorf("/r/%s lacks %q", id, want)
		}
	}

	// The redirect syntax sends the reply elsewhere.
	probe("spf+ann=other.example@"+probeDomain, "")
	if !mx.Wait(20 * time.Second) {
		t.Fatal("no redirected reply")
	}
	if rc := mx.Messages()[1].Rcpt; len(rc) != 1 || rc[0] != "ann@other.example" {
		t.Errorf("redirected reply went to %v", rc)
	}

	// List mail is never answered, and the page says why.
	id = probe("dkim@"+probeDomain, "List-Id: <news.abc.it>\r\n")
	r = waitReply(t, httpAddr, id, store.Suppressed)
	if why := i18n.EN.Say(r.Reason); !strings.Contains(why, "List-Id") {
		t.Errorf("suppressed for %q", why)
	}
	if page := get(t, "http://"+httpAddr+"/r/"+id); !strings.Contains(page, "mailing-list mail is never answered") {
		t.Error("/r/{id} does not say why the reply was suppressed")
	}
}

func latestID(t *testing.T, httpAddr string) string {
	t.Helper()
	var l apiList
	getJSON(t, "http://"+httpAddr+"/api/results?limit=1", &l)
	if len(l.Results) != 1 {
		t.Fatal("no result")
	}
	return l.Results[0].ID
}

// waitReply waits until the probe's reply is in state.
func waitReply(t *testing.T, httpAddr, id string, state store.State) store.Outgoing {
	t.Helper()
	var r struct {
		Reply *store.Outgoing `json:"reply"`
	}
	waitFor(t, httpAddr, func() bool {
		r.Reply = nil
		getJSON(t, "http://"+httpAddr+full(t, httpAddr, id, true), &r)
		return r.Reply != nil && r.Reply.State == state
	}, func() string { return fmt.Sprintf("reply of %s: %+v, want %s", id, r.Reply, state) })
	return *r.Reply
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
