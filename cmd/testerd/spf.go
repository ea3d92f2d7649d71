package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/verify/spf"
)

// runSPF is "testerd spf": one SPF check, both identities, printed with
// its trace (or as JSON).
func runSPF(cl *cli, args []string) int {
	stdout, stderr := cl.stdout, cl.stderr
	fs := flag.NewFlagSet("testerd spf", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var env envelopeFlags
	addEnvelopeFlags(cl, fs, &env, "%{r} and Received-SPF")
	record := fs.String("record", "", "evaluate this record as if published at the MAIL FROM domain (a draft, before publishing it)")
	asJSON := fs.Bool("json", false, "print the result structs as JSON")
	langFlag := addLangFlag(cl, fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: testerd spf --ip IP [--mail-from ADDR] [--helo NAME] [--resolver HOST:PORT] [--record TEXT] [--json]")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "testerd spf: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	addr, ok := env.check("spf", stderr)
	if !ok {
		return 2
	}
	lang, ok := langFlag.parse("spf", stderr)
	if !ok {
		return 2
	}
	client, err := dnsx.NewClient(env.resolver, env.dnsTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "testerd spf: %v\n", err)
		return 1
	}
	tally := dnsx.NewTally(client)
	var res dnsx.Resolver = tally
	if *record != "" {
		// The draft stands for the record of the identity verdicts use.
		sender := env.mailFrom
		if sender == "" {
			sender = env.helo
		}
		_, domain := spf.SplitSender(sender)
		res = &draftRecord{Resolver: tally, domain: domain, record: *record}
	}
	c := &spf.Checker{Resolver: res, Receiver: env.receiver, Timeout: env.timeout}
	start := time.Now()
	o := c.Check(context.Background(), spf.Params{IP: addr, Helo: env.helo, MailFrom: env.mailFrom})
	elapsed := time.Since(start)

	noAnswer := tally.NoAnswer()
	if !noAnswer.IsZero() {
		fmt.Fprintf(stderr, "testerd spf: the resolver %s did not answer: %s; the result below is about this machine's DNS, not about the domain\n", client.Server, i18n.EN.Say(noAnswer))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(o); err != nil {
			fmt.Fprintf(stderr, "testerd spf: %v\n", err)
			return 1
		}
		return exitNoAnswer(noAnswer)
	}
	eff := o.Effective()
	fmt.Fprintf(stdout, "%s\n\n", lang.T("spf.text.cli", string(eff.Result), string(o.Used), client.Server, elapsed.Round(time.Millisecond).String()))
	if o.MailFrom != nil {
		o.MailFrom.WriteText(stdout, env.receiver, lang)
		fmt.Fprintln(stdout)
	}
	if o.Helo != nil {
		o.Helo.WriteText(stdout, env.receiver, lang)
	}
	return exitNoAnswer(noAnswer)
}

// exitNoAnswer is the exit status of a command whose resolver may not
// have answered: 1 then, since its result is about the local DNS.
func exitNoAnswer(noAnswer i18n.Msg) int {
	if !noAnswer.IsZero() {
		return 1
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
