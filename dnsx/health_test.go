package dnsx

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/testerd/testerd/i18n"
)

// TestUnreachable: a resolver that is not there is not a SERVFAIL of the
// name asked, and Health says the resolver is down.
func TestUnreachable(t *testing.T) {
	c, err := NewClient(deadAddr(t), 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	tally := NewTally(c)
	for i := range UnhealthyAfter {
		if c.Health().Err() != nil {
			t.Fatalf("unhealthy after %d misses", i)
		}
		_, err := tally.LookupTXT(context.Background(), "example.com")
		if k := KindOf(err); k != Unreachable && k != Timeout {
			t.Fatalf("kind %v (%v), want resolver unreachable", k, err)
		}
		if !NoAnswer(err) || !strings.Contains(err.Error(), c.Server) {
			t.Errorf("%v: want the resolver's address in the error", err)
		}
	}
	if err := c.Health().Err(); err == nil || !strings.Contains(err.Error(), "has not answered 3 questions") {
		t.Errorf("health: %v", err)
	}
	if why := i18n.EN.Say(tally.NoAnswer()); !strings.Contains(why, "none of its 3 DNS questions") {
		t.Errorf("tally: %q", why)
	}

	// Once it answers, even NXDOMAIN, it is healthy again.
	srv, err := StartServerAt(NewZone(), c.Server)
	if err != nil {
		t.Skipf("could not listen again on %s: %v", c.Server, err)
	}
	defer srv.Close()
	if _, err := tally.LookupTXT(context.Background(), "nothing.example"); KindOf(err) != NXDomain {
		t.Fatalf("%v, want NXDOMAIN", err)
	}
	if err := c.Health().Err(); err != nil {
		t.Errorf("health after an answer: %v", err)
	}
	// The verdict still saw questions it could not ask: not the sender's
	// fault, so the tally keeps saying so.
	if why := i18n.EN.Say(tally.NoAnswer()); !strings.Contains(why, "3 of its 4 DNS questions got no answer") {
		t.Errorf("tally after an answer: %q", why)
	}
	if why := NewTally(c).NoAnswer(); !why.IsZero() {
		t.Errorf("a new tally: %q", why)
	}
}

// TestRefused: a resolver that refuses every question is the tester's
// problem.
func TestRefused(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeRefused)
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()
	c, _ := NewClient(pc.LocalAddr().String(), time.Second)
	_, err = c.LookupIP(context.Background(), "ip4", "example.com")
	if KindOf(err) != Refused || !NoAnswer(err) || !strings.Contains(err.Error(), "REFUSED") {
		t.Errorf("%v, want REFUSED", err)
	}
	tally := NewTally(c)
	tally.LookupTXT(context.Background(), "example.com")
	if why := i18n.EN.Say(tally.NoAnswer()); !strings.Contains(why, "none of its 1 DNS questions") {
		t.Errorf("a resolver that refuses everything: %q", why)
	}
}

func deadAddr(t *testing.T) string {
	t.Helper()
	addr, err := DeadAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
