package store

import (
	"context"
	"strings"
	"time"
)

// Leases: with several nodes on one database, each probe is judged and
// each outgoing message tried by one node at a time, the one holding its
// lease. A node takes a probe's lease when it accepts it, renews the
// leases of the probes it still holds, and gives it up with the verdict;
// a node that dies leaves leases that expire, and another node claims
// those. Claims skip rows another node is claiming at that moment
// (FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite has one writer).
const (
	// ProbeLease is how long an accepted probe stays its node's; renewed
	// every RenewEvery while the node holds it.
	ProbeLease = 2 * time.Minute
	RenewEvery = 30 * time.Second
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
	return scanIDs(s.w.QueryContext(ctx, `UPDATE probes SET lease_owner = ?, lease_until = ? WHERE id IN (
		SELECT id FROM probes WHERE lease_until > 0 AND (lease_until < ? OR lease_owner = ?)
		ORDER BY received_at LIMIT ? `+s.d.skipLocked()+`)
		RETURNING id`, s.Node, now.Add(ProbeLease).UnixNano(), now.UnixNano(), mine, limit))
}

// RenewLeases extends this node's leases on the probes ids (those it is
// judging or will judge again), if not yet judged.
func (s *Store) RenewLeases(ctx context.Context, now time.Time, ids []string) error {
	for len(ids) > 0 {
		n := min(len(ids), 500)
		args := []any{now.Add(ProbeLease).UnixNano(), s.Node}
		for _, id := range ids[:n] {
			args = append(args, id)
		}
		_, err := s.w.ExecContext(ctx, `UPDATE probes SET lease_until = ? WHERE lease_until > 0 AND lease_owner = ? AND id IN (?`+
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
