package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/testerd/testerd/bimi"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/explain"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/rspamd"
	"github.com/testerd/testerd/verify"
)

// maxCheckInput bounds the message read by testerd check, like the SMTP
// size limit does for the server.
const maxCheckInput = 64 << 20

// runCheck is "testerd check": one message judged offline exactly as the
// server judges a probe.
func runCheck(c *cli, args []string) int {
	stdin, stdout, stderr := c.stdin, c.stdout, c.stderr
	fs := flag.NewFlagSet("testerd check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var env envelopeFlags
	addEnvelopeFlags(c, fs, &env, "Authentication-Results")
	to := fs.String("to", "check", "the tester the message was sent to: spf, dkim or check")
	asJSON := fs.Bool("json", false, "print the full verdict as JSON")
	keepBytes := fs.Bool("raw", false, "judge the file's bytes as they are; without it, a file with LF line ends only is read with CRLF, as the message had on the wire")
	langFlag := addLangFlag(c, fs)
	tlsVersion := fs.String("tls", "", `the session's TLS version for the sender-requirements report ("1.3", "1.2", or "none"); unset, TLS is not judged`)
	failOnFlag := addFailOnFlag(fs, "the message's diagnosis", failOnNever)
	withBIMI := fs.Bool("bimi", false, "also check the From domain's BIMI record, logo and mark certificate (fetches them over HTTPS), for the check tester")
	rspamdURL := fs.String("rspamd-url", c.getenv("TESTERD_RSPAMD_URL", ""), "an rspamd normal worker (http://127.0.0.1:11333) to ask for its opinion too, for the check tester (env TESTERD_RSPAMD_URL)")
	ignore := fs.String("ignore", "", "requirements (comma-separated ids, such as dkim,dkim-aligned for an unsigned fixture) that --fail-on does not count")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: testerd check --ip IP --helo NAME --mail-from ADDR [--to spf|dkim|check] [--resolver HOST:PORT] [--json] [--fail-on error|warning|never] FILE.eml|-")
		fs.PrintDefaults()
		fmt.Fprintln(fs.Output(), exitCodesHelp)
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "testerd check: give one message file, or - for standard input")
		return 2
	}
	addr, ok := env.check("check", stderr)
	if !ok {
		return 2
	}
	kind, ok := kind.ParseTester(*to)
	if !ok {
		fmt.Fprintf(stderr, "testerd check: --to %q: use spf, dkim or check\n", *to)
		return 2
	}
	lang, ok := langFlag.parse("check", stderr)
	if !ok {
		return 2
	}
	threshold, ok := parseFailOn(*failOnFlag, "check", stderr)
	if !ok {
		return exitUsage
	}
	var ignored []string
	for _, id := range strings.Split(*ignore, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ignored = append(ignored, id)
		}
	}
	raw, err := readMessage(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintf(stderr, "testerd check: %v\n", err)
		return 1
	}
	converted := false
	if !*keepBytes {
		raw, converted = message.FileLineEnds(raw)
	}
	client, err := dnsx.NewClient(env.resolver, env.dnsTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "testerd check: %v\n", err)
		return 1
	}
	j := &verify.Judge{Resolver: client, Receiver: env.receiver, Timeout: env.timeout}
	if *withBIMI {
		j.BIMI = &bimi.Checker{}
	}
	if *rspamdURL != "" {
		j.Spam = &rspamd.Client{URL: *rspamdURL}
	}
	start := time.Now()
	p := verify.Probe{Kind: kind, IP: addr, Helo: env.helo, MailFrom: env.mailFrom, Raw: raw, Rcpt: string(kind) + "@" + env.receiver}
	switch *tlsVersion {
	case "":
	case "none":
		p.Session = &verify.Session{}
	case "1.0", "1.1", "1.2", "1.3":
		p.Session = &verify.Session{TLS: "TLS " + *tlsVersion}
	default:
		fmt.Fprintf(stderr, "testerd check: --tls must be 1.0 to 1.3 or none, not %q\n", *tlsVersion)
		return 2
	}
	v := j.Judge(context.Background(), p)
	elapsed := time.Since(start)
	if converted {
		fmt.Fprintln(stderr, "testerd check: the file has LF line ends only, as files saved on Unix do; it was judged with CRLF, as it travelled over SMTP (--raw judges the bytes as they are)")
	}
	if !v.TesterFailure.IsZero() {
		fmt.Fprintf(stderr, "testerd check: the resolver %s did not answer: the verdict is about this machine's DNS, not about the sender\n", client.Server)
	}
	d := explain.Diagnose(v, explain.Options{Lang: lang, TesterDomain: env.receiver})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(checkJSON{Verdict: v, Diagnosis: d}); err != nil {
			fmt.Fprintf(stderr, "testerd check: %v\n", err)
			return 1
		}
	} else {
		d.WriteText(stdout)
		fmt.Fprintf(stdout, "\n== %s\n\n", lang.T("result.details"))
		v.WriteText(stdout, env.receiver, lang)
		fmt.Fprintf(stdout, "\n(%s)\n", lang.T("text.judged", elapsed.Round(time.Millisecond).String(), client.Server))
	}
	if code := exitNoAnswer(v.TesterFailure); code != 0 {
		return code
	}
	if threshold.exceeded(diagnosisCounts(d, ignored)) {
		return exitFailsOn
	}
	return exitPass
}

// checkJSON is testerd check --json: the verdict the server would store,
// with the diagnosis its page shows beside it.
type checkJSON struct {
	*verify.Verdict
	Diagnosis *explain.Diagnosis `json:"diagnosis"`
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
