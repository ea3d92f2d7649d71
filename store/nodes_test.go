package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDeliveryLeases: a message a node is delivering stays its own while
// it renews the lease, goes to another node within a lease once it stops
// (it died), and that node learns the attempt was cut short.
func TestDeliveryLeases(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := twoNodes(t)
		a.ProbeLease, b.ProbeLease = 20*time.Second, 20*time.Second
		now := time.Now()
		if err := a.Enqueue(ctx, &Outgoing{ID: "m1", Created: now, State: Queued, Rcpt: "x@example.com", RcptDomain: "example.com", Data: []byte("m")}); err != nil {
			t.Fatal(err)
		}
		due, err := a.Due(ctx, now, 10)
		if err != nil || len(due) != 1 || due[0].Resumed {
			t.Fatalf("a's claim: %+v %v", due, err)
		}
		if err := a.StartAttempt(ctx, now, "m1"); err != nil {
			t.Fatal(err)
		}
		// a renews at a quarter of the lease: after two leases, still a's.
		for i := 1; i <= 8; i++ {
			at := now.Add(time.Duration(i) * 5 * time.Second)
			if err := a.RenewDeliveries(ctx, at, []string{"m1"}); err != nil {
				t.Fatal(err)
			}
			if due, _ := b.Due(ctx, at.Add(time.Second), 10); len(due) != 0 {
				t.Fatalf("b took a message a renews, at %v", at.Sub(now))
			}
		}
		// a dies after its last renewal (at 40 s): b has it once the
		// lease ends, 20 s later, and knows the attempt was cut short.
		if due, _ := b.Due(ctx, now.Add(59*time.Second), 10); len(due) != 0 {
			t.Fatal("b took the message before a's lease ended")
		}
		due, err = b.Due(ctx, now.Add(61*time.Second), 10)
		if err != nil || len(due) != 1 || !due[0].Resumed {
			t.Fatalf("b after a's lease: %+v %v", due, err)
		}
		o := due[0]
		o.State, o.Updated, o.Attempts, o.Sent = Sent, now, 1, now
		if err := b.UpdateDelivery(ctx, o); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.Outgoing(ctx, "m1"); got.Resumed {
			t.Error("the mark of the cut attempt outlived the recorded outcome")
		}
		// A message claimed and not tried now is given back: the other
		// node has it at once.
		if err := a.Enqueue(ctx, &Outgoing{ID: "m2", Created: now, State: Queued, Rcpt: "x@example.com", RcptDomain: "example.com", Data: []byte("m")}); err != nil {
			t.Fatal(err)
		}
		if due, _ := a.Due(ctx, now, 10); len(due) != 1 {
			t.Fatalf("a's claim of m2: %v", due)
		}
		if due, _ := b.Due(ctx, now, 10); len(due) != 0 {
			t.Fatal("b took m2 while a holds it")
		}
		if err := a.ReleaseDeliveries(ctx, []string{"m2"}); err != nil {
			t.Fatal(err)
		}
		if due, _ := b.Due(ctx, now, 10); len(due) != 1 || due[0].ID != "m2" {
			t.Errorf("b after a gave m2 back: %v", due)
		}
	})
}

