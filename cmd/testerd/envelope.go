package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/verify/spf"
)

// envelopeFlags are the flags testerd spf and testerd check share: the
// SMTP envelope to judge and how to reach DNS.
type envelopeFlags struct {
	ip, helo, mailFrom, resolver, receiver string
	timeout, dnsTimeout                    time.Duration
}

func addEnvelopeFlags(cl *cli, fs *flag.FlagSet, e *envelopeFlags, receiverUse string) {
	fs.StringVar(&e.ip, "ip", "", "the SMTP client's IP address (IPv4 or IPv6), required")
	fs.StringVar(&e.helo, "helo", "", "the HELO/EHLO name")
	fs.StringVar(&e.mailFrom, "mail-from", "", "the MAIL FROM address; empty for the null reverse-path <>")
	fs.StringVar(&e.resolver, "resolver", cl.getenv("TESTERD_RESOLVER", ""), "DNS server host:port (env TESTERD_RESOLVER; default: first nameserver of /etc/resolv.conf)")
	fs.DurationVar(&e.timeout, "timeout", spf.DefaultTimeout, "deadline of the whole evaluation")
	fs.DurationVar(&e.dnsTimeout, "dns-timeout", dnsx.DefaultTimeout, "deadline of each DNS query")
	fs.StringVar(&e.receiver, "receiver", cl.getenv("TESTERD_HOSTNAME", "testerd.localhost"), "receiving host name, for "+receiverUse+" (env TESTERD_HOSTNAME)")
}

// check validates the envelope and returns the client IP; ok is false
// after a usage error has been printed.
func (e *envelopeFlags) check(cmd string, stderr io.Writer) (netip.Addr, bool) {
	addr, err := netip.ParseAddr(e.ip)
	if err != nil {
		fmt.Fprintf(stderr, "testerd %s: --ip: %v\n", cmd, err)
		return addr, false
	}
	if e.mailFrom == "" && e.helo == "" {
		fmt.Fprintf(stderr, "testerd %s: give --mail-from, --helo or both\n", cmd)
		return addr, false
	}
	return addr, true
}

// langFlag is --lang: the language of what a command prints for people
// (env TESTERD_LANG), read by its parse once the flags are parsed.
type langFlag struct{ s *string }

func addLangFlag(cl *cli, fs *flag.FlagSet) langFlag {
	return langFlag{fs.String("lang", cl.getenv("TESTERD_LANG", "en"), "language of the output: "+i18n.Codes()+" (env TESTERD_LANG)")}
}

// parse returns the language; ok is false after a usage error.
func (f langFlag) parse(cmd string, stderr io.Writer) (i18n.Lang, bool) {
	l, ok := i18n.Parse(*f.s)
	if !ok {
		fmt.Fprintf(stderr, "testerd %s: --lang %q: use %s\n", cmd, *f.s, i18n.Codes())
	}
	return l, ok
}
