package dnsx

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/testerd/testerd/i18n"
)

// UnhealthyAfter is how many questions in a row must go unanswered before
// Health reports the resolver down.
const UnhealthyAfter = 3

// Health follows whether testerd's resolver answers: a question it
// answered (with records, NXDOMAIN or SERVFAIL alike) resets it; one it
// did not (unreachable, REFUSED, timeout) counts. Safe for concurrent use.
type Health struct {
	mu       sync.Mutex
	misses   int
	since    time.Time
	lastErr  string
	answers  int64
	lastSeen time.Time
}

func (h *Health) answered() {
	h.mu.Lock()
	h.misses, h.lastErr = 0, ""
	h.answers++
	h.lastSeen = time.Now()
	h.mu.Unlock()
}

func (h *Health) noAnswer(err error) {
	h.mu.Lock()
	if h.misses == 0 {
		h.since = time.Now()
	}
	h.misses++
	h.lastErr = err.Error()
	h.mu.Unlock()
}

// Err is nil while the resolver answers, else says since when it has not.
func (h *Health) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.misses < UnhealthyAfter {
		return nil
	}
	return fmt.Errorf("the DNS resolver has not answered %d questions in a row since %s (last: %s)",
		h.misses, h.since.UTC().Format(time.RFC3339), h.lastErr)
}

// Tally wraps a Resolver for one verdict and counts its questions, so the
// verdict can tell "the sender's DNS is broken" from "testerd's resolver
// did not answer at all".
type Tally struct {
	R       Resolver
	asked   atomic.Int64
	missed  atomic.Int64
	lastErr atomic.Pointer[string]
}

// NewTally returns a Tally over r.
func NewTally(r Resolver) *Tally { return &Tally{R: r} }

func (t *Tally) note(err error) {
	t.asked.Add(1)
	if NoAnswer(err) {
		t.missed.Add(1)
		s := err.Error()
		t.lastErr.Store(&s)
	}
}

// NoAnswer says why the verdict is testerd's failure, or is zero. Any
// question testerd's resolver did not answer (unreachable, REFUSED, timed
// out) makes it so: a recursive resolver answers SERVFAIL for a sender's
// broken or slow name servers, so no answer at all is the tester's, and a
// verdict that missed an answer could blame the sender for it.
func (t *Tally) NoAnswer() i18n.Msg {
	n, missed := t.asked.Load(), t.missed.Load()
	if n == 0 || missed == 0 {
		return i18n.Msg{}
	}
	s := "-"
	if p := t.lastErr.Load(); p != nil {
		s = *p
	}
	if missed < n {
		return i18n.M("dns.some-unanswered", missed, n, s)
	}
	return i18n.M("dns.unanswered", n, s)
}

func (t *Tally) LookupTXT(ctx context.Context, name string) ([]string, error) {
	v, err := t.R.LookupTXT(ctx, name)
	t.note(err)
	return v, err
}

func (t *Tally) LookupIP(ctx context.Context, network, name string) ([]netip.Addr, error) {
	v, err := t.R.LookupIP(ctx, network, name)
	t.note(err)
	return v, err
}

func (t *Tally) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	v, err := t.R.LookupMX(ctx, name)
	t.note(err)
	return v, err
}

func (t *Tally) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	v, err := t.R.LookupAddr(ctx, addr)
	t.note(err)
	return v, err
}
