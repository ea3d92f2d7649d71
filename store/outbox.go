package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/testerd/testerd/i18n"
)

// State is where a message of the outbox stands.
type State string

// States of outgoing mail.
const (
	// Queued: waiting for its first attempt.
	Queued State = "queued"
	// Sent: a receiving server accepted it.
	Sent State = "sent"
	// Deferred: an attempt failed temporarily; LastError says how, and
	// NextAttempt when the next one is due.
	Deferred State = "deferred"
	// Failed: a permanent failure, or temporary ones until the give-up
	// age. It is never retried and never bounced.
	Failed State = "failed"
	// Suppressed: never sent, for the Reason given (a rule or a limit).
	Suppressed State = "suppressed"
)

// Channels of the outbox.
const (
	// Mail is sent by SMTP (Channel "").
	Mail = ""
	// Webhook is an HTTP POST of Data to the URL in Rcpt, signed with the
	// secret of the token TokenID.
	Webhook = "webhook"
)

// Outgoing is one message in the outbox: a reply to a probe, mail of
// testerd's own (ProbeID ""), or a webhook request (Channel Webhook).
type Outgoing struct {
	ID      string `json:"id"`
	ProbeID string `json:"probe_id,omitempty"`
	Channel string `json:"channel,omitempty"`
	TokenID string `json:"token_id,omitempty"`
	// About is the probe a webhook's event is about.
	About   string    `json:"about,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	State   State     `json:"state"`
	// Reason says why a message is suppressed, unsaid until a reader's
	// language is known.
	Reason i18n.Msg `json:"reason,omitzero"`
	// MailFrom is the envelope sender; "" is the null sender <>.
	MailFrom   string `json:"mail_from"`
	Rcpt       string `json:"to"`
	RcptDomain string `json:"-"`
	// ClientIP is the probe's client, for the per-IP limit.
	ClientIP string `json:"-"`
	// Authenticated: the probe was authenticated for the recipient's
	// domain. The per-domain limit counts authenticated and
	// unauthenticated replies apart, so spoofed probes cannot use up a
	// whole provider's replies.
	Authenticated bool   `json:"-"`
	MessageID     string `json:"message_id,omitempty"`
	// Data is the message, unsigned; it is signed when sent.
	Data        []byte    `json:"-"`
	Attempts    int       `json:"attempts"`
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	// Relay is the host that took the message (name and address).
	Relay string    `json:"relay,omitempty"`
	TLS   string    `json:"tls,omitempty"`
	Sent  time.Time `json:"sent,omitzero"`
	// Resumed: an earlier attempt began and recorded no outcome (its
	// node was killed or stopped during it), so the recipient may have
	// the message already; this attempt can deliver it twice.
	Resumed bool `json:"-"`
	// Tries are the delivery attempts, oldest first (results only).
	Tries []Attempt `json:"tries,omitempty"`

	// Limits are checked when a queued message is saved: over any, it is
	// stored suppressed with the limit's reason. They are not stored.
	Limits []Limit `json:"-"`
}

// Attempt is one delivery attempt: when, the state it left the message
// in, the host that took it or the error.
type Attempt struct {
	At    time.Time `json:"at"`
	State State     `json:"state"`
	Relay string    `json:"relay,omitempty"`
	TLS   string    `json:"tls,omitempty"`
	Error string    `json:"error,omitempty"`
}

// Limit caps the outgoing mail, not suppressed, created in the last Per
// that share a value of Key with the message being saved.
type Limit struct {
	Key LimitKey
	Max int // 0: no limit
	Per time.Duration
	// Reason is why a message over the limit is suppressed.
	Reason i18n.Msg
}

// LimitKey names the column a Limit counts by.
type LimitKey int

// Keys of limits.
const (
	ByRcpt LimitKey = iota
	ByRcptDomain
	ByClientIP
)

// MailboxKey is the mailbox an address reaches, as the limits count it:
// lower case, and without a +sub-address (joe+1@ and joe+2@ are one
// mailbox to most servers, and a redirect could otherwise name it anew
// for every reply).
func MailboxKey(addr string) string {
	addr = strings.ToLower(addr)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	local, _, _ := strings.Cut(addr[:at], "+")
	return local + addr[at:]
}

// where is the condition a limit counts by, and its arguments: the
// recipient's mailbox (MailboxKey), the domain limit apart for
// authenticated and unauthenticated replies.
func (k LimitKey) where(o *Outgoing) (string, []any) {
	switch k {
	case ByRcpt:
		return "rcpt_key = ?", []any{MailboxKey(o.Rcpt)}
	case ByRcptDomain:
		return "rcpt_domain = ? AND authenticated = ?", []any{strings.ToLower(o.RcptDomain), b2i(o.Authenticated)}
	case ByClientIP:
		return "client_ip = ?", []any{o.ClientIP}
	}
	panic(fmt.Sprintf("store: unknown limit key %d", int(k)))
}

// insertOutgoing adds o in tx, applying its limits first.
func insertOutgoing(ctx context.Context, tx *sqlTx, o *Outgoing) error {
	if o.State == Queued {
		// Nodes enqueueing at once must not both count below a limit and
		// both insert: each takes the limits' keys in turn, in one order.
		var keys []string
		for _, l := range o.Limits {
			if l.Max > 0 {
				_, args := l.Key.where(o)
				keys = append(keys, fmt.Sprint(l.Key, args))
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if err := tx.lock(ctx, "outbox limit "+k); err != nil {
				return err
			}
		}
		for _, l := range o.Limits {
			if l.Max <= 0 {
				continue
			}
			cond, args := l.Key.where(o)
			var n int
			// The state and channel are literals so that the planner can
			// use the partial indexes of live replies (migration 22): a
			// flood of suppressed replies is not walked by every count.
			err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE `+cond+` AND created_at >= ? AND state != '`+string(Suppressed)+`' AND channel = ''`,
				append(args, o.Created.Add(-l.Per).UnixNano())...).Scan(&n)
			if err != nil {
				return err
			}
			if n >= l.Max {
				o.State, o.Reason = Suppressed, l.Reason
				break
			}
		}
	}
	if o.Updated.IsZero() {
		o.Updated = o.Created
	}
	if o.NextAttempt.IsZero() && o.State == Queued {
		o.NextAttempt = o.Created
	}
	data := o.Data
	if data == nil {
		data = []byte{} // a suppressed message has none
	}
	var probe any
	if o.ProbeID != "" {
		probe = o.ProbeID
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox
		(id, probe_id, created_at, updated_at, state, reason, mail_from, rcpt, rcpt_key, rcpt_domain, authenticated, client_ip, message_id, data, next_attempt,
		 channel, token_id, about)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		o.ID, probe, o.Created.UnixNano(), o.Updated.UnixNano(), o.State, o.Reason, o.MailFrom, o.Rcpt, MailboxKey(o.Rcpt), strings.ToLower(o.RcptDomain), b2i(o.Authenticated),
		o.ClientIP, o.MessageID, data, unixNano(o.NextAttempt), o.Channel, o.TokenID, o.About)
	return err
}

