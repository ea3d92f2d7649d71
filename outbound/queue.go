package outbound

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/testerd/testerd/store"
)

// Queue defaults.
const (
	DefaultWorkers    = 4
	DefaultBackoff    = time.Minute
	DefaultMaxBackoff = time.Hour
	DefaultGiveUp     = 24 * time.Hour
	// AttemptTimeout bounds one delivery, over all MX hosts.
	AttemptTimeout = 10 * time.Minute
	// idle is the longest the queue sleeps without looking at the store.
	idle = time.Minute
)

// Queue delivers the outbox: every message whose next attempt is due,
// with at most Workers at once. Its state lives in the store only, so a
// restart resumes where it stopped; a message whose attempt was cut short
// by a shutdown is tried again, which can deliver it twice but never
// loses it.
type Queue struct {
	Store     *store.Store
	Transport Transport
	// Signer signs each message when it is sent; nil sends unsigned.
	Signer *Signer
	// Webhooks posts the outbox's webhook requests (channel "webhook");
	// nil fails them.
	Webhooks Poster
	Logger   *slog.Logger
	// Workers bounds concurrent deliveries; 0 means DefaultWorkers.
	Workers int
	// Backoff is the wait after the first temporary failure; it doubles
	// after each, up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
	// GiveUp is the age at which temporary failures become a permanent
	// one.
	GiveUp time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Done, if set, is called after each attempt is recorded.
	Done func(*store.Outgoing)
	// Resumed, if set, is called when an attempt begins at a message
	// whose earlier attempt was cut short (a node killed or stopped
	// during it): the one case where a recipient may get a message twice.
	Resumed func(*store.Outgoing)

	once     sync.Once
	wake     chan struct{}
	mu       sync.Mutex
	inFlight map[string]bool
}

