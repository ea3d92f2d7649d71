package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/verify/spf"
)

// runSPF is "testerd spf": one SPF check, both identities, printed with
// its trace (or as JSON).
func runSPF(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testerd spf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ip := fs.String("ip", "", "the SMTP client's IP address (IPv4 or IPv6), required")
	mailFrom := fs.String("mail-from", "", "the MAIL FROM address; empty for the null reverse-path <>")
	helo := fs.String("helo", "", "the HELO/EHLO name")
	resolver := fs.String("resolver", envDefault("TESTERD_RESOLVER", ""), "DNS server host:port (env TESTERD_RESOLVER; default: first nameserver of /etc/resolv.conf)")
	timeout := fs.Duration("timeout", spf.DefaultTimeout, "deadline of each evaluation")
	dnsTimeout := fs.Duration("dns-timeout", dnsx.DefaultTimeout, "deadline of each DNS query")
	receiver := fs.String("receiver", envDefault("TESTERD_HOSTNAME", "testerd.localhost"), "receiving host name, for %{r} and Received-SPF (env TESTERD_HOSTNAME)")
	record := fs.String("record", "", "evaluate this record as if published at the MAIL FROM domain (a draft, before publishing it)")
	asJSON := fs.Bool("json", false, "print the result structs as JSON")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: testerd spf --ip IP [--mail-from ADDR] [--helo NAME] [--resolver HOST:PORT] [--record TEXT] [--json]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "testerd spf: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	addr, err := netip.ParseAddr(*ip)
	if err != nil {
		fmt.Fprintf(stderr, "testerd spf: --ip: %v\n", err)
		return 2
	}
	if *mailFrom == "" && *helo == "" {
		fmt.Fprintln(stderr, "testerd spf: give --mail-from, --helo or both")
		return 2
	}
	client, err := dnsx.NewClient(*resolver, *dnsTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "testerd spf: %v\n", err)
		return 1
	}
	var res dnsx.Resolver = client
	if *record != "" {
		// The draft stands for the record of the identity verdicts use.
		sender := *mailFrom
		if sender == "" {
			sender = *helo
		}
		_, domain := spf.SplitSender(sender)
		res = &draftRecord{Resolver: client, domain: domain, record: *record}
	}
	c := &spf.Checker{Resolver: res, Receiver: *receiver, Timeout: *timeout}
	start := time.Now()
	o := c.Check(context.Background(), spf.Params{IP: addr, Helo: *helo, MailFrom: *mailFrom})
	elapsed := time.Since(start)

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(o); err != nil {
			fmt.Fprintf(stderr, "testerd spf: %v\n", err)
			return 1
		}
		return 0
	}
	eff := o.Effective()
	fmt.Fprintf(stdout, "SPF %s (identity %s, resolver %s, %s)\n\n", eff.Result, o.Used, client.Server, elapsed.Round(time.Millisecond))
	if o.MailFrom != nil {
		o.MailFrom.WriteText(stdout, *receiver)
		fmt.Fprintln(stdout)
	}
	if o.Helo != nil {
		o.Helo.WriteText(stdout, *receiver)
	}
	return 0
}

// draftRecord answers TXT questions for one domain with a record given on
// the command line, and passes everything else to the real resolver.
type draftRecord struct {
	dnsx.Resolver
	domain, record string
}

func (d *draftRecord) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if strings.EqualFold(strings.TrimSuffix(name, "."), strings.TrimSuffix(d.domain, ".")) {
		return []string{d.record}, nil
	}
	return d.Resolver.LookupTXT(ctx, name)
}
