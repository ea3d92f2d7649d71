package main

import (
	"context"
	"flag"
	"fmt"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/worker"
)

// runReanalyze is "testerd reanalyze": judge the stored probes of a period
// again with this build (after an upgrade), keeping each verdict it
// replaces beside the new one. It sends no replies. It can run while
// testerd serve runs on the same data directory, with the same flags or
// environment.
func runReanalyze(cl *cli, args []string) int {
	stdout, stderr := cl.stdout, cl.stderr
	fs := flag.NewFlagSet("testerd reanalyze", flag.ContinueOnError)
	// serve's flags and environment, so the data directory, the resolver
	// and the receiver name in Authentication-Results are the server's.
	c := bindConfig(fs, cl.env)
	since := fs.Duration("since", 24*time.Hour, "judge again the probes received in this last period")
	limit := fs.Int("limit", 10000, "at most this many probes")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 || *since <= 0 || *limit < 1 {
		fmt.Fprintln(stderr, "testerd reanalyze: give --since a positive duration and --limit a positive number, and no arguments")
		return 2
	}
	if err := c.resolve(); err != nil {
		fmt.Fprintf(stderr, "testerd reanalyze: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	st, err := store.Open(ctx, c.databaseLocation())
	if err != nil {
		fmt.Fprintf(stderr, "testerd reanalyze: %v\n", err)
		return 1
	}
	defer st.Close()
	dns, err := dnsx.NewClient(c.Resolver, dnsx.DefaultTimeout)
	if err != nil {
		fmt.Fprintf(stderr, "testerd reanalyze: %v\n", err)
		return 1
	}
	ids, err := st.JudgedSince(ctx, time.Now().Add(-*since), *limit)
	if err != nil {
		fmt.Fprintf(stderr, "testerd reanalyze: %v\n", err)
		return 1
	}
	pool := &worker.Pool{Store: st, Judge: &verify.Judge{Resolver: dns, Receiver: c.Hostname, Reputation: c.reputation(), Spam: c.spam(), Unsubscribe: c.unsubscribeTrier(), BIMI: c.bimi()}}
	changed, failed := 0, 0
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		v, prev, err := pool.Reanalyze(ctx, id)
		if err != nil {
			failed++
			fmt.Fprintf(stdout, "%s: %v\n", id, err)
			continue
		}
		old := strings.Join(prev, " ")
		if now := strings.Join(v.Tags, " "); now != old {
			changed++
			fmt.Fprintf(stdout, "%s: %s → %s\n", id, old, now)
		}
	}
	fmt.Fprintf(stdout, "%d probes judged again, %d with other tags, %d not judged\n", len(ids)-failed, changed, failed)
	if failed > 0 {
		return 1
	}
	return 0
}
