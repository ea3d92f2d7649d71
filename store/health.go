package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// healthEvery is how often Health writes to the database; between writes
// it answers from the last one.
const healthEvery = 5 * time.Second

type healthState struct {
	mu       sync.Mutex
	checked  time.Time
	err      error
	failedAt time.Time // the writer's last failed commit
	failure  error
	down     atomic.Bool // the last commit failed
}

// quickCheck runs PRAGMA quick_check (at Open): a corrupt page shows here
// and in Health, not first as a failed probe.
func (s *Store) quickCheck(ctx context.Context) error {
	if s.d.postgres {
		return nil // PostgreSQL checks its own pages (data checksums, amcheck)
	}
	rows, err := s.db.QueryContext(ctx, `PRAGMA quick_check(5)`)
	if err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("store: integrity check: %w", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("store: the database is damaged (PRAGMA quick_check: %s)", strings.Join(problems, "; "))
	}
	return nil
}

// pgIdle is how many idle connections the PostgreSQL pool keeps.
const pgIdle = 8

// noteCommit records the writer's outcome, for Health. The first commit
// after failed ones means the database is back: the idle connections of
// the pool may have died with the outage (pgx finds out at their next
// use, as a failed read), so they are dropped for new ones.
func (s *Store) noteCommit(err error) {
	if err == nil && !s.health.down.Load() {
		return // the usual case, without a lock
	}
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if err != nil {
		s.health.failedAt, s.health.failure = time.Now(), err
		s.health.down.Store(true)
		return
	}
	if s.d.postgres {
		s.db.db.SetMaxIdleConns(0) // closes the idle ones
		s.db.db.SetMaxIdleConns(pgIdle)
	}
	s.health.down.Store(false)
}

// Health is nil when the database can be written: it writes one row (at
// most every healthEvery), and reports a damaged file found at Open and
// the writer's failures of the last minute. A read-only file or directory
// and a full disk show here, before every probe gets 451.
func (s *Store) Health(ctx context.Context) error {
	if s.integrity != nil {
		return s.integrity
	}
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.failedAt.IsZero() && time.Since(h.failedAt) < time.Minute {
		return fmt.Errorf("store: writes failed %s ago: %w", time.Since(h.failedAt).Round(time.Second), h.failure)
	}
	if time.Since(h.checked) < healthEvery {
		return h.err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err := s.w.ExecContext(ctx, `INSERT INTO health (id, checked_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at`, time.Now().UnixNano())
	if err != nil && !errors.Is(err, context.Canceled) {
		err = fmt.Errorf("store: the database cannot be written: %w", err)
	}
	h.checked, h.err = time.Now(), err
	return err
}
