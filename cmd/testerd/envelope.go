package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/testerd/testerd/dnsx"
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
