package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"
)

// MaxBatch bounds the writes one transaction takes.
const MaxBatch = 256

// ErrClosed is returned for writes after Close.
var ErrClosed = errors.New("store: closed")

// A write is one caller's probes, verdict or delivery outcome, committed
// with whatever other writes are waiting (group commit).
type write struct {
	probes   []*Probe
	verdict  *Verdict
	delivery *Outgoing
	// lost is set for a delivery another node holds (nothing written).
	lost bool
	done chan error
}

// writer is the one goroutine that commits probes, verdicts and delivery
// outcomes. It takes the first waiting write, then every other one
// already waiting (up to MaxBatch), and commits them in one transaction:
// one fsync for all. A lone write never waits for company: it is
// committed as soon as the writer is free.
type writer struct {
	mu     sync.RWMutex
	closed bool
	ch     chan *write
	done   chan struct{}

	insertProbe, insertRaw, upsertVerdict, againVerdict, replyExists, queueEvent, endLease *sql.Stmt
}

func (s *Store) startWriter(ctx context.Context) error {
	wr := &s.wr
	var err error
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var st *sql.Stmt
		st, err = s.w.PrepareContext(ctx, q)
		return st
	}
	wr.insertProbe = prep(s.probeRow(&Probe{}, nil, nil).insert("probes"))
	wr.endLease = prep(`UPDATE probes SET lease_until = 0 WHERE id = ?`)
	wr.insertRaw = prep(`INSERT INTO raws (id, raw) VALUES (?, ?)`)
	wr.upsertVerdict = prep(`INSERT INTO verdicts (probe_id, judged_at, tags, from_domain, subject, verdict)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (probe_id) DO UPDATE SET judged_at = excluded.judged_at, tags = excluded.tags, from_domain = excluded.from_domain,
			subject = excluded.subject, verdict = excluded.verdict, previous = NULL, previous_judged_at = 0`)
	wr.againVerdict = prep(`INSERT INTO verdicts (probe_id, judged_at, tags, from_domain, subject, verdict)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (probe_id) DO UPDATE SET previous = verdicts.verdict, previous_judged_at = verdicts.judged_at,
			judged_at = excluded.judged_at, tags = excluded.tags, from_domain = excluded.from_domain,
			subject = excluded.subject, verdict = excluded.verdict`)
	wr.replyExists = prep(`SELECT COUNT(*) FROM outbox WHERE probe_id = ?`)
	// One webhook request per token that sees the verdict: its scopes
	// name results (or admin), or it made the probe's private test.
	wr.queueEvent = prep(s.webhookRows(`t.id IN (SELECT o.token_id FROM test_owners o JOIN probes p ON p.private = o.test WHERE p.id = ?)`) + `
		AND (? = 1 OR NOT EXISTS (SELECT 1 FROM outbox e WHERE e.about = ? AND e.token_id = t.id))`)
	if err != nil {
		return err
	}
	wr.ch = make(chan *write, MaxBatch)
	wr.done = make(chan struct{})
	go s.writeLoop()
	return nil
}

// submit hands a write to the writer and waits for its commit.
func (s *Store) submit(ctx context.Context, w *write) error {
	w.done = make(chan error, 1)
	s.wr.mu.RLock()
	if s.wr.closed {
		s.wr.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.wr.ch <- w:
	case <-ctx.Done():
		s.wr.mu.RUnlock()
		return ctx.Err()
	}
	s.wr.mu.RUnlock()
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		// The write may still commit; a caller that gives up must treat
		// it as not done (SMTP answers 451, and the client tries again).
		return ctx.Err()
	}
}

func (s *Store) stopWriter() {
	s.wr.mu.Lock()
	if !s.wr.closed {
		s.wr.closed = true
		close(s.wr.ch)
	}
	s.wr.mu.Unlock()
	<-s.wr.done
	for _, st := range []*sql.Stmt{s.wr.insertProbe, s.wr.insertRaw, s.wr.upsertVerdict, s.wr.againVerdict, s.wr.replyExists, s.wr.queueEvent, s.wr.endLease} {
		st.Close()
	}
}

