package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// TestBounceMail forwards a Gmail bounce to bounce@ over SMTP: the reply
// explains the bounce first, then the forward's own authentication, and
// the result is private (never listed) with its page behind the key the
// reply links to.
func TestBounceMail(t *testing.T) {
	t.Parallel()
	mx, port, resolver := replyRig(t)
	c := testConfig(t)
	c.Resolver = resolver
	c.Out.MXPort, c.Out.MXAllowPrivate = port, true
	smtpAddr, httpAddr := startServeWith(t, c)

	dsn, err := os.ReadFile(filepath.Join("..", "..", "bounce", "testdata", "gmail-5.7.26-dsn.eml"))
	if err != nil {
		t.Fatal(err)
	}
	msg := "From: Joe <joe@abc.it>\r\nTo: bounce+it@" + probeDomain + "\r\nSubject: Fwd: Undelivered Mail Returned to Sender\r\n" +
		"Message-ID: <fwd-1@abc.it>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"fwd\"\r\n\r\n" +
		"--fwd\r\nContent-Type: text/plain\r\n\r\nThis came back.\r\n" +
		"--fwd\r\nContent-Type: message/rfc822\r\n\r\n" + strings.ReplaceAll(string(dsn), "\n", "\r\n") + "\r\n--fwd--\r\n"
	sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: dkimtest.Ed25519("serve")})
	if err != nil {
		t.Fatal(err)
	}
	if err := sendProbe(smtpAddr, "bounce+it@"+probeDomain, sig+msg, true); err != nil {
		t.Fatal(err)
	}
	if !mx.Wait(20 * time.Second) {
		t.Fatal("no reply to the forwarded bounce")
	}
	got := mx.Messages()[0]
	m := message.Parse(got.Data)
	if got.Rcpt[0] != "joe@abc.it" || m.First("Subject") != "Il messaggio di errore che hai inoltrato, spiegato" {
		t.Errorf("reply to %v, Subject %q", got.Rcpt, m.First("Subject"))
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(m.Body)))
	text := string(body)
	explained, own := strings.Index(text, "5.7.26"), strings.Index(text, "dkim-pass")
	if explained < 0 || own < 0 || explained > own {
		t.Errorf("the reply does not explain the bounce before the forward's own verdict:\n%s", text)
	}
	for _, want := range []string{"Gmail", "SPF", "DKIM", "check@" + probeDomain} {
		if !strings.Contains(text, want) {
			t.Errorf("reply lacks %q:\n%s", want, text)
		}
	}
	link := regexp.MustCompile(`/r/([a-z0-9]+)\?k=[A-Za-z0-9_-]+`).FindStringSubmatch(text)
	if link == nil {
		t.Fatalf("no keyed link in the reply:\n%s", text)
	}
	var l apiList
	getJSON(t, "http://"+httpAddr+"/api/results", &l)
	for _, r := range l.Results {
		if r.ID == link[1] {
			t.Errorf("the bounce %s is listed", r.ID)
		}
	}
	page := get(t, "http://"+httpAddr+link[0])
	if !strings.Contains(page, "5.7.26") || !strings.Contains(page, `id="bounce"`) {
		t.Errorf("the keyed page does not show the explanation")
	}
	if bare := get(t, "http://"+httpAddr+"/r/"+link[1]); strings.Contains(bare, "5.7.26") {
		t.Errorf("the page without its key shows the bounce")
	}
}

// TestBounceCommand runs "testerd bounce" on a pasted Gmail rejection and
// on text that is not a bounce.
func TestBounceCommand(t *testing.T) {
	t.Parallel()
	in := "550-5.7.26 This mail has been blocked because the sender is unauthenticated.\n" +
		"550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.\n"
	var out, errb bytes.Buffer
	if code := run([]string{"bounce", "--json", "--probe", "check@tester.example", "-"}, strings.NewReader(in), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var s struct {
		Recognised bool
		Provider   string
		Code       string
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !s.Recognised || s.Provider == "" {
		t.Errorf("explanation %+v\n%s", s, out.String())
	}
	out.Reset()
	if code := run([]string{"bounce", "--lang", "it", "-"}, strings.NewReader(in), &out, &errb); code != 0 || !strings.Contains(out.String(), "Gmail") {
		t.Errorf("exit %d, text:\n%s", code, out.String())
	}
	out.Reset()
	if code := run([]string{"bounce", "-"}, strings.NewReader("Hello, how are you?\n"), &out, &errb); code != 3 {
		t.Errorf("not a bounce: exit %d, want 3\n%s", code, out.String())
	}
}
