package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/testerd/testerd/reports/tlsrpt"
)

// TLSReport is one SMTP TLS report (RFC 8460) as stored: the parsed report
// and its JSON, with the message it came in.
type TLSReport struct {
	ID        int64          `json:"id"`
	MessageID string         `json:"message_id"`
	Received  time.Time      `json:"received"`
	Report    *tlsrpt.Report `json:"report"`
	JSON      []byte         `json:"-"`
	// DuplicateOf is the first copy of the same (organization, report-id).
	DuplicateOf int64 `json:"duplicate_of,omitempty"`
}

// addTLSReports stores a message's TLS reports in tx, deduplicated by
// (organization, report-id): a later copy is kept, marked duplicate, and
// counted nowhere.
func addTLSReports(ctx context.Context, tx *sqlTx, m *ReportMessage, reports []*TLSReport) error {
	for _, r := range reports {
		r.MessageID, r.Received = m.ID, m.Received
		if err := tx.lock(ctx, fmt.Sprintf("tls report %q %q", r.Report.Organization, r.Report.ReportID)); err != nil {
			return err
		}
		var first int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM tls_reports WHERE org = ? AND report_id = ? AND duplicate_of IS NULL`,
			r.Report.Organization, r.Report.ReportID).Scan(&first)
		switch {
		case err == nil:
			r.DuplicateOf = first
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var dup any
		if r.DuplicateOf != 0 {
			dup = r.DuplicateOf
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO tls_reports (message_id, received_at, org, report_id, contact, begin_at, end_at, json, duplicate_of)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			r.MessageID, r.Received.UnixNano(), r.Report.Organization, r.Report.ReportID, r.Report.Contact,
			r.Report.Start.UnixNano(), r.Report.End.UnixNano(), r.JSON, dup).Scan(&r.ID); err != nil {
			return err
		}
		if r.DuplicateOf != 0 {
			continue
		}
		for _, p := range r.Report.Policies {
			if _, err := tx.ExecContext(ctx, `INSERT INTO tls_policies (report, domain, type, success, failure) VALUES (?, ?, ?, ?, ?)`,
				r.ID, p.Domain, p.Type, p.Success, p.Failure); err != nil {
				return err
			}
			for _, f := range p.Failures {
				if _, err := tx.ExecContext(ctx, `INSERT INTO tls_failures (report, domain, type, receiving_mx, sending_ip, sessions) VALUES (?, ?, ?, ?, ?, ?)`,
					r.ID, p.Domain, f.Type, f.ReceivingMX, f.SendingIP, f.Sessions); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// TLSDay is one day of a domain's TLS reports.
type TLSDay struct {
	Day     string `json:"day"` // YYYY-MM-DD, UTC, of the report's start
	Success int64  `json:"success"`
	Failure int64  `json:"failure"`
}

// TLSFailure is a failure type at one receiving MX, summed.
type TLSFailure struct {
	Type        string `json:"type"`
	Meaning     string `json:"meaning"`
	Fix         string `json:"fix"`
	ReceivingMX string `json:"receiving_mx"`
	Sessions    int64  `json:"sessions"`
}

// TLSSummary is a domain's TLS reports since a time: sessions per day and
// failures by type and receiving MX (duplicates excluded).
type TLSSummary struct {
	Domain   string       `json:"domain"`
	Since    time.Time    `json:"since"`
	Reports  int          `json:"reports"`
	Days     []TLSDay     `json:"days"`
	Failures []TLSFailure `json:"failures"`
}

// TLSSummaryOf sums a domain's TLS reports whose range ends after since.
func (s *Store) TLSSummaryOf(ctx context.Context, domain string, since time.Time) (*TLSSummary, error) {
	sum := &TLSSummary{Domain: domain, Since: since.UTC(), Days: []TLSDay{}, Failures: []TLSFailure{}}
	rows, err := s.db.QueryContext(ctx, `SELECT r.begin_at, p.success, p.failure FROM tls_policies p JOIN tls_reports r ON r.id = p.report
		WHERE p.domain = ? AND r.end_at >= ? AND r.duplicate_of IS NULL LIMIT ?`, domain, since.UnixNano(), MaxReportRows)
	if err != nil {
		return nil, err
	}
	days := map[string]*TLSDay{}
	for rows.Next() {
		var begin, ok, bad int64
		if err := rows.Scan(&begin, &ok, &bad); err != nil {
			rows.Close()
			return nil, err
		}
		sum.Reports++
		d := time.Unix(0, begin).UTC().Format("2006-01-02")
		if days[d] == nil {
			days[d] = &TLSDay{Day: d}
		}
		days[d].Success += ok
		days[d].Failure += bad
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, d := range days {
		sum.Days = append(sum.Days, *d)
	}
	sort.Slice(sum.Days, func(i, j int) bool { return sum.Days[i].Day < sum.Days[j].Day })
	frows, err := s.db.QueryContext(ctx, `SELECT f.type, f.receiving_mx, CAST(SUM(f.sessions) AS BIGINT) FROM tls_failures f JOIN tls_reports r ON r.id = f.report
		WHERE f.domain = ? AND r.end_at >= ? AND r.duplicate_of IS NULL GROUP BY f.type, f.receiving_mx ORDER BY CAST(SUM(f.sessions) AS BIGINT) DESC LIMIT 100`,
		domain, since.UnixNano())
	if err != nil {
		return nil, err
	}
	defer frows.Close()
	for frows.Next() {
		var f TLSFailure
		if err := frows.Scan(&f.Type, &f.ReceivingMX, &f.Sessions); err != nil {
			return nil, err
		}
		f.Meaning, f.Fix = tlsrpt.ResultTypes[f.Type], tlsrpt.Fixes[f.Type]
		sum.Failures = append(sum.Failures, f)
	}
	return sum, frows.Err()
}

// TLSDomain is a domain with TLS reports, and its sessions.
type TLSDomain struct {
	Domain           string
	Reports          int
	Success, Failure int64
}

// TLSDomains lists the domains with TLS reports whose range ends after
// since, most sessions first (at most 500).
func (s *Store) TLSDomains(ctx context.Context, since time.Time) ([]TLSDomain, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.domain, COUNT(*), CAST(SUM(p.success) AS BIGINT), CAST(SUM(p.failure) AS BIGINT)
		FROM tls_policies p JOIN tls_reports r ON r.id = p.report
		WHERE r.end_at >= ? AND r.duplicate_of IS NULL GROUP BY p.domain ORDER BY COUNT(*) DESC LIMIT 500`, since.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TLSDomain
	for rows.Next() {
		var d TLSDomain
		if err := rows.Scan(&d.Domain, &d.Reports, &d.Success, &d.Failure); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
