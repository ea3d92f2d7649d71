package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ReportMessage is one message received at a report address, kept whole
// before the SMTP server answers 250.
type ReportMessage struct {
	ID       string
	Received time.Time
	Rcpt     string
	ClientIP string
	MailFrom string
	Raw      []byte
	// Problems are what extraction could not read, joined.
	Problems string
}

// DMARCReport is one aggregate report (or one that could not be parsed,
// with Error set).
type DMARCReport struct {
	ID        int64     `json:"id"`
	MessageID string    `json:"message_id"`
	Received  time.Time `json:"received"`
	Org       string    `json:"org"`
	Email     string    `json:"email"`
	ReportID  string    `json:"report_id"`
	Domain    string    `json:"domain"`
	Begin     time.Time `json:"begin"`
	End       time.Time `json:"end"`
	// Policy is the policy published, as JSON.
	Policy    string `json:"policy"`
	Records   int    `json:"records"`
	Messages  int64  `json:"messages"`
	Container string `json:"container"`
	Error     string `json:"error,omitempty"`
	// DuplicateOf is the report this one repeats (same org and id).
	DuplicateOf int64  `json:"duplicate_of,omitempty"`
	XML         []byte `json:"-"`
	// Raw is the message the report came in (Report only).
	Raw  []byte         `json:"-"`
	Rows []*DMARCRecord `json:"-"`
}

// DMARCRecord is one row of a report.
type DMARCRecord struct {
	SourceIP     string `json:"source_ip"`
	Count        int64  `json:"count"`
	Disposition  string `json:"disposition"`
	DKIM         string `json:"dkim"`
	SPF          string `json:"spf"`
	HeaderFrom   string `json:"header_from"`
	EnvelopeFrom string `json:"envelope_from,omitempty"`
	EnvelopeTo   string `json:"envelope_to,omitempty"`
	DKIMPass     bool   `json:"dkim_pass"`
	SPFPass      bool   `json:"spf_pass"`
	// Auth is the auth_results as JSON.
	Auth string `json:"auth"`
	// Org and Begin come from the report, for summaries.
	Org   string    `json:"org,omitempty"`
	Begin time.Time `json:"begin,omitzero"`
}

// SaveReportMessage commits a report message and its reports in one
// transaction, with synchronous=FULL. A report whose org and report id
// were stored before is kept as a duplicate, without its rows.
func (s *Store) SaveReportMessage(ctx context.Context, m *ReportMessage, reports []*DMARCReport) error {
	if err := s.SaveReportMail(ctx, m); err != nil {
		return err
	}
	return s.AddReports(ctx, m, reports, nil)
}

// SaveReportMail commits a report message, not yet read (synchronous=FULL,
// before the SMTP 250): reading it comes after, and UnreadReportMail lists
// the ones a restart still has to read.
func (s *Store) SaveReportMail(ctx context.Context, m *ReportMessage) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO dmarc_messages (id, received_at, rcpt, client_ip, mail_from, raw, problems, unread)
		VALUES (?, ?, ?, ?, ?, ?, ?, 1)`, m.ID, m.Received.UnixNano(), m.Rcpt, m.ClientIP, m.MailFrom, m.Raw, m.Problems)
	return err
}

// UnreadReportMail returns the report messages stored and not yet read,
// oldest first, at most limit.
func (s *Store) UnreadReportMail(ctx context.Context, limit int) ([]*ReportMessage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, received_at, rcpt, client_ip, mail_from, raw FROM dmarc_messages
		WHERE unread = 1 ORDER BY received_at LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*ReportMessage
	for rows.Next() {
		m := &ReportMessage{}
		var received int64
		if err := rows.Scan(&m.ID, &received, &m.Rcpt, &m.ClientIP, &m.MailFrom, &m.Raw); err != nil {
			return nil, err
		}
		m.Received = fromUnixNano(received)
		out = append(out, m)
	}
	return out, rows.Err()
}

// AddReports stores what reading a report message found (DMARC reports
// and TLS reports), and marks it read, in one transaction.
func (s *Store) AddReports(ctx context.Context, m *ReportMessage, reports []*DMARCReport, tls []*TLSReport) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE dmarc_messages SET unread = 0, problems = ? WHERE id = ? AND unread = 1`, m.Problems, m.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // read already, by another node (or before a restart)
	}
	for _, r := range reports {
		r.MessageID, r.Received = m.ID, m.Received
		if r.Error == "" {
			// Two nodes reading copies of one report at once: one is first.
			if err := tx.lock(ctx, fmt.Sprintf("dmarc report %q %q", r.Org, r.ReportID)); err != nil {
				return err
			}
			var first int64
			err := tx.QueryRowContext(ctx, `SELECT id FROM dmarc_reports WHERE org = ? AND report_id = ? AND error = '' AND duplicate_of IS NULL`,
				r.Org, r.ReportID).Scan(&first)
			if err == nil {
				r.DuplicateOf = first
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		var dup any
		if r.DuplicateOf != 0 {
			dup = r.DuplicateOf
		}
		xml := r.XML
		if xml == nil {
			xml = []byte{}
		}
		err := tx.QueryRowContext(ctx, `INSERT INTO dmarc_reports (message_id, received_at, org, email, report_id, domain, begin_at, end_at,
			policy, records, messages, container, xml, error, duplicate_of) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			r.MessageID, r.Received.UnixNano(), r.Org, r.Email, r.ReportID, r.Domain, unixNano(r.Begin), unixNano(r.End),
			r.Policy, r.Records, r.Messages, r.Container, xml, r.Error, dup).Scan(&r.ID)
		if err != nil {
			return err
		}
		if r.DuplicateOf != 0 {
			continue
		}
		for _, row := range r.Rows {
			_, err := tx.ExecContext(ctx, `INSERT INTO dmarc_records (report, source_ip, count, disposition, dkim, spf, header_from,
				envelope_from, envelope_to, dkim_pass, spf_pass, auth) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				r.ID, row.SourceIP, row.Count, row.Disposition, row.DKIM, row.SPF, row.HeaderFrom, row.EnvelopeFrom, row.EnvelopeTo,
				b2i(row.DKIMPass), b2i(row.SPFPass), row.Auth)
			if err != nil {
				return err
			}
		}
	}
	if err := addTLSReports(ctx, tx, m, tls); err != nil {
		return err
	}
	return tx.Commit()
}

