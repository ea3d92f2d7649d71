package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCLI: help goes to stdout with exit 0, a bad flag value is refused
// with exit 2 before anything starts, and the version names the Go
// toolchain.
func TestCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		args       []string
		code       int
		stdout     string
		stderr     string
		quietError bool // nothing on stderr
	}{
		{args: []string{"--help"}, code: 0, stdout: "usage: testerd COMMAND", quietError: true},
		{args: []string{"help"}, code: 0, stdout: "dns-records", quietError: true},
		{args: nil, code: 2, stderr: "usage: testerd COMMAND"},
		{args: []string{"serve", "-h"}, code: 0, stdout: "-metrics-addr", quietError: true},
		{args: []string{"spf", "--help"}, code: 0, stdout: "usage: testerd spf", quietError: true},
		{args: []string{"lint", "-h"}, code: 0, stdout: "usage: testerd lint", quietError: true},
		{args: []string{"version"}, code: 0, stdout: "testerd ", quietError: true},
		{args: []string{"--version"}, code: 0, stdout: "go1.", quietError: true},
		{args: []string{"serve", "--nope"}, code: 2, stderr: "testerd serve: flag provided but not defined: -nope"},
		{args: []string{"serve", "--data-dir", dir, "--log-format", "xml"}, code: 2, stderr: `testerd serve: --log-format "xml": use text or json`},
		{args: []string{"serve", "--data-dir", dir, "--log-level", "loud"}, code: 2, stderr: `testerd serve: --log-level "loud": use debug, info, warn or error`},
		{args: []string{"serve", "--data-dir", dir, "--domain", ""}, code: 2, stderr: "testerd serve: --domain: empty domain"},
		{args: []string{"serve", "--data-dir", dir, "--domain", "bad domain"}, code: 2, stderr: "is not a valid domain name"},
		{args: []string{"serve", "--data-dir", dir, "--public-url", "ftp://tester.example"}, code: 2, stderr: "--public-url"},
		{args: []string{"serve", "--data-dir", dir, "--public-url", "tester.example"}, code: 2, stderr: "--public-url"},
		{args: []string{"serve", "--data-dir", dir, "--smarthost-tls", "maybe"}, code: 2, stderr: "--smarthost-tls: smarthost TLS must be"},
		{args: []string{"serve", "--data-dir", dir, "--reply", "sometimes"}, code: 2, stderr: "--reply: reply mode must be"},
		{args: []string{"serve", "--data-dir", dir, "--lang", "fr"}, code: 2, stderr: `--lang "fr"`},
		{args: []string{"serve", "--data-dir", dir, "--database", "mysql://db/testerd"}, code: 2, stderr: "--database"},
		{args: []string{"serve", "--data-dir", dir, "--probe-lease", "10ms"}, code: 2, stderr: "--probe-lease"},
		{args: []string{"serve", "--data-dir", dir, "--spamhaus-dqs-key", "Bad.Key"}, code: 2, stderr: "--spamhaus-dqs-key"},
		{args: []string{"serve", "--data-dir", dir, "--alert-to", "ops at example"}, code: 2, stderr: "--alert-to"},
		{args: []string{"serve", "--data-dir", dir, "--watch-domains", "not a domain"}, code: 2, stderr: "--watch-domains"},
		{args: []string{"token", "-h"}, code: 0, stdout: "testerd token add", quietError: true},
	} {
		var out, errOut bytes.Buffer
		code := run(tt.args, strings.NewReader(""), &out, &errOut)
		if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errOut.String(), tt.stderr) {
			t.Errorf("testerd %q: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
				tt.args, code, clipText(out.String()), clipText(errOut.String()), tt.code, tt.stdout, tt.stderr)
		}
		if tt.quietError && errOut.Len() > 0 {
			t.Errorf("testerd %q wrote to stderr: %q", tt.args, clipText(errOut.String()))
		}
		if strings.Contains(errOut.String(), "testerd serve: testerd serve") {
			t.Errorf("testerd %q: doubled prefix in %q", tt.args, errOut.String())
		}
	}
}

func clipText(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
