// Package worker connects the SMTP side to verification: it commits
// accepted probes to the store (the smtpd.Sink), hands them in memory to a
// bounded pool of workers, and stores each verdict, with the probe's reply
// enqueued in the same transaction. The store is for durability and the
// restart sweep, not a queue to read back from: a probe is judged from the
// copy SMTP handed over.
//
// At most MaxInFlight probes are accepted and not yet judged. When judging
// falls behind, Accept waits for room (so SMTP sessions, and their
// senders, slow down) and, past BusyWait, refuses with ErrBusy (smtpd
// answers 451) before storing anything. At start, and periodically after,
// probes that have no verdict yet are picked up from the store, so a crash
// delays a verdict but never loses it.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/smtpd"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
)

// Defaults.
const (
	DefaultWorkers = 8
	// DefaultMaxInFlight bounds the probes accepted and not yet judged.
	// It is small on purpose: a verdict waits for at most this many
	// others, so the time from end of DATA to stored verdict stays short
	// and intake slows instead.
	DefaultMaxInFlight = 32
	// DefaultBusyWait is how long Accept waits for room before refusing.
	DefaultBusyWait = 10 * time.Second
	// SweepInterval is how often pending probes are looked for.
	SweepInterval = 30 * time.Second
	// MaxRejudge bounds how often a probe is judged again because
	// testerd's own resolver did not answer; RejudgeDelay is the first
	// wait, doubled each time (5 s … 80 s, about 2.5 minutes in all).
	// After that the verdict is stored with its TesterFailure.
	MaxRejudge   = 5
	RejudgeDelay = 5 * time.Second
)

// ErrBusy is Accept's answer when judging is too far behind to take more
// (smtpd answers 451 4.3.2).
var ErrBusy = smtpd.ErrBusy

// Planner decides the reply to a judged probe (reply.Planner).
type Planner interface {
	Plan(p *store.Probe, v *verify.Verdict) *store.Outgoing
}

// Ingester keeps DMARC report messages (reports.Ingester): Keep
// commits one before the 250 and reads it later.
type Ingester interface {
	Keep(ctx context.Context, p *store.Probe) error
}

// Pool judges probes.
type Pool struct {
	Store  *store.Store
	Judge  *verify.Judge
	Logger *slog.Logger
	// Workers bounds concurrent verdicts; 0 means DefaultWorkers.
	Workers int
	// MaxInFlight and BusyWait: see the package doc; 0 takes the
	// defaults.
	MaxInFlight int
	BusyWait    time.Duration
	// Done, if set, is called after each verdict is stored, with the
	// time judging took.
	Done func(pr *store.Probe, v *verify.Verdict, elapsed time.Duration)
	// Reply, if set, plans the reply to each probe; it is enqueued with
	// the verdict, and then Enqueued is called.
	Reply    Planner
	Enqueued func()
	// Event, if set, makes the webhook event of a verdict (its JSON); it
	// is queued with the verdict for the tokens that see it, and then
	// Enqueued is called.
	Event func(pr *store.Probe, tags []string, verdict []byte, judged time.Time, again bool) ([]byte, error)
	// Reports, if set, takes the messages to report addresses (kind
	// "rua") instead of the probe queue.
	Reports Ingester
	// RejudgeDelay overrides the package default (tests).
	RejudgeDelay time.Duration

	once sync.Once
	// slots holds one token per probe accepted and not yet judged; queue
	// has room for all of them, so enqueueing never blocks.
	slots chan struct{}
	queue chan *store.Probe
	mu    sync.Mutex
	// inFlight holds the probes queued or being judged.
	inFlight map[string]bool
	// retry holds the probes waiting to be judged again after a tester
	// failure: how many tries so far and when the next is due.
	retry map[string]retryState
	// active counts the verdicts in progress per client network; parked
	// holds the probes of networks at their share, until one finishes.
	active map[netip.Prefix]int
	parked map[netip.Prefix][]*store.Probe
}

// share is how many workers one client network may hold at once: half,
// so a sender whose DNS answers slowly cannot hold them all.
func (p *Pool) share() int { return max(1, p.Workers/2) }

// next is the probe a free worker judges: a parked probe whose network
// is below its share again; else the next queued one within its share
// (the others are parked); else, with nothing else to do, a parked one
// anyway, but never into the last free worker: that one waits for
// another network's probe, so one slow network cannot make everyone else
// wait for its verdicts. It returns nil when ctx ends.
func (p *Pool) next(ctx context.Context) *store.Probe {
	for {
		if pr := p.unpark(false); pr != nil {
			return pr
		}
		select {
		case pr := <-p.queue:
			if p.take(pr) {
				return pr
			}
			continue
		default:
		}
		if pr := p.unpark(true); pr != nil {
			return pr
		}
		select {
		case pr := <-p.queue:
			if p.take(pr) {
				return pr
			}
		case <-ctx.Done():
			return nil
		}
	}
}

