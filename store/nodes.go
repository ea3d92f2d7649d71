package store

import (
	"context"
	"database/sql"
	"errors"
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
	// DeliveryLease is how long a claimed outgoing message stays its
	// node's: longer than an attempt may take.
	DeliveryLease = 15 * time.Minute
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
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := []any{now.Add(s.probeLease()).UnixNano(), s.Node}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		err := s.claim(ctx, func(*sql.Rows) error { return nil }, `UPDATE probes SET lease_until = ? WHERE lease_until > 0 AND lease_owner = ? AND id IN (?`+
			strings.Repeat(", ?", n-1)+`)`, args...)
		if err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
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