const reportColumns = `id, message_id, received_at, org, email, report_id, domain, begin_at, end_at, policy, records, messages,
	container, error, COALESCE(duplicate_of, 0)`

func scanReport(sc scanner) (*DMARCReport, error) {
	r := &DMARCReport{}
	var received, begin, end int64
	err := sc.Scan(&r.ID, &r.MessageID, &received, &r.Org, &r.Email, &r.ReportID, &r.Domain, &begin, &end, &r.Policy,
		&r.Records, &r.Messages, &r.Container, &r.Error, &r.DuplicateOf)
	r.Received, r.Begin, r.End = fromUnixNano(received), fromUnixNano(begin), fromUnixNano(end)
	return r, err
}

// Reports lists reports newest first: of one domain whose range ends
// after since, or (domain "") every report received after since,
// unparsable ones included.
func (s *Store) Reports(ctx context.Context, domain string, since time.Time, limit int) ([]*DMARCReport, error) {
	q := `SELECT ` + reportColumns + ` FROM dmarc_reports WHERE domain = ? AND end_at >= ? ORDER BY begin_at DESC, id DESC LIMIT ?`
	args := []any{domain, since.UnixNano(), limit}
	if domain == "" {
		q = `SELECT ` + reportColumns + ` FROM dmarc_reports WHERE received_at >= ? ORDER BY received_at DESC, id DESC LIMIT ?`
		args = []any{since.UnixNano(), limit}
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*DMARCReport
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Report returns one report with the message it came in (Raw) and the
// XML kept of it: none for a report that was read (the raw message holds
// it compressed, and a decompressed copy would let a few kilobytes of
// gzip store megabytes), an excerpt for one that could not be.
func (s *Store) Report(ctx context.Context, id int64) (*DMARCReport, error) {
	r, err := scanReport(s.db.QueryRowContext(ctx, `SELECT `+reportColumns+` FROM dmarc_reports WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT r.xml, m.raw
		FROM dmarc_reports r JOIN dmarc_messages m ON m.id = r.message_id WHERE r.id = ?`, id).Scan(&r.XML, &r.Raw)
	return r, err
}

// ReportDomain is one domain with reports.
type ReportDomain struct {
	Domain   string `json:"domain"`
	Reports  int    `json:"reports"`
	Messages int64  `json:"messages"`
}

// ReportDomains lists the domains with reports ending after since.
func (s *Store) ReportDomains(ctx context.Context, since time.Time) ([]ReportDomain, error) {
	// TOTAL, not SUM: reporters choose the counts, and SUM fails on an
	// integer overflow; the float is clamped when read.
	rows, err := s.db.QueryContext(ctx, `SELECT domain, COUNT(*), `+s.d.total("messages")+` AS total FROM dmarc_reports
		WHERE error = '' AND duplicate_of IS NULL AND end_at >= ? GROUP BY domain ORDER BY total DESC LIMIT 500`, since.UnixNano())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ReportDomain
	for rows.Next() {
		var d ReportDomain
		var total float64
		if err := rows.Scan(&d.Domain, &d.Reports, &total); err != nil {
			return nil, err
		}
		d.Messages = int64(min(total, 9e18)) // past int64, shown as 9e18
		out = append(out, d)
	}
	return out, rows.Err()
}

// MaxReportRows bounds the rows one summary reads.
const MaxReportRows = 200000

// ReportRows returns the rows of a domain's reports whose range ends after
// since (duplicates excluded), with each report's org and begin.
func (s *Store) ReportRows(ctx context.Context, domain string, since time.Time) ([]*DMARCRecord, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.org, r.begin_at, c.source_ip, c.count, c.disposition, c.dkim, c.spf, c.header_from,
		c.envelope_from, c.envelope_to, c.dkim_pass, c.spf_pass, c.auth
		FROM dmarc_records c JOIN dmarc_reports r ON r.id = c.report
		WHERE r.domain = ? AND r.end_at >= ? AND r.duplicate_of IS NULL LIMIT ?`, domain, since.UnixNano(), MaxReportRows)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*DMARCRecord
	for rows.Next() {
		c := &DMARCRecord{}
		var begin int64
		if err := rows.Scan(&c.Org, &begin, &c.SourceIP, &c.Count, &c.Disposition, &c.DKIM, &c.SPF, &c.HeaderFrom,
			&c.EnvelopeFrom, &c.EnvelopeTo, &c.DKIMPass, &c.SPFPass, &c.Auth); err != nil {
			return nil, err
		}
		c.Begin = fromUnixNano(begin)
		out = append(out, c)
	}
	return out, rows.Err()
}