// take starts pr if its network is within its share, else parks it.
func (p *Pool) take(pr *store.Probe) bool {
	n := netguard.ClientNet(pr.ClientIP)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active[n] >= p.share() {
		p.parked[n] = append(p.parked[n], pr)
		return false
	}
	p.active[n]++
	return true
}

// unpark starts a parked probe of a network below its share, or with any,
// of any network.
func (p *Pool) unpark(any bool) *store.Probe {
	p.mu.Lock()
	defer p.mu.Unlock()
	if any && p.Workers > 1 {
		busy := 0
		for _, a := range p.active {
			busy += a
		}
		if busy >= p.Workers-1 {
			return nil // the last worker is kept for another network
		}
	}
	for n, q := range p.parked {
		if !any && p.active[n] >= p.share() {
			continue
		}
		pr := q[0]
		if p.parked[n] = q[1:]; len(p.parked[n]) == 0 {
			delete(p.parked, n)
		}
		p.active[n]++
		return pr
	}
	return nil
}

// done ends a verdict of pr's network.
func (p *Pool) done(pr *store.Probe) {
	n := netguard.ClientNet(pr.ClientIP)
	p.mu.Lock()
	if p.active[n]--; p.active[n] <= 0 {
		delete(p.active, n)
	}
	p.mu.Unlock()
}

type retryState struct {
	tries int
	due   time.Time
	probe *store.Probe
}

func (p *Pool) init() {
	p.once.Do(func() {
		if p.MaxInFlight <= 0 {
			p.MaxInFlight = DefaultMaxInFlight
		}
		if p.BusyWait <= 0 {
			p.BusyWait = DefaultBusyWait
		}
		p.slots = make(chan struct{}, p.MaxInFlight)
		p.queue = make(chan *store.Probe, p.MaxInFlight)
		p.inFlight = map[string]bool{}
		p.retry = map[string]retryState{}
		p.active = map[netip.Prefix]int{}
		p.parked = map[netip.Prefix][]*store.Probe{}
		if p.RejudgeDelay <= 0 {
			p.RejudgeDelay = RejudgeDelay
		}
		if p.Workers <= 0 {
			p.Workers = DefaultWorkers
		}
		if p.Logger == nil {
			p.Logger = slog.New(slog.DiscardHandler)
		}
	})
}

// Queued is the number of probes accepted and not yet judged.
func (p *Pool) Queued() int {
	p.init()
	return len(p.slots)
}

// Accept commits probes, then hands them to the workers. It implements
// smtpd.Sink. With MaxInFlight probes waiting it waits up to BusyWait for
// room, then returns ErrBusy without storing anything.
func (p *Pool) Accept(ctx context.Context, probes []*store.Probe) error {
	p.init()
	var judged, reports []*store.Probe
	for _, pr := range probes {
		if pr.Kind == kind.Report && p.Reports != nil {
			reports = append(reports, pr)
			continue
		}
		judged = append(judged, pr)
	}
	if len(reports) > 0 {
		// One message to several report addresses is ingested once.
		first := *reports[0]
		for _, r := range reports[1:] {
			first.Recipient += ", " + r.Recipient
		}
		if err := p.Reports.Keep(ctx, &first); err != nil {
			return err
		}
	}
	if len(judged) == 0 {
		return nil
	}
	if err := p.acquire(ctx, len(judged)); err != nil {
		return err
	}
	if err := p.Store.SaveProbes(ctx, judged); err != nil {
		p.release(len(judged))
		return err
	}
	for _, pr := range judged {
		p.enqueue(pr)
	}
	return nil
}

// acquire takes n slots, waiting at most BusyWait.
func (p *Pool) acquire(ctx context.Context, n int) error {
	n = min(n, p.MaxInFlight) // a message to more recipients than slots still gets in
	var t *time.Timer
	for got := 0; got < n; got++ {
		select {
		case p.slots <- struct{}{}:
			continue
		default:
		}
		if t == nil {
			t = time.NewTimer(p.BusyWait)
			defer t.Stop()
		}
		select {
		case p.slots <- struct{}{}:
		case <-t.C:
			p.release(got)
			return ErrBusy
		case <-ctx.Done():
			p.release(got)
			return ctx.Err()
		}
	}
	return nil
}

func (p *Pool) release(n int) {
	for range n {
		select {
		case <-p.slots:
		default:
		}
	}
}

