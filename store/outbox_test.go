package store

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/rcpt"
)

func TestOutbox(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		for _, id := range []string{"p1", "p2"} {
			p := &Probe{Address: rcpt.Address{Kind: "spf"}, ID: id, Received: base, Recipient: "spf@t.example", ClientIP: netip.MustParseAddr("192.0.2.1"),
				MailFrom: "a@example.com", Raw: []byte("x")}
			if err := s.SaveProbe(ctx, p); err != nil {
				t.Fatal(err)
			}
		}
		queued := &Outgoing{ID: "o1", Created: base, State: Queued, Rcpt: "a@example.com", RcptDomain: "example.com",
			ClientIP: "192.0.2.1", Data: []byte("message")}
		if err := s.SaveVerdict(ctx, &Verdict{ProbeID: "p1", Judged: base, JSON: []byte("{}"), Reply: queued}); err != nil {
			t.Fatal(err)
		}
		// Judged again (a lost verdict recomputed): the reply is not doubled.
		again := &Outgoing{ID: "o1b", Created: base, State: Queued, Rcpt: "a@example.com", Data: []byte("message")}
		if err := s.SaveVerdict(ctx, &Verdict{ProbeID: "p1", Judged: base, JSON: []byte("{}"), Reply: again}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Outgoing(ctx, "o1b"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("a second reply to the same probe was stored: %v", err)
		}
		// A suppressed reply has no data and is never due.
		supp := &Outgoing{ID: "o2", Created: base, State: Suppressed, Reason: i18n.M("why.reply-off")}
		if err := s.SaveVerdict(ctx, &Verdict{ProbeID: "p2", Judged: base, JSON: []byte("{}"), Reply: supp}); err != nil {
			t.Fatal(err)
		}

		due, err := s.Due(ctx, base, 10)
		if err != nil || len(due) != 1 || due[0].ID != "o1" || string(due[0].Data) != "message" || due[0].ProbeID != "p1" {
			t.Fatalf("due: %+v, %v", due, err)
		}
		if next, ok, err := s.NextDue(ctx); err != nil || !ok || !next.Equal(base) {
			t.Fatalf("next due %v %v %v", next, ok, err)
		}

		o := due[0]
		o.State, o.Attempts, o.NextAttempt, o.LastError, o.Updated = Deferred, 1, base.Add(time.Minute), "451 later", base
		if err := s.UpdateDelivery(ctx, o); err != nil {
			t.Fatal(err)
		}
		if due, _ := s.Due(ctx, base.Add(30*time.Second), 10); len(due) != 0 {
			t.Fatal("a deferred message is due before its next attempt")
		}
		if due, _ := s.Due(ctx, base.Add(time.Minute), 10); len(due) != 1 {
			t.Fatal("a deferred message is not due at its next attempt")
		}
		r, err := s.Get(ctx, "p1")
		if err != nil || r.Reply == nil || r.Reply.State != Deferred || r.Reply.LastError != "451 later" || r.Reply.Data != nil {
			t.Fatalf("result's reply: %+v, %v", r.Reply, err)
		}
		if r, _ := s.Get(ctx, "p2"); r.Reply == nil || r.Reply.State != Suppressed || r.Reply.Reason.Key != "why.reply-off" || !r.Reply.NextAttempt.IsZero() {
			t.Fatalf("suppressed reply: %+v", r.Reply)
		}

		o.State, o.Sent, o.NextAttempt = Sent, base.Add(time.Minute), time.Time{}
		if err := s.UpdateDelivery(ctx, o); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.NextDue(ctx); ok {
			t.Fatal("nothing should be due once sent")
		}
		if err := s.UpdateDelivery(ctx, &Outgoing{ID: "nope"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("updating an unknown message: %v", err)
		}

		// Retention takes the replies with their probes.
		if _, err := s.DeleteBefore(ctx, base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Outgoing(ctx, "o1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("reply outlived its probe: %v", err)
		}
	})
}

// TestReplyLimitRace: two nodes (two Store handles on one database)
// enqueueing replies to one address at once, 40 in all against a limit of
// 10, store exactly 10 queued and the rest suppressed.
func TestReplyLimitRace(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := twoNodes(t)
		const n, limit = 40, 10
		now := time.Now()
		errs := make([]error, n)
		atOnce(n, a, b, func(st *Store, i int) {
			id := fmt.Sprint("race", i)
			p := &Probe{Address: rcpt.Address{Kind: "spf"}, ID: id, Received: now, Recipient: "spf@t", ClientIP: netip.MustParseAddr("192.0.2.9"), Raw: []byte("x")}
			if errs[i] = st.SaveProbe(ctx, p); errs[i] != nil {
				return
			}
			o := &Outgoing{ID: "o" + id, Created: now, State: Queued, Rcpt: "Busy@example.com", RcptDomain: "example.com", ClientIP: "192.0.2.9",
				Data: []byte("m"), Limits: []Limit{{Key: ByRcpt, Max: limit, Per: time.Hour, Reason: i18n.M("why.limit-address", limit)}}}
			errs[i] = st.SaveVerdict(ctx, &Verdict{ProbeID: id, Judged: now, JSON: []byte("{}"), Reply: o})
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		states, err := a.OutboxStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if states[Queued] != limit || states[Suppressed] != n-limit {
			t.Errorf("%d queued and %d suppressed for a limit of %d from %d concurrent replies", states[Queued], states[Suppressed], limit, n)
		}
	})
}

// TestLeases: a probe accepted by one node is not claimed by another
// while its lease runs, is claimed once it expires (the node died), and a
// message claimed for delivery by one node is neither due for the other
// nor recorded by it.
func TestLeases(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := twoNodes(t)
		now := time.Now()
		if err := a.SaveProbe(ctx, &Probe{Address: rcpt.Address{Kind: "spf"}, ID: "pa", Received: now, ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: []byte("x")}); err != nil {
			t.Fatal(err)
		}
		if ids, _ := b.ClaimPending(ctx, now, 10, true); len(ids) != 0 {
			t.Errorf("b claimed a's fresh probe: %v", ids)
		}
		if ids, _ := a.ClaimPending(ctx, now, 10, true); len(ids) != 1 {
			t.Errorf("a restarting did not take its probe back: %v", ids)
		}
		later := now.Add(DefaultProbeLease + time.Second)
		ids, err := b.ClaimPending(ctx, later, 10, false)
		if err != nil || len(ids) != 1 {
			t.Fatalf("b after a's lease ran out: %v %v", ids, err)
		}
		if ids, _ := a.ClaimPending(ctx, later, 10, false); len(ids) != 0 {
			t.Errorf("a claimed a probe b holds: %v", ids)
		}
		if err := b.SaveVerdict(ctx, &Verdict{ProbeID: "pa", Judged: later, JSON: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		if ids, _ := a.ClaimPending(ctx, later.Add(time.Hour), 10, true); len(ids) != 0 {
			t.Errorf("a judged probe was claimed: %v", ids)
		}

		if err := a.Enqueue(ctx, &Outgoing{ID: "m1", Created: now, State: Queued, Rcpt: "x@example.com", RcptDomain: "example.com", Data: []byte("m")}); err != nil {
			t.Fatal(err)
		}
		due, err := a.Due(ctx, now, 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("a's claim: %v %v", due, err)
		}
		if due, _ := b.Due(ctx, now, 10); len(due) != 0 {
			t.Errorf("b got a message a holds")
		}
		o := due[0]
		o.State, o.Updated, o.Attempts = Sent, now, 1
		if err := b.UpdateDelivery(ctx, o); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("b recorded a delivery a holds: %v", err)
		}
		if err := a.UpdateDelivery(ctx, o); err != nil {
			t.Errorf("a recording its delivery: %v", err)
		}
	})
}

