// Command testerd is a self-hosted tester mail server: people send a
// message to spf@ or dkim@ at the tester domain and get back a verdict
// that explains their SPF, DKIM and DMARC alignment.
//
// This file only dispatches subcommands; each lives in its own file.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

// cli is what a command reads and writes besides its arguments: the
// standard streams and the environment.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// env looks a variable up: os.LookupEnv in the binary. Tests give
	// their own, so no TESTERD_* variable of the machine reaches them.
	env func(name string) (string, bool)
}

// getenv returns the environment variable's value, or def: every flag of
// serve has an environment equivalent (--resolver ↔ TESTERD_RESOLVER).
func (c *cli) getenv(name, def string) string {
	if c.env != nil {
		if v, ok := c.env(name); ok {
			return v
		}
	}
	return def
}

type command struct {
	name  string
	usage string
	run   func(c *cli, args []string) int
}

var commands = []command{
	{"serve", "run the tester: SMTP, verification, SQLite storage and the web pages", runServe},
	{"load", "send DKIM-signed probes to a running testerd and measure throughput and verdict latency", runLoad},
	{"spf", "evaluate SPF for an IP, MAIL FROM and HELO, with the full trace", runSPF},
	{"check", "judge one message offline (SPF, DKIM, DMARC, tags) as the server would", runCheck},
	{"lint", "check any domain's SPF, DMARC, DKIM and MX records, with fixes", runLint},
	{"bounce", "explain a bounce (a returned message or pasted text): what it means, whose side must act, what to do", runBounce},
	{"dns-records", "print the DNS records to publish for the tester (MX, SPF, DKIM, DMARC) as zone-file lines", runDNSRecords},
	{"reanalyze", "judge the stored probes of a period again (after an upgrade), keeping the verdicts they replace", runReanalyze},
	{"mcp", "serve the tester's MCP tools (tests, results, domains, bounces, messages) on standard input and output, for AI assistants", runMCP},
	{"token", "add, list or revoke the API tokens (scoped, rate-limited, with an optional webhook)", runToken},
	{"healthcheck", "ask a running server's /healthz: exit 0 when healthy (a container's HEALTHCHECK)", runHealthcheck},
	{"version", "print the version, commit and Go version", runVersion},
}

func main() {
	c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, env: os.LookupEnv}
	os.Exit(c.run(os.Args[1:]))
}

// run dispatches to the command args name.
func (c *cli) run(args []string) int {
	if len(args) == 0 {
		usage(c.stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(c.stdout)
		return 0
	case "-version", "--version":
		return runVersion(c, nil)
	}
	for _, cmd := range commands {
		if cmd.name == args[0] {
			return cmd.run(c, args[1:])
		}
	}
	fmt.Fprintf(c.stderr, "testerd: unknown command %q\n\n", args[0])
	usage(c.stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: testerd COMMAND [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun testerd COMMAND -h for a command's flags.")
}

// parseFlags parses a command's flags. -h or --help prints the usage to
// stdout (exit 0); a bad flag prints what is wrong and the usage to stderr
// (exit 2). ok says whether the command goes on.
func parseFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case err == nil:
		fs.SetOutput(stderr)
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return 0, false
	}
	fs.SetOutput(stderr)
	fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
	fs.Usage()
	return 2, false
}

// version is the module version, the commit and the Go version the
// binary was built from, as the Go toolchain recorded them.
func version() string {
	v, commit, modified := "(devel)", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	out := "testerd " + v
	if commit != "" {
		out += " commit " + commit
		if modified {
			out += " (modified)"
		}
	}
	return out + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}

// runVersion is "testerd version" and "testerd --version".
func runVersion(cl *cli, args []string) int {
	stdout, stderr := cl.stdout, cl.stderr
	if len(args) > 0 {
		fmt.Fprintf(stderr, "testerd version: unexpected argument %q\n", args[0])
		return 2
	}
	fmt.Fprintln(stdout, version())
	return 0
}