// enqueue queues a probe that holds a slot, unless it is queued or being
// judged already (then the slot goes back).
func (p *Pool) enqueue(pr *store.Probe) {
	p.mu.Lock()
	if p.inFlight[pr.ID] {
		p.mu.Unlock()
		p.release(1)
		return
	}
	p.inFlight[pr.ID] = true
	p.mu.Unlock()
	select {
	case p.queue <- pr:
	default:
		// More than MaxInFlight queued (a message to more recipients than
		// slots): the sweep finds it.
		p.mu.Lock()
		delete(p.inFlight, pr.ID)
		p.mu.Unlock()
		p.release(1)
	}
}

// Run judges until ctx ends, then waits for the verdicts in progress. It
// returns nil once stopped.
func (p *Pool) Run(ctx context.Context) error {
	p.init()
	var wg sync.WaitGroup
	for i := 0; i < p.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				pr := p.next(ctx)
				if pr == nil {
					return
				}
				p.judge(pr)
				p.done(pr)
			}
		}()
	}
	p.sweep(ctx, true)
	// Often enough that a dead node's probes wait at most about a lease
	// and a half.
	t := time.NewTicker(min(SweepInterval, 2*p.Store.RenewEvery()))
	defer t.Stop()
	renew := time.NewTicker(p.Store.RenewEvery())
	defer renew.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
			p.sweep(ctx, false)
		case <-renew.C:
			if err := p.Store.RenewLeases(ctx, time.Now(), p.held()); err != nil && ctx.Err() == nil {
				p.Logger.Error("renewing the leases of probes being judged", "err", err)
			}
		}
	}
}

// held lists the probes this node is judging or will judge again.
func (p *Pool) held() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.inFlight)+len(p.retry))
	for id := range p.inFlight {
		ids = append(ids, id)
	}
	for id := range p.retry {
		if !p.inFlight[id] {
			ids = append(ids, id)
		}
	}
	return ids
}

