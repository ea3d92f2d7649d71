package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLoad runs the load tool against an in-process server.
func TestLoad(t *testing.T) {
	t.Parallel()
	// The load tool serves DNS on a port the server must know first: hold
	// one free for UDP and TCP both until the tool starts (an outgoing
	// connection elsewhere could take the TCP port in between).
	pc, l := holdPort(t)
	dnsAddr := pc.LocalAddr().String()

	c := testConfig(t)
	c.Resolver = dnsAddr
	c.Limits.MaxConnsPerIP = 20
	smtpAddr, httpAddr := startServeWith(t, c)

	pc.Close()
	l.Close()
	var out, errb bytes.Buffer
	code := run([]string{"load", "--smtp", smtpAddr, "--http", httpAddr, "--dns", dnsAddr, "--rcpt", "check@" + probeDomain,
		"--conns", "4", "--probes", "40", "--wait", "30s"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"40 accepted", "0 failed", "40 verdicts: p50", "0 missing"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestLoadCorpus sends a directory of pre-signed .eml files (as
// ../shared/bench's corpus is used) and reports the server's CPU.
func TestLoadCorpus(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 5 {
		// Saved with LF line ends, as corpora on disk are.
		msg := strings.ReplaceAll(probeMessage(t, fmt.Sprintf("corpus %d", i), "Joe <joe@abc.it>"), "\r\n", "\n")
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.eml", i)), []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	smtpAddr, httpAddr := startServe(t)
	var out, errb bytes.Buffer
	code := run([]string{"load", "--smtp", smtpAddr, "--http", httpAddr, "--dir", dir, "--rcpt", "spf@" + probeDomain,
		"--mail-from", "joe@abc.it", "--helo", "mail.abc.it", "--conns", "2", "--probes", "12", "--wait", "30s",
		"--watch", strconv.Itoa(os.Getpid())}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	for _, want := range []string{"12 accepted", "0 failed", "12 verdicts: p50", "0 missing", "server CPU:", "ms per accepted probe"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	l := waitJudged(t, httpAddr, "spf", 12)
	for _, r := range l.Results {
		if strings.Join(r.Tags, " ") != "|OK| spf-pass" {
			t.Errorf("%s: %q", r.ID, r.Tags)
		}
	}
}

// holdPort returns a UDP socket and a TCP listener on one loopback port.
func holdPort(t *testing.T) (net.PacketConn, net.Listener) {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l
		}
		pc.Close()
	}
	t.Fatal("no loopback port free for both UDP and TCP")
	return nil, nil
}