// TestRegister: a name is held by one live instance; a second instance
// is refused with the holder named, a dead holder's name (its heartbeat
// older than the lease, or an instance known dead) is taken, and an
// instance that lost its name learns it at its next heartbeat.
func TestRegister(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := twoNodes(t)
		a.ProbeLease, b.ProbeLease = 20*time.Second, 20*time.Second
		now := time.Now()
		first := NodeRecord{Name: "n1", Instance: "i1", Addr: "host1 smtp 127.0.0.1:25", Started: now, Heartbeat: now}
		if err := a.Register(ctx, first, ""); err != nil {
			t.Fatal(err)
		}
		second := NodeRecord{Name: "n1", Instance: "i2", Addr: "host2 smtp 127.0.0.1:26", Started: now.Add(time.Second), Heartbeat: now.Add(time.Second)}
		err := b.Register(ctx, second, "")
		var taken *NodeTakenError
		if !errors.As(err, &taken) || taken.Holder.Instance != "i1" || !strings.Contains(err.Error(), "host1 smtp 127.0.0.1:25") {
			t.Fatalf("a second live instance: %v", err)
		}
		// The same instance registering again (a retry) is itself.
		if err := a.Register(ctx, first, ""); err != nil {
			t.Errorf("registering again: %v", err)
		}
		// The holder known dead (its data directory's lock was free).
		if err := b.Register(ctx, second, "i1"); err != nil {
			t.Fatalf("replacing a dead instance: %v", err)
		}
		if err := a.Heartbeat(ctx, "n1", "i1", now.Add(5*time.Second)); !errors.Is(err, ErrNodeLost) {
			t.Errorf("the replaced instance's heartbeat: %v", err)
		}
		// A heartbeat older than the lease frees the name.
		third := NodeRecord{Name: "n1", Instance: "i3", Addr: "host3", Started: now.Add(22 * time.Second), Heartbeat: now.Add(22 * time.Second)}
		if err := a.Register(ctx, third, ""); err != nil {
			t.Fatalf("after the lease: %v", err)
		}
		if err := a.Register(ctx, NodeRecord{Name: "n2", Instance: "j1", Addr: "host4", Started: now, Heartbeat: now.Add(22 * time.Second)}, ""); err != nil {
			t.Fatal(err)
		}
		live, err := a.LiveNodes(ctx, now.Add(23*time.Second))
		if err != nil || len(live) != 2 || live[0].Instance != "i3" || live[1].Name != "n2" {
			t.Fatalf("live nodes: %+v %v", live, err)
		}
		if err := a.Deregister(ctx, "n1", "i3"); err != nil {
			t.Fatal(err)
		}
		if live, _ := a.LiveNodes(ctx, now.Add(23*time.Second)); len(live) != 1 {
			t.Errorf("after leaving: %+v", live)
		}
	})
}

// TestSessions: a session started through one node is known to another,
// ends for both, expires, and a grant keeps at most MaxSessionsPerGrant.
func TestSessions(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		a, b := twoNodes(t)
		now := time.Now()
		if err := a.StartSession(ctx, "s1", "token:t1", now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if g, err := b.Session(ctx, "s1", now); err != nil || g != "token:t1" {
			t.Fatalf("the other node: %q %v", g, err)
		}
		if _, err := b.Session(ctx, "s1", now.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Errorf("an expired session: %v", err)
		}
		if err := b.EndSession(ctx, "s1"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Session(ctx, "s1", now); !errors.Is(err, ErrNotFound) {
			t.Errorf("an ended session: %v", err)
		}
		var hash string
		if err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE id_hash = ?`, "s1").Scan(&hash); err != nil || hash != "0" {
			t.Errorf("a session id stored in clear: %v %v", hash, err)
		}
		for i := range MaxSessionsPerGrant + 5 {
			at := now.Add(time.Duration(i) * time.Millisecond)
			if err := a.StartSession(ctx, "x"+string(rune('A'+i%26))+strings.Repeat("y", i), "admin:h", at, at.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := a.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sessions WHERE grant_id = 'admin:h'`).Scan(&n); err != nil || n != MaxSessionsPerGrant {
			t.Errorf("a grant keeps %d sessions (%v)", n, err)
		}
		if _, err := a.Session(ctx, "xA", now); !errors.Is(err, ErrNotFound) {
			t.Errorf("the oldest session outlived the bound: %v", err)
		}
		if k, err := a.SweepSessions(ctx, now.Add(2*time.Hour)); err != nil || k != MaxSessionsPerGrant {
			t.Errorf("swept %d (%v)", k, err)
		}
	})
}