// Enqueue adds mail of testerd's own (not a reply) to the outbox.
func (s *Store) Enqueue(ctx context.Context, o *Outgoing) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := insertOutgoing(ctx, tx, o); err != nil {
		return err
	}
	return tx.Commit()
}

const outgoingColumns = `id, COALESCE(probe_id, ''), created_at, updated_at, state, reason, mail_from, rcpt, rcpt_domain,
	client_ip, message_id, attempts, next_attempt, last_error, relay, tls, sent_at, channel, token_id, about, attempt_started`

func scanOutgoing(sc scanner, data *[]byte) (*Outgoing, error) {
	o := &Outgoing{}
	var created, updated, next, sent, started int64
	dest := []any{&o.ID, &o.ProbeID, &created, &updated, &o.State, &o.Reason, &o.MailFrom, &o.Rcpt, &o.RcptDomain,
		&o.ClientIP, &o.MessageID, &o.Attempts, &next, &o.LastError, &o.Relay, &o.TLS, &sent, &o.Channel, &o.TokenID, &o.About, &started}
	if data != nil {
		dest = append(dest, data)
	}
	if err := sc.Scan(dest...); err != nil {
		return nil, err
	}
	o.Created, o.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	o.NextAttempt, o.Sent = fromUnixNano(next), fromUnixNano(sent)
	o.Resumed = started != 0
	if o.State != Queued && o.State != Deferred {
		o.NextAttempt = time.Time{}
	}
	return o, nil
}

// Due claims up to limit messages whose next attempt is due at now and
// that no other node holds (its lease, ProbeLease, renewed by
// RenewDeliveries while the node delivers), soonest first, and returns
// them with their data.
func (s *Store) Due(ctx context.Context, now time.Time, limit int) ([]*Outgoing, error) {
	var out []*Outgoing
	err := s.claim(ctx, func(rows *sql.Rows) error {
		var data []byte
		o, err := scanOutgoing(rows, &data)
		if err != nil {
			return err
		}
		o.Data = data
		out = append(out, o)
		return nil
	}, `UPDATE outbox SET lease_owner = ?, lease_until = ? WHERE id IN (
		SELECT id FROM outbox WHERE state IN (?, ?) AND next_attempt <= ? AND (lease_until < ? OR lease_owner = ?)
		ORDER BY next_attempt LIMIT ? `+s.d.skipLocked()+`)
		RETURNING `+outgoingColumns+`, data`,
		s.Node, now.Add(s.probeLease()).UnixNano(), Queued, Deferred, now.UnixNano(), now.UnixNano(), s.Node, limit)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *Outgoing) int { return a.NextAttempt.Compare(b.NextAttempt) })
	return out, nil
}