// sweep claims stored probes that have no verdict and whose lease expired
// (a node died, or a probe did not fit in the queue), MaxInFlight at a
// time, taking a slot for each, so a backlog shares the workers with new
// probes instead of piling up in memory, and several nodes share it. The
// first sweep (own) also takes back this node's own probes from before a
// restart.
func (p *Pool) sweep(ctx context.Context, own bool) {
	for {
		ids, err := p.Store.ClaimPending(ctx, time.Now(), p.MaxInFlight, own)
		if err != nil {
			if ctx.Err() == nil {
				p.Logger.Error("claiming pending probes", "err", err)
			}
			return
		}
		taken := 0
		for _, id := range ids {
			p.mu.Lock()
			r, waiting := p.retry[id]
			busy := p.inFlight[id] || waiting && time.Now().Before(r.due)
			p.mu.Unlock()
			if busy {
				continue // the sweep must not undo a backoff
			}
			select {
			case p.slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			res, err := p.Store.Get(ctx, id)
			if err != nil {
				p.release(1)
				if !errors.Is(err, store.ErrNotFound) {
					p.Logger.Error("loading probe", "id", id, "err", err)
				}
				continue
			}
			pr := res.Probe
			p.enqueue(&pr)
			taken++
		}
		if len(ids) < p.MaxInFlight || taken == 0 {
			return // all claimed, or only probes already in hand
		}
	}
}

// later schedules a probe to be judged again after a tester failure; it
// reports false when the tries are used up and the verdict must be stored.
func (p *Pool) later(pr *store.Probe) bool {
	p.mu.Lock()
	st := p.retry[pr.ID]
	if st.tries >= MaxRejudge {
		p.mu.Unlock()
		return false
	}
	delay := p.RejudgeDelay << st.tries
	st.tries++
	st.due = time.Now().Add(delay)
	st.probe = pr
	p.retry[pr.ID] = st
	p.mu.Unlock()
	p.Logger.Warn("testerd's DNS resolver did not answer; the probe will be judged again", "id", pr.ID, "try", st.tries, "in", delay)
	// The page that waits says so: "retrying (n of MaxRejudge)".
	if err := p.Store.NoteTesterRetry(context.Background(), pr.ID, st.tries); err != nil {
		p.Logger.Error("recording a retry", "id", pr.ID, "err", err)
	}
	time.AfterFunc(delay, func() {
		// The retry takes a slot like any probe; it never blocks a timer
		// goroutine for long, since the sweep would find it anyway.
		select {
		case p.slots <- struct{}{}:
			p.enqueue(pr)
		case <-time.After(p.BusyWait):
		}
	})
	return true
}

// verify judges a probe as the tester it went to (the operator's mail
// like check@), with what its SMTP session recorded.
func (p *Pool) verify(ctx context.Context, pr *store.Probe) *verify.Verdict {
	session := &verify.Session{}
	if pr.TLS != nil {
		session.TLS = pr.TLS.Version
	}
	return p.Judge.Judge(ctx, verify.Probe{Kind: pr.Kind.Judged(), IP: pr.ClientIP, Helo: pr.Helo, MailFrom: pr.MailFrom, Raw: pr.Raw, Session: session, Rcpt: pr.Recipient})
}

// ErrNotJudged is Reanalyze's answer for a stored message that is not a
// probe (report mail).
var ErrNotJudged = errors.New("this message is a DMARC report, which is read, not judged")

// Reanalyze judges a stored probe again (after an upgrade, say) and
// stores the new verdict, keeping the one it replaces as the previous
// verdict, and returns the new verdict and the tags of the one it
// replaced. It sends no reply. When testerd's own DNS fails, the stored
// verdict is kept and the error says so.
func (p *Pool) Reanalyze(ctx context.Context, id string) (*verify.Verdict, []string, error) {
	res, err := p.Store.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if res.Kind == kind.Report {
		return nil, nil, ErrNotJudged
	}
	v := p.verify(ctx, &res.Probe)
	if !v.TesterFailure.IsZero() {
		return v, res.Tags, fmt.Errorf("not judged again: testerd could not ask its DNS resolver, so the stored verdict is kept (%s)", i18n.EN.Say(v.TesterFailure))
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, nil, err
	}
	sv := &store.Verdict{ProbeID: id, Judged: time.Now(), Tags: v.Tags, FromDomain: v.From.Domain,
		Subject: v.Message.Text(), JSON: js, Again: true}
	p.event(&res.Probe, sv)
	err = p.Store.SaveVerdict(ctx, sv)
	if err == nil && sv.EventsQueued > 0 && p.Enqueued != nil {
		p.Enqueued()
	}
	return v, res.Tags, err
}

// event adds the webhook event to sv, if events are on.
func (p *Pool) event(pr *store.Probe, sv *store.Verdict) {
	if p.Event == nil || !p.Store.WebhooksLive(context.Background()) {
		return
	}
	ev, err := p.Event(pr, sv.Tags, sv.JSON, sv.Judged, sv.Again)
	if err != nil {
		p.Logger.Error("encoding the webhook event", "id", pr.ID, "err", err)
		return
	}
	sv.Event = ev
}

// judge verifies one probe and stores the verdict, then gives its slot
// back. It uses its own context so that a shutdown lets the verdict in
// progress finish.
func (p *Pool) judge(pr *store.Probe) {
	defer func() {
		p.mu.Lock()
		delete(p.inFlight, pr.ID)
		p.mu.Unlock()
		p.release(1)
	}()
	ctx := context.Background()
	start := time.Now()
	v := p.verify(ctx, pr)
	if !v.TesterFailure.IsZero() && p.later(pr) {
		return
	}
	p.mu.Lock()
	delete(p.retry, pr.ID)
	p.mu.Unlock()
	js, err := json.Marshal(v)
	if err != nil {
		p.Logger.Error("encoding verdict", "id", pr.ID, "err", err)
		return
	}
	sv := &store.Verdict{ProbeID: pr.ID, Judged: time.Now(), Tags: v.Tags, FromDomain: v.From.Domain, Subject: v.Message.Text(), JSON: js}
	if p.Reply != nil {
		sv.Reply = p.Reply.Plan(pr, v)
		if !v.TesterFailure.IsZero() && sv.Reply != nil && sv.Reply.State == store.Queued {
			// Never mail a sender results that are about our DNS.
			sv.Reply.State, sv.Reply.Reason, sv.Reply.Data = store.Suppressed, i18n.M("why.tester-dns"), nil
		}
	}
	p.event(pr, sv)
	if err := p.Store.SaveVerdict(ctx, sv); err != nil {
		p.Logger.Error("storing verdict", "id", pr.ID, "err", err)
		return
	}
	if sv.EventsQueued > 0 && p.Enqueued != nil {
		p.Enqueued()
	}
	elapsed := time.Since(start)
	attrs := []any{"id", pr.ID, "session", pr.Session, "kind", pr.Kind, "client", pr.ClientIP, "mail_from", pr.MailFrom,
		"tags", v.Tags, "elapsed", elapsed.Round(time.Millisecond)}
	if sv.Reply != nil {
		attrs = append(attrs, "reply", sv.Reply.State, "reply_to", sv.Reply.Rcpt)
		if !sv.Reply.Reason.IsZero() {
			attrs = append(attrs, "reply_reason", i18n.EN.Say(sv.Reply.Reason))
		}
		if sv.Reply.State == store.Queued && p.Enqueued != nil {
			p.Enqueued()
		}
	}
	p.Logger.Info("probe judged", attrs...)
	if p.Done != nil {
		p.Done(pr, v, elapsed)
	}
}
