package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/testerd/testerd/store"
)

// runToken is "testerd token add|list|revoke": the API tokens, kept
// hashed in the store of the data directory. A running server sees a
// change at its next request.
func runToken(cl *cli, args []string) int {
	stdout, stderr := cl.stdout, cl.stderr
	const use = "usage: testerd token add --name NAME --scopes SCOPES [--rate N] [--webhook URL]\n       testerd token list\n       testerd token revoke ID"
	if len(args) == 0 {
		fmt.Fprintln(stderr, use)
		return 2
	}
	sub := args[0]
	if sub == "-h" || sub == "--help" || sub == "help" {
		fmt.Fprintln(stdout, use)
		return 0
	}
	fs := flag.NewFlagSet("testerd token "+sub, flag.ContinueOnError)
	c := bindConfig(fs, cl.env) // the data directory, as serve has it (flag or TESTERD_DATA_DIR)
	var name, scopes, webhook string
	var rate int
	if sub == "add" {
		fs.StringVar(&name, "name", "", "what the token is for (shown by list)")
		fs.StringVar(&scopes, "scopes", "", "comma-separated: results (read every result and verdict), tests (create private tests), reports (DMARC reports), metrics (/metrics), mcp (the MCP tools at /mcp), admin (everything)")
		fs.IntVar(&rate, "rate", store.DefaultRate, "requests a minute the token may make")
		fs.StringVar(&webhook, "webhook", "", "URL that gets each verdict the token sees as a signed JSON POST")
	}
	if code, ok := parseFlags(fs, args[1:], stdout, stderr); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "testerd token %s: %s\n", sub, fmt.Sprintf(format, a...))
		return code
	}
	var want int
	switch sub {
	case "add", "list":
	case "revoke":
		want = 1
	default:
		fmt.Fprintf(stderr, "testerd token: unknown subcommand %q\n%s\n", sub, use)
		return 2
	}
	if fs.NArg() != want {
		return fail(2, "expected %d argument(s)\n%s", want, use)
	}
	var sc []store.Scope
	if sub == "add" {
		var err error
		if sc, err = store.ParseScopes(scopes); scopes == "" || err != nil {
			return fail(2, "--scopes: give one or more of results, tests, reports, metrics, mcp, admin (%v)", err)
		}
		if rate < 1 || rate > store.MaxRate {
			return fail(2, "--rate must be 1 to %d", store.MaxRate)
		}
		if webhook != "" {
			if err := checkWebhookURL(webhook); err != nil {
				return fail(2, "--webhook: %v", err)
			}
		}
	}
	ctx := context.Background()
	st, err := store.Open(ctx, c.databaseLocation())
	if err != nil {
		return fail(1, "%v", err)
	}
	defer st.Close()
	switch sub {
	case "add":
		t := &store.Token{Name: name, Scopes: sc, Rate: rate, Webhook: webhook}
		secret, err := st.AddToken(ctx, t)
		if err != nil {
			return fail(1, "%v", err)
		}
		fmt.Fprintf(stdout, "id      %s\ntoken   %s\n", t.ID, secret)
		if t.WebhookSecret != "" {
			fmt.Fprintf(stdout, "webhook %s\nsecret  %s   (verifies the Testerd-Signature header)\n", t.Webhook, t.WebhookSecret)
		}
		fmt.Fprintln(stdout, "The token is shown once and kept only as a hash: store it now.")
	case "list":
		ts, err := st.Tokens(ctx)
		if err != nil {
			return fail(1, "%v", err)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tRATE/MIN\tWEBHOOK\tCREATED\tREVOKED")
		for _, t := range ts {
			var names []string
			for _, s := range t.Scopes {
				names = append(names, string(s))
			}
			revoked := "-"
			if !t.Revoked.IsZero() {
				revoked = t.Revoked.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", t.ID, t.Name, strings.Join(names, ","), t.Rate, orDash(t.Webhook),
				t.Created.Format("2006-01-02 15:04"), revoked)
		}
		tw.Flush()
	case "revoke":
		if err := st.RevokeToken(ctx, fs.Arg(0)); err != nil {
			return fail(1, "%s: %v", fs.Arg(0), err)
		}
		fmt.Fprintf(stdout, "revoked %s\n", fs.Arg(0))
	}
	return 0
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkWebhookURL accepts an absolute http or https URL with a host and
// no credentials in it. Where it may point is checked at each delivery.
func checkWebhookURL(s string) error {
	if len(s) > store.MaxWebhookURL {
		return fmt.Errorf("over %d bytes", store.MaxWebhookURL)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("%q: the scheme must be https (or http)", s)
	case u.Hostname() == "":
		return fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return fmt.Errorf("%q carries credentials: the signature authenticates the requests", s)
	case strings.ContainsAny(s, "\r\n \t"):
		return fmt.Errorf("%q contains spaces or line breaks", s)
	}
	return nil
}
