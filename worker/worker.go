// Package worker connects the SMTP side to verification: it commits
// accepted probes to the store (the smtpd.Sink), then judges them with a
// bounded pool of workers and stores each verdict, with the probe's reply
// enqueued in the same transaction. At start, and
// periodically after, it picks up probes that have no verdict yet, so a
// crash or a full queue delays a verdict but never loses it.
package worker

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
)

// Defaults.
const (
	DefaultWorkers   = 8
	DefaultQueueSize = 10000
	// SweepInterval is how often pending probes are looked for.
	SweepInterval = 30 * time.Second
	// MaxRejudge bounds how often a probe is judged again because
	// testerd's own resolver did not answer; RejudgeDelay is the first
	// wait, doubled each time (5 s … 80 s, about 2.5 minutes in all).
	// After that the verdict is stored with its TesterFailure.
	MaxRejudge   = 5
	RejudgeDelay = 5 * time.Second
)

// Planner decides the reply to a judged probe (reply.Config).
type Planner interface {
	Plan(p *store.Result, v *verify.Verdict) *store.Outgoing
}

// Ingester stores DMARC report messages (dmarcreport.Ingester).
type Ingester interface {
	Ingest(ctx context.Context, p *store.Probe) error
}

// ReportKind is the kind of a message to a report address.
const ReportKind = "rua"

// Pool judges probes.
type Pool struct {
	Store  *store.Store
	Judge  *verify.Judge
	Logger *slog.Logger
	// Workers bounds concurrent verdicts; 0 means DefaultWorkers.
	Workers int
	// Done, if set, is called after each verdict is stored.
	Done func(id string)
	// Reply, if set, plans the reply to each probe; it is enqueued with
	// the verdict, and then Enqueued is called.
	Reply    Planner
	Enqueued func()
	// Reports, if set, takes the messages to report addresses (kind
	// "rua") instead of the probe queue.
	Reports Ingester

	// RejudgeDelay overrides the package default (tests).
	RejudgeDelay time.Duration

	once     sync.Once
	queue    chan string
	mu       sync.Mutex
	inFlight map[string]bool
	// retry holds the probes waiting to be judged again after a tester
	// failure: how many tries so far and when the next is due.
	retry map[string]retryState
}

type retryState struct {
	tries int
	due   time.Time
}

func (p *Pool) init() {
	p.once.Do(func() {
		p.queue = make(chan string, DefaultQueueSize)
		p.inFlight = map[string]bool{}
		p.retry = map[string]retryState{}
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

// Accept commits probes, then queues them for judging. It implements
// smtpd.Sink.
func (p *Pool) Accept(ctx context.Context, probes []*store.Probe) error {
	p.init()
	var judged []*store.Probe
	for _, pr := range probes {
		if pr.Kind == ReportKind && p.Reports != nil {
			if err := p.Reports.Ingest(ctx, pr); err != nil {
				return err
			}
			continue
		}
		judged = append(judged, pr)
	}
	probes = judged
	if err := p.Store.SaveProbes(ctx, probes); err != nil {
		return err
	}
	for _, pr := range probes {
		p.enqueue(pr.ID)
	}
	return nil
}

// enqueue queues an id unless it is queued or being judged already; with
// a full queue the next sweep finds it.
func (p *Pool) enqueue(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inFlight[id] {
		return
	}
	if r, ok := p.retry[id]; ok && time.Now().Before(r.due) {
		return // the sweep must not undo the backoff
	}
	select {
	case p.queue <- id:
		p.inFlight[id] = true
	default:
	}
}

// Run judges until ctx ends, then waits for the verdicts in progress.
func (p *Pool) Run(ctx context.Context) {
	p.init()
	var wg sync.WaitGroup
	for i := 0; i < p.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case id := <-p.queue:
					p.judge(id)
				}
			}
		}()
	}
	p.sweep(ctx)
	t := time.NewTicker(SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-t.C:
			p.sweep(ctx)
		}
	}
}

func (p *Pool) sweep(ctx context.Context) {
	ids, err := p.Store.Pending(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.Logger.Error("listing pending probes", "err", err)
		}
		return
	}
	for _, id := range ids {
		p.enqueue(id)
	}
}

// later schedules a probe to be judged again after a tester failure; it
// reports false when the tries are used up and the verdict must be stored.
func (p *Pool) later(id string) bool {
	p.mu.Lock()
	st := p.retry[id]
	if st.tries >= MaxRejudge {
		p.mu.Unlock()
		return false
	}
	delay := p.RejudgeDelay << st.tries
	st.tries++
	st.due = time.Now().Add(delay)
	p.retry[id] = st
	p.mu.Unlock()
	p.Logger.Warn("testerd's DNS resolver did not answer; the probe will be judged again", "id", id, "try", st.tries, "in", delay)
	time.AfterFunc(delay, func() { p.enqueue(id) })
	return true
}

// judge verifies one stored probe and stores the verdict. It uses its own
// context so that a shutdown lets the verdict in progress finish.
func (p *Pool) judge(id string) {
	defer func() {
		p.mu.Lock()
		delete(p.inFlight, id)
		p.mu.Unlock()
	}()
	ctx := context.Background()
	r, err := p.Store.Get(ctx, id)
	if err != nil {
		p.Logger.Error("loading probe", "id", id, "err", err)
		return
	}
	kind, ok := verify.ParseKind(r.Kind)
	if !ok {
		kind = verify.KindCheck // postmaster@ mail is judged like check@
	}
	start := time.Now()
	session := &verify.Session{}
	if r.TLS != nil {
		session.TLS = r.TLS.Version
	}
	v := p.Judge.Judge(ctx, verify.Probe{Kind: kind, IP: r.ClientIP, Helo: r.Helo, MailFrom: r.MailFrom, Raw: r.Raw, Session: session})
	if v.TesterFailure != "" && p.later(id) {
		return
	}
	p.mu.Lock()
	delete(p.retry, id)
	p.mu.Unlock()
	js, err := json.Marshal(v)
	if err != nil {
		p.Logger.Error("encoding verdict", "id", id, "err", err)
		return
	}
	sv := &store.Verdict{ProbeID: id, Judged: time.Now(), Tags: v.Tags, FromDomain: v.From.Domain, Subject: v.Message.Text(), JSON: js}
	if p.Reply != nil {
		sv.Reply = p.Reply.Plan(r, v)
		if v.TesterFailure != "" && sv.Reply != nil && sv.Reply.State == store.Queued {
			// Never mail a sender results that are about our DNS.
			sv.Reply.State, sv.Reply.Reason, sv.Reply.Data = store.Suppressed, "testerd's DNS resolver did not answer, so the verdict says nothing about the sender", nil
		}
	}
	if err := p.Store.SaveVerdict(ctx, sv); err != nil {
		p.Logger.Error("storing verdict", "id", id, "err", err)
		return
	}
	attrs := []any{"id", id, "kind", r.Kind, "client", r.ClientIP, "mail_from", r.MailFrom,
		"tags", v.Tags, "elapsed", time.Since(start).Round(time.Millisecond)}
	if sv.Reply != nil {
		attrs = append(attrs, "reply", sv.Reply.State, "reply_to", sv.Reply.Rcpt)
		if sv.Reply.Reason != "" {
			attrs = append(attrs, "reply_reason", sv.Reply.Reason)
		}
		if sv.Reply.State == store.Queued && p.Enqueued != nil {
			p.Enqueued()
		}
	}
	p.Logger.Info("probe judged", attrs...)
	if p.Done != nil {
		p.Done(id)
	}
}
