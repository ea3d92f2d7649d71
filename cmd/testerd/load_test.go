package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// TestLoad runs the load tool against an in-process server.
func TestLoad(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr := pc.LocalAddr().String()
	pc.Close()

	c := testConfig(t)
	c.Resolver = dnsAddr
	c.Limits.MaxConnsPerIP = 20
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, c, slog.New(slog.DiscardHandler), func(s, h string) { ready <- [2]string{s, h} })
	}()
	defer func() { cancel(); <-done }()
	addrs := <-ready

	var out, errb bytes.Buffer
	code := run([]string{"load", "--smtp", addrs[0], "--http", addrs[1], "--dns", dnsAddr, "--rcpt", "check@" + probeDomain,
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
