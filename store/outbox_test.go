package store

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestOutbox(t *testing.T) {
	bothEngines(t, func(t *testing.T) {
		ctx := context.Background()
		s := open(t, location(t))
		base := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
		for _, id := range []string{"p1", "p2"} {
			p := &Probe{ID: id, Received: base, Kind: "spf", Recipient: "spf@t.example", ClientIP: netip.MustParseAddr("192.0.2.1"),
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
		supp := &Outgoing{ID: "o2", Created: base, State: Suppressed, Reason: "why"}
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
		if r, _ := s.Get(ctx, "p2"); r.Reply == nil || r.Reply.State != Suppressed || r.Reply.Reason != "why" || !r.Reply.NextAttempt.IsZero() {
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
