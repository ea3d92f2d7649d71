// Command testerd is a self-hosted tester mail server: people send a
// message to spf@ or dkim@ at the tester domain and get back a verdict
// that explains their SPF, DKIM and DMARC alignment.
//
// This file only dispatches subcommands; each lives in its own file.
package main

import (
	"fmt"
	"io"
	"os"
)

type command struct {
	name  string
	usage string
	run   func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

var commands = []command{
	{"serve", "run the tester: SMTP, verification, SQLite storage and the web pages", runServe},
	{"load", "send DKIM-signed probes to a running testerd and measure throughput and verdict latency", runLoad},
	{"spf", "evaluate SPF for an IP, MAIL FROM and HELO, with the full trace", runSPF},
	{"check", "judge one message offline (SPF, DKIM, DMARC, tags) as the server would", runCheck},
	{"lint", "check any domain's SPF, DMARC, DKIM and MX records, with fixes", runLint},
	{"dns-records", "print the DNS records to publish for the tester (MX, SPF, DKIM, DMARC) as zone-file lines", runDNSRecords},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stderr)
		return 2
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "testerd: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: testerd COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun testerd COMMAND -h for a command's flags.")
}

// envDefault returns the environment variable's value, or def: every
// flag has an environment equivalent (--resolver ↔ TESTERD_RESOLVER).
func envDefault(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
