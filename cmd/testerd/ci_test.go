package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
	"gopkg.in/yaml.v3"
)

// TestLintFailOn: testerd lint's exit codes, as docs/ci.md gives them, for
// a domain with errors, one with warnings only, a resolver that does not
// answer and a wrong flag.
func TestLintFailOn(t *testing.T) {
	t.Parallel()
	dns := probeDNS(t)
	var out bytes.Buffer
	lintJSON := func(domain string) (errors, warnings int) {
		out.Reset()
		run([]string{"lint", "--json", "--fail-on", "never", "--resolver", dns, domain}, nil, &out, &out)
		var rep struct{ Errors, Warnings int }
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%s: %v\n%s", domain, err, out.String())
		}
		return rep.Errors, rep.Warnings
	}
	if e, _ := lintJSON("evil.example"); e == 0 {
		t.Fatal("evil.example has no error to test with")
	}
	if e, w := lintJSON("abc.it"); e != 0 || w == 0 {
		t.Fatalf("abc.it: %d errors, %d warnings; the test wants warnings only", e, w)
	}
	closed, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	silent := closed.LocalAddr().String() // nothing listens there once closed
	closed.Close()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"evil.example"}, exitFailsOn}, // errors, and error is the default
		{[]string{"--fail-on", "error", "evil.example"}, exitFailsOn},
		{[]string{"--fail-on", "never", "evil.example"}, exitPass},
		{[]string{"--fail-on", "error", "abc.it"}, exitPass},
		{[]string{"--fail-on", "warning", "abc.it"}, exitFailsOn},
		{[]string{"--fail-on", "sometimes", "abc.it"}, exitUsage},
		{[]string{"--fail-on", "error", "--resolver", silent, "abc.it"}, exitTester},
	} {
		args := append([]string{"lint", "--resolver", dns}, tc.args...)
		out.Reset()
		if code := run(args, nil, &out, &out); code != tc.want {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.want, out.String())
		}
	}
}

// TestCheckFailOn: testerd check's exit codes for a signed message and an
// unsigned fixture (as a CI job has it), with --ignore.
func TestCheckFailOn(t *testing.T) {
	t.Parallel()
	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ip4:192.0.2.1 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject; rua=mailto:d@abc.it")
	key := dkimtest.Ed25519("ci")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(key.Public()))
	srv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	msg := "From: Joe <joe@abc.it>\r\nTo: someone@example.org\r\nSubject: Welcome\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@abc.it>\r\n\r\nHello.\r\n"
	sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: key})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	signed, unsigned := filepath.Join(dir, "signed.eml"), filepath.Join(dir, "welcome.eml")
	os.WriteFile(signed, []byte(sig+msg), 0o600)
	os.WriteFile(unsigned, []byte(msg), 0o600)
	env := []string{"check", "--resolver", srv.Addr(), "--ip", "192.0.2.1", "--helo", "mail.abc.it", "--mail-from", "bounce@abc.it"}
	var out bytes.Buffer
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{signed}, exitPass}, // check fails on nothing unless asked
		{[]string{unsigned}, exitPass},
		// No PTR for 192.0.2.1 in this zone: refused by every provider.
		{[]string{"--fail-on", "error", signed}, exitFailsOn},
		{[]string{"--fail-on", "error", "--ignore", "rdns,helo", signed}, exitPass},
		{[]string{"--fail-on", "warning", "--ignore", "rdns,helo", signed}, exitFailsOn},
		{[]string{"--fail-on", "error", "--ignore", "rdns,helo", unsigned}, exitFailsOn},
		{[]string{"--fail-on", "error", "--ignore", "rdns,helo,dkim,dkim-aligned", unsigned}, exitPass},
		{[]string{"--fail-on", "always", signed}, exitUsage},
	} {
		out.Reset()
		if code := run(append(append([]string{}, env...), tc.args...), nil, &out, &out); code != tc.want {
			t.Errorf("%v: exit %d, want %d\n%s", tc.args, code, tc.want, out.String())
		}
	}
	// --json carries the diagnosis the exit code comes from.
	out.Reset()
	run(append(append([]string{}, env...), "--json", signed), nil, &out, &out)
	var j struct {
		Tags      []string
		Diagnosis struct {
			Headline string
			Findings []struct{ ID, Severity string }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &j); err != nil || j.Diagnosis.Headline == "" || len(j.Tags) == 0 {
		t.Errorf("--json: %v %+v\n%s", err, j, out.String())
	}
	if !strings.Contains(out.String(), `"severity": "blocking"`) {
		t.Errorf("--json has no blocking finding:\n%s", out.String())
	}
}

// TestCIDoc keeps docs/ci.md true: its YAML jobs parse, and every flag
// their testerd commands give is one the command has.
func TestCIDoc(t *testing.T) {
	doc, err := os.ReadFile("../../docs/ci.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) != 2 {
		t.Fatalf("%d YAML blocks, want the GitHub and the GitLab job", len(blocks))
	}
	var commands []string
	for _, b := range blocks {
		b = b[:strings.Index(b, "```")]
		var job any
		if err := yaml.Unmarshal([]byte(b), &job); err != nil {
			t.Fatalf("YAML: %v\n%s", err, b)
		}
		var walk func(any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for _, x := range v {
					walk(x)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			case string:
				if strings.HasPrefix(v, "testerd ") {
					commands = append(commands, v)
				}
			}
		}
		walk(job)
	}
	if len(commands) < 4 {
		t.Fatalf("testerd commands in the jobs: %q", commands)
	}
	for _, c := range commands {
		f := strings.Fields(c)
		var help bytes.Buffer
		run([]string{f[1], "-h"}, nil, &help, &help)
		for _, a := range f[2:] {
			if name, ok := strings.CutPrefix(a, "--"); ok && !strings.Contains(help.String(), "-"+name+" ") && !strings.Contains(help.String(), "-"+name+"\n") {
				t.Errorf("%q: testerd %s has no flag --%s", c, f[1], name)
			}
		}
	}
}