// TestRunOnce: of two nodes asking to run a job for one period, one does;
// the next period is anyone's again.
func TestRunOnce(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := twoNodes(t)
		got := make([]bool, 20)
		atOnce(len(got), a, b, func(st *Store, i int) {
			ok, err := st.RunOnce(ctx, "retention", "2026-12-01T23")
			if err != nil {
				t.Error(err)
			}
			got[i] = ok
		})
		n := 0
		for _, ok := range got {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d of 20 runs for one period", n)
		}
		if ok, err := b.RunOnce(ctx, "retention", "2026-12-02T00"); !ok || err != nil {
			t.Errorf("the next period: %v %v", ok, err)
		}
	})
}

// twoNodes opens one fresh database twice, as nodes "a" and "b".
func twoNodes(t *testing.T) (*Store, *Store) {
	loc := location(t)
	a, b := open(t, loc), open(t, loc)
	a.Node, b.Node = "a", "b"
	return a, b
}

// atOnce runs f n times concurrently, alternating the nodes a and b, and
// waits for all.
func atOnce(n int, a, b *Store, f func(st *Store, i int)) {
	var wg sync.WaitGroup
	for i := range n {
		st := a
		if i%2 == 1 {
			st = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(st, i)
		}()
	}
	wg.Wait()
}