func (q *Queue) init() {
	q.once.Do(func() {
		q.wake = make(chan struct{}, 1)
		q.inFlight = map[string]bool{}
		if q.Workers <= 0 {
			q.Workers = DefaultWorkers
		}
		if q.Backoff <= 0 {
			q.Backoff = DefaultBackoff
		}
		if q.MaxBackoff <= 0 {
			q.MaxBackoff = DefaultMaxBackoff
		}
		if q.GiveUp <= 0 {
			q.GiveUp = DefaultGiveUp
		}
		if q.Now == nil {
			q.Now = time.Now
		}
		if q.Logger == nil {
			q.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Notify tells the queue that new mail may be due.
func (q *Queue) Notify() {
	q.init()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then waits for the attempts in progress,
// which ctx cuts short.
func (q *Queue) Run(ctx context.Context) error {
	q.init()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		q.renew(ctx)
	}()
	sem := make(chan struct{}, q.Workers)
	for {
		// Claim what the free workers can start now, and no more: a
		// message claimed is this node's until its lease ends, so one
		// claimed to wait here would keep another node from it. The
		// claim also returns this node's messages in flight (its own
		// leases), which are skipped; a message claimed beyond the free
		// workers is given back at once.
		free := q.Workers - len(sem)
		var due []*store.Outgoing
		if free > 0 {
			var err error
			due, err = q.Store.Due(ctx, q.Now(), free+q.inFlightCount())
			if err != nil && ctx.Err() == nil {
				q.Logger.Error("outbox: listing due mail", "err", err)
			}
		}
		var extra []string
		for _, o := range due {
			if q.isInFlight(o.ID) {
				continue
			}
			if free == 0 || !q.claim(o.ID) {
				extra = append(extra, o.ID)
				continue
			}
			free--
			sem <- struct{}{} // a free worker: this does not wait
			wg.Add(1)
			go func() {
				defer wg.Done()
				if cur, ok := q.stillDue(ctx, o.ID); ok {
					q.attempt(ctx, cur)
				}
				<-sem
				q.release(o.ID)
				q.Notify()
			}()
		}
		if len(extra) > 0 {
			if err := q.Store.ReleaseDeliveries(ctx, extra); err != nil && ctx.Err() == nil {
				q.Logger.Error("outbox: giving back leases", "err", err)
			}
		}
		wait := idle
		if next, ok, err := q.Store.NextDue(ctx); err == nil && ok {
			// A due message may be in flight: its end wakes the queue.
			wait = min(max(next.Sub(q.Now()), time.Second/2), idle)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-q.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// stillDue re-reads a claimed message: the batch it came from may be
// older than an attempt that finished (and released it) meanwhile, and
// that copy must not be tried again.
func (q *Queue) stillDue(ctx context.Context, id string) (*store.Outgoing, bool) {
	o, err := q.Store.Outgoing(ctx, id)
	if err != nil {
		if ctx.Err() == nil {
			q.Logger.Error("outbox: reloading a message", "id", id, "err", err)
		}
		return nil, false
	}
	due := o.State == store.Queued || o.State == store.Deferred
	return o, due && !o.NextAttempt.After(q.Now())
}

// renew keeps the leases of the messages this node is delivering at a
// quarter of the lease until ctx ends, so no
// other node takes them while this one lives; once it dies, another
// node claims them within a lease.
func (q *Queue) renew(ctx context.Context) {
	t := time.NewTicker(q.Store.RenewEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		q.mu.Lock()
		ids := make([]string, 0, len(q.inFlight))
		for id := range q.inFlight {
			ids = append(ids, id)
		}
		q.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		if err := q.Store.RenewDeliveries(ctx, q.Now(), ids); err != nil && ctx.Err() == nil {
			q.Logger.Error("outbox: renewing leases", "err", err)
		}
	}
}

func (q *Queue) inFlightCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.inFlight)
}

func (q *Queue) isInFlight(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.inFlight[id]
}

func (q *Queue) claim(id string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inFlight[id] {
		return false
	}
	q.inFlight[id] = true
	return true
}

func (q *Queue) release(id string) {
	q.mu.Lock()
	delete(q.inFlight, id)
	q.mu.Unlock()
}

// Poster makes one attempt at a webhook request; a non-nil error is an
// *Error.
type Poster interface {
	Post(ctx context.Context, o *store.Outgoing) (*Delivery, error)
}

// attempt makes one delivery attempt and records its outcome.
func (q *Queue) attempt(ctx context.Context, o *store.Outgoing) {
	data := o.Data
	var err error
	if q.Signer != nil && o.Channel == store.Mail {
		data, err = q.Signer.Sign(o.Data)
	}
	if o.Resumed && q.Resumed != nil {
		q.Resumed(o)
	}
	if err := q.Store.StartAttempt(ctx, q.Now(), o.ID); err != nil && ctx.Err() == nil {
		q.Logger.Error("outbox: marking an attempt", "id", o.ID, "err", err)
	}
	var d *Delivery
	switch {
	case o.Channel == store.Webhook && q.Webhooks == nil:
		err = &Error{Permanent: true, Err: errors.New("webhooks are off on this testerd")}
	case o.Channel == store.Webhook:
		actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
		d, err = q.Webhooks.Post(actx, o)
		cancel()
		if err != nil && ctx.Err() != nil {
			return // shutting down: the next start tries again
		}
	case o.Channel != store.Mail:
		err = &Error{Permanent: true, Err: fmt.Errorf("unknown outbox channel %q", o.Channel)}
	case err == nil:
		actx, cancel := context.WithTimeout(ctx, AttemptTimeout)
		d, err = q.Transport.Deliver(actx, &Message{From: o.MailFrom, To: o.Rcpt, Data: data})
		cancel()
		if err != nil && ctx.Err() != nil {
			return // shutting down: the next start tries again
		}
	default:
		err = &Error{Permanent: true, Err: err}
	}
	now := q.Now()
	o.Attempts++
	o.Updated = now
	o.NextAttempt = time.Time{}
	var e *Error
	switch {
	case err == nil:
		o.State, o.Sent, o.Relay, o.TLS, o.LastError = store.Sent, now, d.Relay, d.TLS, ""
	case !errors.As(err, &e):
		e = &Error{Err: err}
		fallthrough
	default:
		o.LastError = oneLine(e.Error())
		giveUp := o.Created.Add(q.GiveUp)
		switch {
		case e.Permanent:
			o.State = store.Failed
		case !now.Before(giveUp):
			o.State = store.Failed
			o.LastError = fmt.Sprintf("gave up after %s and %d attempts; last error: %s", q.GiveUp, o.Attempts, o.LastError)
		default:
			o.State = store.Deferred
			o.NextAttempt = now.Add(q.backoff(o.Attempts))
			if o.NextAttempt.After(giveUp) {
				o.NextAttempt = giveUp // one last try at the give-up age
			}
		}
	}
	// The outcome is recorded even during a shutdown.
	if err := q.Store.UpdateDelivery(context.WithoutCancel(ctx), o); err != nil {
		q.Logger.Error("outbox: recording a delivery", "id", o.ID, "err", err)
		return
	}
	q.Logger.Info("outbox: attempt", "id", o.ID, "probe", o.ProbeID, "to", o.Rcpt, "state", o.State,
		"attempts", o.Attempts, "relay", o.Relay, "tls", o.TLS, "error", o.LastError)
	if q.Done != nil {
		q.Done(o)
	}
}

// backoff is the wait after the n-th failed attempt.
func (q *Queue) backoff(n int) time.Duration {
	d := q.Backoff
	for i := 1; i < n && d < q.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, q.MaxBackoff)
}
