package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// TLSReport is one SMTP TLS report (RFC 8460) as stored: its rows, and
// the message it came in.
type TLSReport struct {
	ID           int64        `json:"id"`
	MessageID    string       `json:"message_id"`
	Received     time.Time    `json:"received"`
	Organization string       `json:"organization"`
	ReportID     string       `json:"report_id"`
	Contact      string       `json:"contact,omitempty"`
	Start        time.Time    `json:"start"`
	End          time.Time    `json:"end"`
	Policies     []*TLSPolicy `json:"policies"`
	// DuplicateOf is the first copy of the same (organization, report-id).
	DuplicateOf int64 `json:"duplicate_of,omitempty"`
}

// TLSPolicy is one policy a report gives results for.
type TLSPolicy struct {
	Domain   string              `json:"domain"`
	Type     string              `json:"type"`
	Success  int64               `json:"success"`
	Failure  int64               `json:"failure"`
	Failures []*TLSFailureDetail `json:"failures,omitempty"`
}

// TLSFailureDetail is one failure-details row of a policy.
type TLSFailureDetail struct {
	Type        string `json:"type"`
	ReceivingMX string `json:"receiving_mx"`
	SendingIP   string `json:"sending_ip"`
	Sessions    int64  `json:"sessions"`
}

// addTLSReports stores a message's TLS reports in tx, deduplicated by
// (organization, report-id): a later copy is kept, marked duplicate, and
// counted nowhere.
func addTLSReports(ctx context.Context, tx *sqlTx, m *ReportMessage, reports []*TLSReport) error {
	for _, r := range reports {
		r.MessageID, r.Received = m.ID, m.Received
		if err := tx.lock(ctx, fmt.Sprintf("tls report %q %q", r.Organization, r.ReportID)); err != nil {
			return err
		}
		var first int64
		err := tx.QueryRowContext(ctx, `SELECT id FROM tls_reports WHERE org = ? AND report_id = ? AND duplicate_of IS NULL`,
			r.Organization, r.ReportID).Scan(&first)
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
		// The json column stays empty: the report is kept compressed in
		// its message, not decompressed here.
		row := &columns{}
		row.set("message_id", r.MessageID).set("received_at", r.Received.UnixNano()).set("org", r.Organization).
			set("report_id", r.ReportID).set("contact", r.Contact).set("begin_at", r.Start.UnixNano()).set("end_at", r.End.UnixNano()).
			set("json", []byte{}).set("duplicate_of", dup)
		if err := tx.QueryRowContext(ctx, row.insert("tls_reports")+` RETURNING id`, row.vals...).Scan(&r.ID); err != nil {
			return err
		}
		if r.DuplicateOf != 0 {
			continue
		}
		for _, p := range r.Policies {
			row := &columns{}
			row.set("report", r.ID).set("domain", p.Domain).set("type", p.Type).set("success", p.Success).set("failure", p.Failure)
			if _, err := tx.ExecContext(ctx, row.insert("tls_policies"), row.vals...); err != nil {
				return err
			}
			for _, f := range p.Failures {
				row := &columns{}
				row.set("report", r.ID).set("domain", p.Domain).set("type", f.Type).set("receiving_mx", f.ReceivingMX).
					set("sending_ip", f.SendingIP).set("sessions", f.Sessions)
				if _, err := tx.ExecContext(ctx, row.insert("tls_failures"), row.vals...); err != nil {
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
	ReceivingMX string `json:"receiving_mx"`
	Sessions    int64  `json:"sessions"`
}

// TLSSummary is a domain's TLS reports since a time: sessions per day and
// failures by type and receiving MX (duplicates excluded). Sums saturate
// at the largest int64: reporters choose the counts.
type TLSSummary struct {
	Domain   string       `json:"domain"`
	Since    time.Time    `json:"since"`
	Reports  int          `json:"reports"`
	Days     []TLSDay     `json:"days"`
	Failures []TLSFailure `json:"failures"`
}

// saturated reads a TOTAL (a float, which never overflows) as an int64,
// the largest one past its range.
func saturated(f float64) int64 {
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(f)
}

// addSat adds without overflow.
func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// TLSSummaryOf sums a domain's TLS reports whose range ends after since.
// Both sums are read in one snapshot, so a report stored meanwhile is in
// both or in neither.
func (s *Store) TLSSummaryOf(ctx context.Context, domain string, since time.Time) (*TLSSummary, error) {
	sum := &TLSSummary{Domain: domain, Since: since.UTC(), Days: []TLSDay{}, Failures: []TLSFailure{}}
	tx, err := s.db.readTx(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT r.begin_at, p.success, p.failure FROM tls_policies p JOIN tls_reports r ON r.id = p.report
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
		days[d].Success = addSat(days[d].Success, ok)
		days[d].Failure = addSat(days[d].Failure, bad)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, d := range days {
		sum.Days = append(sum.Days, *d)
	}
	sort.Slice(sum.Days, func(i, j int) bool { return sum.Days[i].Day < sum.Days[j].Day })
	frows, err := tx.QueryContext(ctx, `SELECT f.type, f.receiving_mx, `+s.d.total("f.sessions")+` AS total FROM tls_failures f JOIN tls_reports r ON r.id = f.report
		WHERE f.domain = ? AND r.end_at >= ? AND r.duplicate_of IS NULL GROUP BY f.type, f.receiving_mx ORDER BY total DESC LIMIT 100`,
		domain, since.UnixNano())
	if err != nil {
		return nil, err
	}
	defer frows.Close()
	for frows.Next() {
		var f TLSFailure
		var total float64
		if err := frows.Scan(&f.Type, &f.ReceivingMX, &total); err != nil {
			return nil, err
		}
		f.Sessions = saturated(total)
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
	rows, err := s.db.QueryContext(ctx, `SELECT p.domain, COUNT(*), `+s.d.total("p.success")+`, `+s.d.total("p.failure")+`
		FROM tls_policies p JOIN tls_reports r ON r.id = p.report
		WHERE r.end_at >= ? AND r.duplicate_of IS NULL GROUP BY p.domain ORDER BY COUNT(*) DESC LIMIT 500`, since.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []TLSDomain
	for rows.Next() {
		var d TLSDomain
		var ok, bad float64
		if err := rows.Scan(&d.Domain, &d.Reports, &ok, &bad); err != nil {
			return nil, err
		}
		d.Success, d.Failure = saturated(ok), saturated(bad)
		out = append(out, d)
	}
	return out, rows.Err()
}