// TestLimitCountUsesLiveIndex: the limits' counts read the partial index
// of live replies, so the suppressed replies of a flood are not walked
// (a pipelined flood was quadratic). SQLite's plan says which index.
func TestLimitCountUsesLiveIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "p.db"))
	for _, cond := range []string{"rcpt_key = ?", "rcpt_domain = ? AND authenticated = ?", "client_ip = ?"} {
		q := `EXPLAIN QUERY PLAN SELECT COUNT(*) FROM outbox WHERE ` + cond + ` AND created_at >= ? AND state != '` + string(Suppressed) + `' AND channel = ''`
		args := []any{"x", 0}
		if !strings.Contains(cond, "AND") {
			args = args[:1]
		}
		rows, err := s.db.QueryContext(context.Background(), q, append(args, 0)...)
		if err != nil {
			t.Fatal(err)
		}
		var plan string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan += detail + "; "
		}
		rows.Close()
		if !strings.Contains(plan, "outbox_live_") {
			t.Errorf("%s: plan %q does not use a live-reply index", cond, plan)
		}
	}
}

// BenchmarkLimitedReply measures storing a verdict whose reply is over
// its limit, after a flood of suppressed replies to the same address in
// the hour: with the live-reply indexes the count does not grow with the
// flood.
//
//	go test ./store -run '^$' -bench LimitedReply
func BenchmarkLimitedReply(b *testing.B) {
	for _, flood := range []int{100, 5000} {
		b.Run(fmt.Sprintf("suppressed=%d", flood), func(b *testing.B) {
			ctx := context.Background()
			st, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			now := time.Now()
			save := func(i int) {
				id := fmt.Sprint("p", i)
				p := &Probe{Address: rcpt.Address{Kind: "spf"}, ID: id, Received: now, Recipient: "spf@t", ClientIP: netip.MustParseAddr("192.0.2.9"), Raw: []byte("x")}
				if err := st.SaveProbe(ctx, p); err != nil {
					b.Fatal(err)
				}
				o := &Outgoing{ID: "o" + id, Created: now, State: Queued, Rcpt: "busy@example.com", RcptDomain: "example.com", ClientIP: "192.0.2.9",
					Data: []byte("m"), Limits: []Limit{{Key: ByRcpt, Max: 1, Per: time.Hour, Reason: i18n.M("why.limit-address", 1)},
						{Key: ByRcptDomain, Max: 1, Per: time.Hour}, {Key: ByClientIP, Max: 1, Per: time.Hour}}}
				if err := st.SaveVerdict(ctx, &Verdict{ProbeID: id, Judged: now, JSON: []byte("{}"), Reply: o}); err != nil {
					b.Fatal(err)
				}
			}
			for i := range flood {
				save(i)
			}
			b.ResetTimer()
			for i := range b.N {
				save(flood + i)
			}
		})
	}
}

// TestMailboxLimit: a limit per address counts the mailbox: joe+1@ …
// joe+12@ are one, so a redirect that names it anew each time gets the
// mailbox's limit, not twelve of them.
func TestMailboxLimit(t *testing.T) {
	ctx := context.Background()
	st := open(t, filepath.Join(t.TempDir(), "m.db"))
	now := time.Now()
	queued := 0
	for i := range 12 {
		id := fmt.Sprint("m", i)
		p := &Probe{Address: rcpt.Address{Kind: "spf"}, ID: id, Received: now, Recipient: "spf@t", ClientIP: netip.MustParseAddr("192.0.2.9"), Raw: []byte("x")}
		if err := st.SaveProbe(ctx, p); err != nil {
			t.Fatal(err)
		}
		o := &Outgoing{ID: "o" + id, Created: now, State: Queued, Rcpt: fmt.Sprintf("Victim+%d@vic.example", i), RcptDomain: "vic.example", ClientIP: "192.0.2.9",
			Data: []byte("m"), Limits: []Limit{{Key: ByRcpt, Max: 3, Per: time.Hour}}}
		if err := st.SaveVerdict(ctx, &Verdict{ProbeID: id, Judged: now, JSON: []byte("{}"), Reply: o}); err != nil {
			t.Fatal(err)
		}
		if o.State == Queued {
			queued++
		}
	}
	if queued != 3 {
		t.Errorf("%d of 12 replies to one mailbox's +addresses queued, want 3", queued)
	}
	if k := MailboxKey("Joe+tag@Example.COM"); k != "joe@example.com" {
		t.Errorf("MailboxKey: %q", k)
	}
}