// NextDue returns when the next queued or deferred message is due (for
// one another node holds, when its lease ends); false when there is none.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT MIN(CASE WHEN lease_owner = ? THEN next_attempt ELSE `+s.d.greatest("next_attempt", "lease_until")+` END)
		FROM outbox WHERE state IN (?, ?)`, s.Node, Queued, Deferred).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, false, err
	}
	return time.Unix(0, next.Int64), true, nil
}

// ErrLeaseLost is UpdateDelivery's answer when another node holds the
// message now: the outcome is not recorded, the holder's is.
var ErrLeaseLost = errors.New("store: another node holds this message now")

// UpdateDelivery records the outcome of an attempt: o's State, Attempts,
// NextAttempt, LastError, Relay, TLS and Sent, and adds the attempt to
// the message's tries, in one transaction shared with the other writes
// waiting (group commit). It is committed durably (synchronous=FULL), so
// a message recorded sent is not sent again. Only the node holding the
// message records it (ErrLeaseLost otherwise).
func (s *Store) UpdateDelivery(ctx context.Context, o *Outgoing) error {
	w := &write{delivery: o}
	if err := s.submit(ctx, w); err != nil {
		return err
	}
	if w.lost {
		return ErrLeaseLost
	}
	return nil
}

// execDelivery is UpdateDelivery's part of a transaction; lost says the
// message is another node's now (nothing is written then).
func (s *Store) execDelivery(ctx context.Context, tx *sqlTx, o *Outgoing) (lost bool, err error) {
	res, err := tx.ExecContext(ctx, `UPDATE outbox SET state = ?, updated_at = ?, attempts = ?, next_attempt = ?,
		last_error = ?, relay = ?, tls = ?, sent_at = ?, lease_until = 0, attempt_started = 0 WHERE id = ? AND (lease_until = 0 OR lease_owner = ?)`,
		o.State, o.Updated.UnixNano(), o.Attempts, unixNano(o.NextAttempt), o.LastError, o.Relay, o.TLS, unixNano(o.Sent), o.ID, s.Node)
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var exists int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox WHERE id = ?`, o.ID).Scan(&exists); err != nil {
			return false, err
		}
		if exists == 0 {
			return false, ErrNotFound
		}
		return true, nil
	}
	relay, tls := "", ""
	if o.State == Sent {
		relay, tls = o.Relay, o.TLS
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO outbox_attempts (outbox_id, at, state, relay, tls, error) VALUES (?, ?, ?, ?, ?, ?)`,
		o.ID, o.Updated.UnixNano(), o.State, relay, tls, o.LastError)
	return false, err
}

// tries returns the delivery attempts of outgoing mail, oldest first.
func (s *Store) tries(ctx context.Context, id string) ([]Attempt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT at, state, relay, tls, error FROM outbox_attempts WHERE outbox_id = ? ORDER BY at`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var at int64
		if err := rows.Scan(&at, &a.State, &a.Relay, &a.TLS, &a.Error); err != nil {
			return nil, err
		}
		a.At = time.Unix(0, at).UTC()
		out = append(out, a)
	}
	return out, rows.Err()
}

// Outgoing returns one message of the outbox, with its data.
func (s *Store) Outgoing(ctx context.Context, id string) (*Outgoing, error) {
	var data []byte
	o, err := scanOutgoing(s.db.QueryRowContext(ctx, `SELECT `+outgoingColumns+`, data FROM outbox WHERE id = ?`, id), &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if o != nil {
		o.Data = data
	}
	return o, err
}

// OutboxStates counts the replies in each state (metrics).
func (s *Store) OutboxStates(ctx context.Context) (map[State]int64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM outbox WHERE channel = '' GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	n := map[State]int64{}
	for rows.Next() {
		var st State
		var c int64
		if err := rows.Scan(&st, &c); err != nil {
			return nil, err
		}
		n[st] = c
	}
	return n, rows.Err()
}

// replyOf returns the reply to a probe, without its data, or nil.
func (s *Store) replyOf(ctx context.Context, probeID string) (*Outgoing, error) {
	o, err := scanOutgoing(s.db.QueryRowContext(ctx, `SELECT `+outgoingColumns+` FROM outbox WHERE probe_id = ?`, probeID), nil)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	o.Tries, err = s.tries(ctx, o.ID)
	return o, err
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
