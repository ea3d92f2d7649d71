package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/spf"
)

// maxCheckInput bounds the message read by testerd check, like the SMTP
// size limit does for the server.
const maxCheckInput = 64 << 20

// runCheck is "testerd check": one message judged offline exactly as the
// server judges a probe.
func runCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testerd check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ip := fs.String("ip", "", "the SMTP client's IP address (IPv4 or IPv6), required")
	helo := fs.String("helo", "", "the HELO/EHLO name")
	mailFrom := fs.String("mail-from", "", "the MAIL FROM address; empty for the null reverse-path <>")
	to := fs.String("to", "check", "the tester the message was sent to: spf, dkim or check")
	resolver := fs.String("resolver", envDefault("TESTERD_RESOLVER", ""), "DNS server host:port (env TESTERD_RESOLVER; default: first nameserver of /etc/resolv.conf)")
	timeout := fs.Duration("timeout", spf.DefaultTimeout, "deadline of the whole verdict")
	dnsTimeout := fs.Duration("dns-timeout", dnsx.DefaultTimeout, "deadline of each DNS query")
	receiver := fs.String("receiver", envDefault("TESTERD_HOSTNAME", "testerd.localhost"), "receiving host name, for Authentication-Results (env TESTERD_HOSTNAME)")
	asJSON := fs.Bool("json", false, "print the full verdict as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: testerd check --ip IP --helo NAME --mail-from ADDR [--to spf|dkim|check] [--resolver HOST:PORT] [--json] FILE.eml|-")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "testerd check: give one message file, or - for standard input")
		return 2
	}
	addr, err := netip.ParseAddr(*ip)
	if err != nil {
		fmt.Fprintf(stderr, "testerd check: --ip: %v\n", err)
		return 2
	}
	kind, ok := verify.ParseKind(*to)
	if !ok {
		fmt.Fprintf(stderr, "testerd check: --to %q: use spf, dkim or check\n", *to)
		return 2
	}
	if *mailFrom == "" && *helo == "" {
		fmt.Fprintln(stderr, "testerd check: give --mail-from, --helo or both")
		return 2
	}
	raw, err := readMessage(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "testerd check: %v\n", err)
		return 1
	}
	client, err := dnsx.NewClient(*resolver, *dnsTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "testerd check: %v\n", err)
		return 1
	}
	j := &verify.Judge{Resolver: client, Receiver: *receiver, Timeout: *timeout}
	start := time.Now()
	v := j.Judge(context.Background(), verify.Probe{Kind: kind, IP: addr, Helo: *helo, MailFrom: *mailFrom, Raw: raw})
	elapsed := time.Since(start)
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v); err != nil {
			fmt.Fprintf(stderr, "testerd check: %v\n", err)
			return 1
		}
		return 0
	}
	v.WriteText(stdout, *receiver)
	fmt.Fprintf(stdout, "\n(judged in %s through %s)\n", elapsed.Round(time.Millisecond), client.Server)
	return 0
}

func readMessage(name string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	raw, err := io.ReadAll(io.LimitReader(r, maxCheckInput+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxCheckInput {
		return nil, fmt.Errorf("the message is over %d MiB", maxCheckInput>>20)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("the message is empty")
	}
	return raw, nil
}
