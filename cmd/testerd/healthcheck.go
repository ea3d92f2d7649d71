package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// runHealthcheck is "testerd healthcheck": asks a running server's
// /healthz (the store writable, the resolver answering) and exits 0 when
// it is healthy, 1 otherwise: what a container's HEALTHCHECK runs, in an
// image with no shell or curl.
func runHealthcheck(cl *cli, args []string) int {
	stdout, stderr := cl.stdout, cl.stderr
	fs := flag.NewFlagSet("testerd healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("http-addr", cl.getenv("TESTERD_HTTP_ADDR", "127.0.0.1:8080"), "the server's HTTP address (env TESTERD_HTTP_ADDR); a wildcard host is asked on loopback")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "testerd healthcheck: --http-addr %q: %v\n", *addr, err)
		return 2
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: *timeout}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		fmt.Fprintf(stderr, "testerd healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "testerd healthcheck: %s: %s\n", resp.Status, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
