package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Several nodes on one database. Leases: with several nodes on one database, each probe is judged and
// each outgoing message tried by one node at a time, the one holding its
// lease. A node takes a probe's lease when it accepts it, renews the
// leases of the probes it still holds, and gives it up with the verdict;
// a node that dies leaves leases that expire, and another node claims
// those. Claims skip rows another node is claiming at that moment
// (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer).
const (
	// DefaultProbeLease is how long an accepted probe stays its node's
	// (Store.ProbeLease), renewed at a quarter of it while the node holds
	// it.
	DefaultProbeLease = 2 * time.Minute
)

// ClaimPending takes the lease of up to limit probes without a verdict
// whose lease expired (or, with own, is this node's: a node restarting
// under its name takes its probes back at once), oldest first, and
// returns their ids.
func (s *Store) ClaimPending(ctx context.Context, now time.Time, limit int, own bool) ([]string, error) {
	mine := ""
	if own {
		mine = s.Node
	}
	var ids []string
	err := s.claim(ctx, func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		ids = append(ids, id)
		return err
	}, `UPDATE probes SET lease_owner = ?, lease_until = ? WHERE id IN (
		SELECT id FROM probes WHERE lease_until > 0 AND (lease_until < ? OR lease_owner = ?)
		ORDER BY received_at LIMIT ? `+s.d.skipLocked()+`)
		RETURNING id`, s.Node, now.Add(s.probeLease()).UnixNano(), now.UnixNano(), mine, limit)
	return ids, err
}

