package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/testerd/testerd/bimi"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/outbound"
)

// runLint is "testerd lint DOMAIN": the domain record checker.
func runLint(cl *cli, args []string) int {
	stdout, stderr := cl.stdout, cl.stderr
	fs := flag.NewFlagSet("testerd lint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	resolver := fs.String("resolver", cl.getenv("TESTERD_RESOLVER", ""), "DNS server host:port (env TESTERD_RESOLVER; default: first nameserver of /etc/resolv.conf)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	selectors := fs.String("selector", "", "DKIM selectors to check, comma-separated")
	ip := fs.String("ip", "", "an IP address to evaluate against the SPF record, with the full trace")
	mailFrom := fs.String("mail-from", "", "the MAIL FROM for --ip (default postmaster@DOMAIN)")
	receiver := fs.String("receiver", cl.getenv("TESTERD_HOSTNAME", "testerd.localhost"), "receiving host name for the SPF trace")
	mxTLS := fs.Bool("mx-tls", false, "also connect to each MX on port 25 to check STARTTLS and its certificate")
	bimiRoots := fs.String("bimi-roots", cl.getenv("TESTERD_BIMI_ROOTS", ""), "PEM file of the mark certificate authorities' roots, to verify the BIMI certificate's chain (env TESTERD_BIMI_ROOTS)")
	langFlag := addLangFlag(cl, fs)
	failOnFlag := addFailOnFlag(fs, "the domain's report", failOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: testerd lint [flags] DOMAIN")
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), exitCodesHelp)
	}
	// Flags may come after the domain too.
	var domain string
	for len(args) > 0 {
		if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		if domain != "" {
			fmt.Fprintf(stderr, "testerd lint: one domain at a time (%q and %q)\n", domain, fs.Arg(0))
			return 2
		}
		domain, args = fs.Arg(0), fs.Args()[1:]
	}
	if domain == "" {
		fs.Usage()
		return 2
	}
	lang, ok := langFlag.parse("lint", stderr)
	if !ok {
		return 2
	}
	threshold, ok := parseFailOn(*failOnFlag, "lint", stderr)
	if !ok {
		return exitUsage
	}
	o := lint.Options{}
	for _, s := range strings.Split(*selectors, ",") {
		if s = strings.TrimSpace(s); s != "" {
			o.Selectors = append(o.Selectors, s)
		}
	}
	if *ip != "" {
		a, err := netip.ParseAddr(*ip)
		if err != nil {
			fmt.Fprintf(stderr, "testerd lint: --ip %q is not an IP address\n", *ip)
			return 2
		}
		o.IP, o.MailFrom = a, *mailFrom
		if o.MailFrom == "" {
			o.MailFrom = "postmaster@" + domain
		}
	}
	r, err := dnsx.NewClient(*resolver, dnsx.DefaultTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "testerd lint: %v\n", err)
		return 1
	}
	bc := &bimi.Checker{}
	if *bimiRoots != "" {
		pem, err := os.ReadFile(*bimiRoots)
		bc.Roots = x509.NewCertPool()
		if err != nil || !bc.Roots.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "testerd lint: --bimi-roots %s: no PEM certificate could be read (%v)\n", *bimiRoots, err)
			return 2
		}
	}
	c := &lint.Checker{Resolver: r, Receiver: *receiver, STS: &mtasts.Fetcher{Resolver: r}, BIMI: bc}
	if *mxTLS {
		c.MXTLS = &lint.MXTLS{Hostname: *receiver, Probe: outbound.ProbeTLS}
	}
	rep, err := c.Check(context.Background(), domain, o)
	if errors.Is(err, lint.ErrBadDomain) {
		fmt.Fprintf(stderr, "testerd lint: %v\n", err)
		return 2
	} else if err != nil {
		fmt.Fprintf(stderr, "testerd lint: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(rep.In(lang))
	} else {
		rep.WriteText(stdout, lang)
	}
	if rep.TesterFailure {
		// Findings made of unanswered questions say nothing of the
		// domain: no verdict on it, for CI either.
		fmt.Fprintln(stderr, "testerd lint: the DNS resolver did not answer every question: the report is about this machine's DNS, not about the domain")
		return exitTester
	}
	if threshold.exceeded(rep.Errors, rep.Warnings) {
		return exitFailsOn
	}
	return exitPass
}
