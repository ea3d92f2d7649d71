package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

const checkMsg = "From: Joe <joe@abc.it>\r\n" +
	"To: dkim@tester.example\r\n" +
	"Subject: probe\r\n" +
	"List-Unsubscribe: <https://abc.it/u>\r\n" +
	"\r\n" +
	"Hello.\r\n"

// TestCheckCommand runs testerd check against a real DNS server on
// loopback, with a message from a file and from standard input.
func TestCheckCommand(t *testing.T) {
	t.Parallel()
	z := dnsx.NewZone()
	z.AddTXT("esp.net", "v=spf1 ip4:198.51.100.0/24 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject; rua=mailto:d@abc.it")
	key := dkimtest.Ed25519("check")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(key.Public()))
	srv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sig, err := dkimtest.Sign([]byte(checkMsg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: key, Headers: []string{"From", "Subject", "List-Unsubscribe"}})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "probe.eml")
	if err := os.WriteFile(file, []byte(sig+checkMsg), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--ip", "198.51.100.7", "--helo", "out.esp.net", "--mail-from", "b@esp.net", "--resolver", srv.Addr()}

	var out, errb bytes.Buffer
	if code := run(append(args, "--to", "dkim", file), nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	text := out.String()
	for _, want := range []string{
		"|OK| dkim-pass\n",
		"check@ would say: |OK| dmarc-pass |~OK| spf-pass !! spf-diff !! |OK| dkim-pass",
		"== SPF: pass (identity mailfrom)",
		"#1 pass: d=abc.it s=s1 a=ed25519-sha256 c=relaxed/relaxed",
		"signed: From yes, Subject yes, List-Unsubscribe yes, List-Unsubscribe-Post no",
		"key s1._domainkey.abc.it: ed25519, 256 bits",
		`== From: "Joe <joe@abc.it>" (domain abc.it)`,
		"== DMARC: pass",
		"record at _dmarc.abc.it: \"v=DMARC1; p=reject; rua=mailto:d@abc.it\"",
		"SPF  (relaxed): not aligned",
		"DKIM #1 d=abc.it (relaxed, pass): aligned",
		"Authentication-Results: testerd.localhost;\n\tspf=pass smtp.mailfrom=b@esp.net;\n\tdkim=pass header.a=ed25519-sha256 header.d=abc.it header.s=s1;\n\tdmarc=pass",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}

	out.Reset()
	stdin := strings.NewReader(sig + checkMsg)
	if code := run(append(args, "--json", "-"), stdin, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var v verify.Verdict
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Kind != kind.Check || strings.Join(v.Tags, " ") != "|OK| dmarc-pass |~OK| spf-pass !! spf-diff !! |OK| dkim-pass" ||
		v.DKIM.Signatures[0].Key.Bits != 256 || v.DMARC.Discovery.Record.P != "reject" {
		t.Errorf("JSON verdict: %+v", v)
	}

	for _, bad := range [][]string{
		{"check", "--ip", "x", "--mail-from", "a@b.c", file},
		{"check", "--ip", "192.0.2.1", "--mail-from", "a@b.c", "--to", "dmarc", file},
		{"check", "--ip", "192.0.2.1", file},
		{"check", "--ip", "192.0.2.1", "--mail-from", "a@b.c"},
	} {
		errb.Reset()
		if code := run(bad, nil, &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", bad, code, errb.String())
		}
	}
	errb.Reset()
	if code := run([]string{"check", "--ip", "192.0.2.1", "--mail-from", "a@b.c", filepath.Join(t.TempDir(), "missing.eml")}, nil, &out, &errb); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

// TestCheckLFFile: a probe saved with LF line ends is judged as it was on
// the wire, with a note; --raw judges the bytes as they are.
func TestCheckLFFile(t *testing.T) {
	t.Parallel()
	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ip4:192.0.2.1 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject; rua=mailto:d@abc.it")
	key := dkimtest.Ed25519("lf")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(key.Public()))
	srv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	msg := "From: Joe <joe@abc.it>\r\nTo: check@tester.example\r\nSubject: probe\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@abc.it>\r\n\r\nHello.\r\n"
	sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "saved.eml")
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(sig+msg, "\r\n", "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"check", "--ip", "192.0.2.1", "--helo", "mail.abc.it", "--mail-from", "joe@abc.it", "--resolver", srv.Addr(), "--json"}
	var out, errb bytes.Buffer
	if code := run(append(args, file), nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var v verify.Verdict
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if v.Message.BareLF || v.DKIM.Signatures[0].Result != "pass" || !strings.Contains(errb.String(), "LF line ends only") {
		t.Errorf("bare LF %v, DKIM %s, stderr %q", v.Message.BareLF, v.DKIM.Signatures[0].Result, errb.String())
	}
	for _, it := range v.Requirements.Items {
		if it.ID == "format" && it.Status == "fail" {
			t.Errorf("format fails on a file saved with LF: %v", it.Evidence)
		}
	}

	out.Reset()
	errb.Reset()
	if code := run(append(args, "--raw", file), nil, &out, &errb); code != 0 {
		t.Fatalf("--raw: exit %d: %s", code, errb.String())
	}
	v = verify.Verdict{}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if !v.Message.BareLF || strings.Contains(errb.String(), "LF line ends only") {
		t.Errorf("--raw: bare LF %v, stderr %q", v.Message.BareLF, errb.String())
	}
}

// TestDeadResolver: with no resolver listening, testerd check and spf say
// the tester failed, not the sender, and exit 1.
func TestDeadResolver(t *testing.T) {
	t.Parallel()
	dead, err := dnsx.DeadAddr()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "p.eml")
	os.WriteFile(file, []byte(checkMsg), 0o600)
	var out, errb bytes.Buffer
	code := run([]string{"check", "--ip", "192.0.2.1", "--mail-from", "joe@abc.it", "--resolver", dead, "--dns-timeout", "300ms", file}, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "did not answer") || !strings.Contains(out.String(), "testerd could not judge this message") {
		t.Errorf("check: exit %d, stderr %q\n%s", code, errb.String(), out.String())
	}
	out.Reset()
	errb.Reset()
	code = run([]string{"spf", "--ip", "192.0.2.1", "--mail-from", "joe@abc.it", "--resolver", dead, "--dns-timeout", "300ms"}, nil, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "did not answer") || strings.Contains(out.String(), "SERVFAIL") {
		t.Errorf("spf: exit %d, stderr %q\n%s", code, errb.String(), out.String())
	}
}
