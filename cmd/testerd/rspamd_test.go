package main

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/rspamd"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// rspamdDNS is where the test rspamd (.ci/rspamd) asks its DNS questions.
const rspamdDNS = "127.0.0.1:5391"

// testRspamd is the address of the real rspamd .ci/rspamd.sh starts, or a
// skip (a failure under TESTERD_REQUIRE_RSPAMD=1).
func testRspamd(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TESTERD_TEST_RSPAMD")
	if u == "" {
		if os.Getenv("TESTERD_REQUIRE_RSPAMD") == "1" {
			t.Fatal("TESTERD_TEST_RSPAMD is not set, and TESTERD_REQUIRE_RSPAMD=1 requires rspamd (eval \"$(.ci/rspamd.sh)\" starts one)")
		}
		t.Skip("TESTERD_TEST_RSPAMD is not set: the real-rspamd test is SKIPPED (eval \"$(.ci/rspamd.sh)\" starts one)")
	}
	return u
}

// TestRspamd sends check@ probes through a real rspamd: GTUBE comes back
// as rspamd's reject score, a clean message low; the opinion is in the
// verdict, on the page and in the reply text, never in the tags; and
// where rspamd's DNS says otherwise than testerd's, the difference is
// said.
func TestRspamd(t *testing.T) {
	url := testRspamd(t)
	// rspamd's own DNS: the same abc.it, but an SPF record that says
	// nothing of the sender, so the two disagree on SPF.
	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ?all")
	z.AddMX("abc.it", 10, "mail.abc.it")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=none")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(dkimtest.Ed25519("serve").Public()))
	z.AddIP("mail.abc.it", netip.MustParseAddr("127.0.0.1"))
	z.AddPTR(netip.MustParseAddr("127.0.0.1"), "mail.abc.it")
	srv, err := dnsx.StartServerAt(z, rspamdDNS)
	if err != nil {
		t.Fatalf("rspamd's DNS on %s: %v", rspamdDNS, err)
	}
	defer srv.Close()

	c := testConfig(t)
	c.Resolver, c.RspamdURL = probeDNS(t), url
	smtpAddr, httpAddr := startServeWith(t, c)
	n := 0
	probe := func(subject, body string) (verify.Verdict, string) {
		t.Helper()
		msg := "From: Joe <joe@abc.it>\r\nTo: check@" + probeDomain + "\r\nSubject: " + subject + "\r\nDate: Fri, 04 Dec 2026 10:00:00 +0000\r\n" +
			"Message-ID: <" + strings.ReplaceAll(subject, " ", "-") + "@abc.it>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
		sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: dkimtest.Ed25519("serve")})
		if err != nil {
			t.Fatal(err)
		}
		if err := sendProbe(smtpAddr, "check@"+probeDomain, sig+msg, true); err != nil {
			t.Fatal(err)
		}
		id := latestID(t, httpAddr)
		n++
		waitJudged(t, httpAddr, "check", n)
		var r struct{ Verdict verify.Verdict }
		getJSON(t, "http://"+httpAddr+full(t, httpAddr, id, true), &r)
		return r.Verdict, id
	}

	gtube := "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"
	v, id := probe("gtube probe", gtube)
	s := v.Spam
	if s == nil || s.Failed() || s.Action != "reject" || s.Score < s.Reject || s.Reject <= 0 {
		t.Fatalf("GTUBE: %+v", s)
	}
	if len(s.Groups()) == 0 || !strings.Contains(strings.Join(v.Tags, " "), "dkim-pass") {
		t.Errorf("GTUBE: symbols %+v, tags %v", s.Symbols, v.Tags)
	}
	page := get(t, "http://"+httpAddr+full(t, httpAddr, id))
	for _, want := range []string{`id="spam"`, "GTUBE", "rspamd"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}

	v, _ = probe("clean probe", "Hello Anna,\r\nthe table for four is booked for Saturday at eight.\r\nSee you then,\r\nJoe\r\n")
	s = v.Spam
	if s == nil || s.Failed() || s.Score >= s.Reject/2 || s.Action == "reject" {
		t.Fatalf("clean: %+v", s)
	}
	spf := false
	for _, d := range s.Differences {
		spf = spf || d.Key == "spam.differ" && strings.Contains(strings.Join(strArgs(d.Args), " "), "SPF")
	}
	if !spf {
		t.Errorf("rspamd's SPF fail beside testerd's pass is not said: %+v", s.Differences)
	}
	var areas []rspamd.Area
	for _, g := range s.Groups() {
		areas = append(areas, g.Area)
	}
	if len(areas) == 0 || areas[0] != rspamd.Authentication {
		t.Errorf("clean: areas %v", areas)
	}
}

func strArgs(args []any) []string {
	var out []string
	for _, a := range args {
		if s, ok := a.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