func (s *Store) writeLoop() {
	defer close(s.wr.done)
	batch := make([]*write, 0, MaxBatch)
	for first := range s.wr.ch {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < MaxBatch {
			select {
			case w, ok := <-s.wr.ch:
				if !ok {
					break drain
				}
				batch = append(batch, w)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
	}
}

// commitBatch commits a batch in one transaction. If any write in it
// fails, the transaction is rolled back and each write is committed on
// its own, so one bad write never fails the others.
func (s *Store) commitBatch(batch []*write) {
	start := time.Now()
	err := s.commit(batch)
	if err != nil && s.d.retryable(err) {
		// A pooled connection that died (the database restarted, the
		// network dropped it) fails before anything is sent: once more, on
		// another connection.
		err = s.commit(batch)
	}
	s.stats.record(len(batch), time.Since(start), err)
	s.noteCommit(err)
	if err == nil || len(batch) == 1 {
		for _, w := range batch {
			w.done <- err
		}
		return
	}
	for _, w := range batch {
		w.done <- s.commit([]*write{w})
	}
}

func (s *Store) commit(batch []*write) error {
	ctx := context.Background()
	durable := false
	for _, w := range batch {
		durable = durable || len(w.probes) > 0 || w.delivery != nil
	}
	tx, release, err := s.begin(ctx, durable)
	if err != nil {
		return err
	}
	defer release()
	for _, w := range batch {
		if err := s.execProbes(ctx, tx, w.probes); err != nil {
			return err
		}
		if w.verdict != nil {
			if err := s.execVerdict(ctx, tx, w.verdict); err != nil {
				return err
			}
		}
		if w.delivery != nil {
			lost, err := s.execDelivery(ctx, tx, w.delivery)
			if err != nil {
				return err
			}
			w.lost = lost
		}
	}
	return tx.Commit()
}

// begin starts a write transaction. One that is not durable is not
// waited for on disk (synchronous=NORMAL on SQLite, synchronous_commit
// off on PostgreSQL): for writes a crash may lose because they are
// recomputed (verdicts from their probes, leases claimed again). release
// ends the transaction (rolling back what was not committed) and restores
// the connection.
func (s *Store) begin(ctx context.Context, durable bool) (tx *sqlTx, release func(), err error) {
	if s.d.postgres {
		t, err := s.w.BeginTx(ctx, nil)
		if err != nil {
			return nil, nil, err
		}
		if !durable {
			if _, err := t.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				t.Rollback()
				return nil, nil, err
			}
		}
		return t, func() { t.Rollback() }, nil
	}
	conn, err := s.w.conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	if !durable {
		if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
	t, err := conn.BeginTx(ctx, nil)
	if err != nil {
		if !durable {
			conn.ExecContext(ctx, `PRAGMA synchronous = FULL`)
		}
		conn.Close()
		return nil, nil, err
	}
	return t, func() {
		t.Rollback()
		if !durable {
			conn.ExecContext(context.Background(), `PRAGMA synchronous = FULL`)
		}
		conn.Close()
	}, nil
}

// execProbes inserts one SMTP transaction's probes. The message is
// stored once, in raws (a message to several recipients is shared by
// their probes), and each probe row points at it: the rows stay small,
// so the updates a probe's row gets (its lease, given up with the
// verdict) do not rewrite the message.
func (s *Store) execProbes(ctx context.Context, tx *sqlTx, ps []*Probe) error {
	if len(ps) == 0 {
		return nil
	}
	rawID := ps[0].ID
	if _, err := tx.exec(ctx, s.wr.insertRaw, rawID, ps[0].Raw); err != nil {
		return err
	}
	for _, p := range ps {
		if !bytes.Equal(p.Raw, ps[0].Raw) {
			return errors.New("store: the probes of one write must share their message")
		}
		if _, err := tx.exec(ctx, s.wr.insertProbe, s.probeRow(p, []byte{}, rawID).vals...); err != nil {
			return err
		}
	}
	return nil
}

// probeRow is a probe's row: its raw message (empty when rawID names the
// raws row it shares), and its lease, this node's.
func (s *Store) probeRow(p *Probe, raw []byte, rawID any) *columns {
	tls := TLS{}
	if p.TLS != nil {
		tls = *p.TLS
	}
	r := &columns{}
	return r.set("id", p.ID).set("received_at", p.Received.UnixNano()).
		set("kind", p.Kind).set("rcpt", p.Recipient).set("extension", p.Extension).
		set("lang", p.Lang).set("tag", p.Tag).set("private", p.Private).
		set("client_ip", p.ClientIP.String()).set("helo", p.Helo).set("mail_from", p.MailFrom).
		set("tls_version", tls.Version).set("tls_cipher", tls.Cipher).set("size", p.Size).
		set("raw", raw).set("raw_id", rawID).set("session", p.Session).set("view_key", p.ViewKey).
		set("lease_owner", s.Node).set("lease_until", p.Received.Add(s.probeLease()).UnixNano())
}

func (s *Store) execVerdict(ctx context.Context, tx *sqlTx, v *Verdict) error {
	stmt := s.wr.upsertVerdict
	if v.Again {
		stmt = s.wr.againVerdict
	}
	_, err := tx.exec(ctx, stmt,
		v.ProbeID, v.Judged.UnixNano(), strings.Join(v.Tags, "\n"), v.FromDomain, v.Subject, v.JSON)
	if err != nil {
		return err
	}
	if _, err := tx.exec(ctx, s.wr.endLease, v.ProbeID); err != nil {
		return err
	}
	if v.Event != nil {
		now := v.Judged.UnixNano()
		res, err := tx.exec(ctx, s.wr.queueEvent, now, now, Queued, v.Event, now, v.ProbeID, string(ScopeResults), v.ProbeID, b2i(v.Again), v.ProbeID)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		v.EventsQueued = int(n)
	}
	if v.Reply == nil {
		return nil
	}
	var exists int
	if err := tx.queryRow(ctx, s.wr.replyExists, v.ProbeID).Scan(&exists); err != nil {
		return err
	}
	if exists > 0 { // a verdict stored again never replies twice
		return nil
	}
	v.Reply.ProbeID = v.ProbeID
	return insertOutgoing(ctx, tx, v.Reply)
}

// BatchStats counts the writer's transactions, for benchmarks and metrics.
type BatchStats struct {
	mu sync.Mutex
	BatchCounts
}

// BatchCounts are the writer's counts so far.
type BatchCounts struct {
	// Commits is the number of batches committed (or tried), Writes the
	// probes and verdicts in them, Largest the largest batch.
	Commits int64
	Writes  int64
	Largest int
	// Failed counts the batches whose commit failed; CommitTime sums the
	// time the commits took.
	Failed     int64
	CommitTime time.Duration
}

func (b *BatchStats) record(n int, took time.Duration, err error) {
	b.mu.Lock()
	b.Commits++
	b.Writes += int64(n)
	b.Largest = max(b.Largest, n)
	b.CommitTime += took
	if err != nil {
		b.Failed++
	}
	b.mu.Unlock()
}

// Stats returns the writer's counts so far.
func (s *Store) Stats() BatchCounts {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return s.stats.BatchCounts
}
