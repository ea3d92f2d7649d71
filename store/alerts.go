package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// WatchState returns what was last seen of key for a watched domain, and
// false when nothing was.
func (s *Store) WatchState(ctx context.Context, domain, key string) (string, bool, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM watch_state WHERE domain = ? AND key = ?`, domain, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// SetWatchState records what is now seen of key.
func (s *Store) SetWatchState(ctx context.Context, domain, key, value string) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO watch_state (domain, key, value, at) VALUES (?, ?, ?, ?)
		ON CONFLICT (domain, key) DO UPDATE SET value = excluded.value, at = excluded.at`, domain, key, value, time.Now().UnixNano())
	return err
}

// AlertDue reports whether an alert of kind for domain may be sent now,
// and if so records it as sent: one problem is one alert per cooldown, on
// however many nodes.
func (s *Store) AlertDue(ctx context.Context, domain, kind string, now time.Time, cooldown time.Duration) (bool, error) {
	res, err := s.w.ExecContext(ctx, `INSERT INTO alerts_sent (domain, kind, sent_at) VALUES (?, ?, ?)
		ON CONFLICT (domain, kind) DO UPDATE SET sent_at = excluded.sent_at WHERE alerts_sent.sent_at < ?`,
		domain, kind, now.UnixNano(), now.Add(-cooldown).UnixNano())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ReportedDomains lists the domains with DMARC or TLS reports whose range
// ends after since.
func (s *Store) ReportedDomains(ctx context.Context, since time.Time) ([]ReportedDomain, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT domain, MIN(org) FROM (
		SELECT domain, org FROM dmarc_reports WHERE end_at >= ? AND error = '' AND duplicate_of IS NULL
		UNION ALL SELECT p.domain, r.org FROM tls_policies p JOIN tls_reports r ON r.id = p.report WHERE r.end_at >= ? AND r.duplicate_of IS NULL
	) AS reported GROUP BY domain ORDER BY domain`, since.UnixNano(), since.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReportedDomain
	for rows.Next() {
		var d ReportedDomain
		if err := rows.Scan(&d.Domain, &d.Reporter); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ReportedDomain is a domain some report named, and (one of) the
// reporters that named it.
type ReportedDomain struct {
	Domain, Reporter string
}

// QueueEvent queues a webhook request for every live token with a
// webhook and scope (or admin): the alerts' path to webhooks.
func (s *Store) QueueEvent(ctx context.Context, scope Scope, about string, body []byte, now time.Time) (int, error) {
	res, err := s.w.ExecContext(ctx, s.webhookRows(""), now.UnixNano(), now.UnixNano(), Queued, body, now.UnixNano(), about, string(scope))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