// claim runs an UPDATE … RETURNING that takes leases, in a transaction
// not waited for on disk (a claim lost to a crash is made again), and
// reads each row it returns with scan.
func (s *Store) claim(ctx context.Context, scan func(*sql.Rows) error, q string, args ...any) error {
	tx, release, err := s.begin(ctx, false)
	if err != nil {
		return err
	}
	defer release()
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := scan(rows); err != nil {
			rows.Close()
			return err
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// RenewLeases extends this node's leases on the probes ids (those it is
// judging or will judge again), if not yet judged.
func (s *Store) RenewLeases(ctx context.Context, now time.Time, ids []string) error {
	return s.renew(ctx, "probes", now, ids)
}

// renew extends this node's leases on the rows ids of table.
func (s *Store) renew(ctx context.Context, table string, now time.Time, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := []any{now.Add(s.probeLease()).UnixNano(), s.Node}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		err := s.claim(ctx, func(*sql.Rows) error { return nil }, `UPDATE `+table+` SET lease_until = ? WHERE lease_until > 0 AND lease_owner = ? AND id IN (?`+
			strings.Repeat(", ?", n-1)+`)`, args...)
		if err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// RenewDeliveries extends this node's leases on the outgoing messages
// ids (those it is delivering or about to deliver), so that no other
// node takes them while it is alive; a node that dies stops renewing,
// and another node claims them once the lease runs out.
func (s *Store) RenewDeliveries(ctx context.Context, now time.Time, ids []string) error {
	return s.renew(ctx, "outbox", now, ids)
}

// ReleaseDeliveries gives back this node's leases on the outgoing
// messages ids, which it claimed and will not try now: any node may
// claim them at once.
func (s *Store) ReleaseDeliveries(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := []any{s.Node}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		err := s.claim(ctx, func(*sql.Rows) error { return nil }, `UPDATE outbox SET lease_until = 0 WHERE lease_owner = ? AND id IN (?`+
			strings.Repeat(", ?", n-1)+`)`, args...)
		if err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// StartAttempt marks the moment an attempt at the outgoing message id
// begins; the outcome's record clears it. Another node that claims the
// message with the mark still set knows the attempt was cut short
// (Outgoing.Resumed). The mark is not waited for on disk: a crash that
// loses it loses only the count of a possible duplicate.
func (s *Store) StartAttempt(ctx context.Context, now time.Time, id string) error {
	return s.claim(ctx, func(*sql.Rows) error { return nil },
		`UPDATE outbox SET attempt_started = ? WHERE id = ? AND lease_owner = ?`, now.UnixNano(), id, s.Node)
}

// RunOnce reports whether this node is the one to run the job name for
// period (an hour, a day): the first to ask in the cluster is.
func (s *Store) RunOnce(ctx context.Context, name, period string) (bool, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO singleton_runs (name, period, node, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (name, period) DO NOTHING`, name, period, s.Node, time.Now().UnixNano())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Secret returns the value stored under name; ErrNotFound when none is.
func (s *Store) Secret(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return v, err
}

// ShareSecret stores value under name unless a value is there already, and
// returns the stored one: when nodes offer theirs at once, one wins and
// every node gets the winner's.
func (s *Store) ShareSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if _, err := s.w.ExecContext(ctx, `INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, value, time.Now().UnixNano()); err != nil {
		return nil, err
	}
	return s.Secret(ctx, name)
}

func (s *Store) probeLease() time.Duration {
	if s.ProbeLease > 0 {
		return s.ProbeLease
	}
	return DefaultProbeLease
}

// RenewEvery is how often a node renews the leases it holds.
func (s *Store) RenewEvery() time.Duration { return s.probeLease() / 4 }

// A NodeRecord is one node's entry in the registry: a node name is held
// by one live instance at a time.
type NodeRecord struct {
	Name string `json:"name"`
	// Instance is a random id the process drew when it started.
	Instance string `json:"instance"`
	// Addr says where the node listens (its host and addresses).
	Addr      string    `json:"addr"`
	Started   time.Time `json:"started"`
	Heartbeat time.Time `json:"heartbeat"`
}

// NodeTakenError is Register's answer when a live instance holds the
// name: Holder is that instance.
type NodeTakenError struct{ Holder NodeRecord }

func (e *NodeTakenError) Error() string {
	h := e.Holder
	return "the node name " + strconv.Quote(h.Name) + " is held by a live testerd at " + h.Addr +
		", started " + h.Started.UTC().Format(time.RFC3339) + " (instance " + h.Instance + ", last heartbeat " +
		h.Heartbeat.UTC().Format(time.RFC3339) + "): give this node another --node-id"
}

// Register enters n in the registry. The name is taken when its entry's
// heartbeat is older than the lease (the holder died), when the entry is
// n's own instance, or when the entry is previous (an instance this
// process knows to be dead: it held the same data directory, whose lock
// is free now); otherwise the answer is a *NodeTakenError naming the
// holder. Two processes registering one name at once cannot both win:
// the upsert is one statement.
func (s *Store) Register(ctx context.Context, n NodeRecord, previous string) error {
	now := n.Heartbeat.UnixNano()
	res, err := s.w.ExecContext(ctx, `INSERT INTO nodes (name, instance, addr, started_at, heartbeat) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET instance = excluded.instance, addr = excluded.addr,
			started_at = excluded.started_at, heartbeat = excluded.heartbeat
		WHERE nodes.heartbeat < ? OR nodes.instance = excluded.instance OR nodes.instance = ?`,
		n.Name, n.Instance, n.Addr, n.Started.UnixNano(), now, n.Heartbeat.Add(-s.probeLease()).UnixNano(), previous)
	if err != nil {
		return err
	}
	if k, err := res.RowsAffected(); err != nil || k == 1 {
		return err
	}
	var h NodeRecord
	var started, beat int64
	err = s.db.QueryRowContext(ctx, `SELECT name, instance, addr, started_at, heartbeat FROM nodes WHERE name = ?`, n.Name).
		Scan(&h.Name, &h.Instance, &h.Addr, &started, &beat)
	if err != nil {
		return err
	}
	h.Started, h.Heartbeat = time.Unix(0, started), time.Unix(0, beat)
	return &NodeTakenError{Holder: h}
}

// ErrNodeLost is Heartbeat's answer when another instance holds the
// node's name now (this one missed its heartbeats for a whole lease).
var ErrNodeLost = errors.New("store: another instance took this node's name after its heartbeats stopped for a whole lease")

// Heartbeat says that the instance is alive at now.
func (s *Store) Heartbeat(ctx context.Context, name, instance string, now time.Time) error {
	res, err := s.w.ExecContext(ctx, `UPDATE nodes SET heartbeat = ? WHERE name = ? AND instance = ?`, now.UnixNano(), name, instance)
	if err != nil {
		return err
	}
	if k, err := res.RowsAffected(); err != nil || k == 1 {
		return err
	}
	return ErrNodeLost
}

// Deregister removes the instance's entry (a clean stop), so the name is
// free at once.
func (s *Store) Deregister(ctx context.Context, name, instance string) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM nodes WHERE name = ? AND instance = ?`, name, instance)
	return err
}

// LiveNodes are the registered nodes whose heartbeat is within the lease
// at now, by name.
func (s *Store) LiveNodes(ctx context.Context, now time.Time) ([]NodeRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, instance, addr, started_at, heartbeat FROM nodes WHERE heartbeat >= ? ORDER BY name LIMIT 1000`,
		now.Add(-s.probeLease()).UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []NodeRecord
	for rows.Next() {
		var n NodeRecord
		var started, beat int64
		if err := rows.Scan(&n.Name, &n.Instance, &n.Addr, &started, &beat); err != nil {
			return nil, err
		}
		n.Started, n.Heartbeat = time.Unix(0, started).UTC(), time.Unix(0, beat).UTC()
		out = append(out, n)
	}
	return out, rows.Err()
}
