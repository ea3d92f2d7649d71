// Package reports keeps the reports that arrive at the report addresses:
// DMARC aggregate reports (RFC 9990) and SMTP TLS reports (RFC 8460). A
// report mail is stored before its 250 and read later (Ingester): Extract
// finds the reports in it, dmarcrpt and tlsrpt parse them, and the store
// keeps their rows. It summarizes a domain's reports for the pages, the
// API and the alerts, says what each TLS failure means and fixes, and
// mails the daily digest through the outbox.
package reports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/reports/dmarcrpt"
	"github.com/testerd/testerd/reports/tlsrpt"
	"github.com/testerd/testerd/store"
)

// MaxParsing bounds the XML being parsed at once, in bytes: a report takes
// about 14 times its size in allocations while it is parsed, so this
// keeps report parsing under about 600 MB of memory however many arrive.
const MaxParsing = 2 * MaxReport

// MaxExcerpt bounds what is kept of a report that does not parse: enough
// to see why, never the whole of a stranger's blob.
const MaxExcerpt = 64 << 10

// DailyBudget is what one client network's reports may decompress to in
// a UTC day, unless the Ingester sets its own: a few kilobytes of gzip can
// hold megabytes of whitespace, and reading them costs CPU however little
// is kept.
const DailyBudget = 512 << 20

// Ingester stores the reports of messages received at a report address.
type Ingester struct {
	Store  *store.Store
	Logger *slog.Logger
	// Budget is DailyBudget for this ingester (0: DailyBudget).
	Budget int64
	// Done, if set, is called after each message's reports are stored,
	// with those reports (Error set on those that could not be read).
	Done func(m *store.ReportMessage, reports []*store.DMARCReport)

	once    sync.Once
	parsing *semaphore.Weighted
	wake    chan struct{}
	spent   spending
}

// spending is what each client network's reports decompressed to today.
type spending struct {
	mu  sync.Mutex
	day string
	m   map[netip.Prefix]int64
}

// maxSpenders bounds the networks counted in one day.
const maxSpenders = 10000

// left returns what network n may still decompress today.
func (s *spending) left(n netip.Prefix, budget int64, now time.Time) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if day := now.UTC().Format("2006-01-02"); day != s.day || s.m == nil {
		s.day, s.m = day, map[netip.Prefix]int64{}
	}
	return budget - s.m[n]
}

// spend charges network n.
func (s *spending) spend(n netip.Prefix, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[n]; !ok && len(s.m) >= maxSpenders {
		return // the map is full: the networks already in it stay charged
	}
	s.m[n] += bytes
}

// Keep commits a report message before it is read, so the SMTP client
// gets its 250 however slow the reading; Run reads it.
func (in *Ingester) Keep(ctx context.Context, p *store.Probe) error {
	in.init()
	m := &store.ReportMessage{ID: p.ID, Received: p.Received, Rcpt: p.Recipient, ClientIP: p.ClientIP.String(),
		MailFrom: p.MailFrom, Raw: p.Raw}
	if err := in.Store.SaveReportMail(ctx, m); err != nil {
		return err
	}
	select {
	case in.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run reads the stored report messages until ctx ends: the unread ones at
// start, then each as it is stored.
func (in *Ingester) Run(ctx context.Context) error {
	in.init()
	for {
		ms, err := in.Store.UnreadReportMail(ctx, 10)
		if err != nil && ctx.Err() == nil && in.Logger != nil {
			in.Logger.Error("listing unread report mail", "err", err)
		}
		for _, m := range ms {
			if err := in.Read(ctx, m); err != nil && ctx.Err() == nil && in.Logger != nil {
				in.Logger.Error("reading report mail", "message", m.ID, "err", err)
			}
		}
		if len(ms) == 10 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-in.wake:
		case <-time.After(time.Minute):
		}
	}
}

// Ingest stores a report message and reads it at once (tests, tools).
func (in *Ingester) Ingest(ctx context.Context, p *store.Probe) error {
	in.init()
	m := &store.ReportMessage{ID: p.ID, Received: p.Received, Rcpt: p.Recipient, ClientIP: p.ClientIP.String(),
		MailFrom: p.MailFrom, Raw: p.Raw}
	if err := in.Store.SaveReportMail(ctx, m); err != nil {
		return err
	}
	return in.Read(ctx, m)
}

// Read extracts and parses the reports of a stored message and adds them.
// A message or report that cannot be read is kept with the reason: only a
// store failure is an error.
func (in *Ingester) Read(ctx context.Context, m *store.ReportMessage) error {
	in.init()
	budget := in.Budget
	if budget <= 0 {
		budget = DailyBudget
	}
	client := netip.Prefix{}
	if ip, err := netip.ParseAddr(m.ClientIP); err == nil {
		client = netguard.ClientNet(ip)
	}
	left := in.spent.left(client, budget, time.Now())
	var files []File
	var errs []error
	if left <= 0 {
		errs = []error{fmt.Errorf("%w (%d MB a day from one network)", ErrDaily, budget>>20)}
	} else {
		over := ErrBudget
		if left < MaxMessageReports {
			over = ErrDaily
		}
		files, errs = extract(m.Raw, min(left, MaxMessageReports), over)
	}
	var spent int64
	for _, f := range files {
		spent += int64(len(f.Data))
	}
	in.spent.spend(client, spent)
	var reports []*store.DMARCReport
	var tls []*store.TLSReport
	for _, f := range files {
		if f.TLS() {
			tr, err := tlsrpt.Parse(f.Data)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.Name, err))
				continue
			}
			tls = append(tls, tlsRows(tr))
			continue
		}
		r := &store.DMARCReport{Container: f.Container}
		weight := max(int64(len(f.Data)), 1)
		if err := in.parsing.Acquire(ctx, weight); err != nil {
			return err
		}
		fb, err := dmarcrpt.Parse(f.Data)
		in.parsing.Release(weight)
		if err != nil {
			// What could not be read is kept, bounded, to show why.
			r.Error, r.XML = err.Error(), f.Data
			if len(r.XML) > MaxExcerpt {
				r.XML = r.XML[:MaxExcerpt]
				r.Error += fmt.Sprintf(" (%d bytes; the first %d kept)", len(f.Data), MaxExcerpt)
			}
		} else {
			fill(r, fb)
		}
		reports = append(reports, r)
	}
	for _, err := range errs {
		reports = append(reports, &store.DMARCReport{Error: err.Error()})
	}
	if len(errs) > 0 {
		m.Problems = errors.Join(errs...).Error()
	}
	if err := in.Store.AddReports(ctx, m, reports, tls); err != nil {
		return err
	}
	if in.Logger != nil {
		for _, r := range tls {
			in.Logger.Info("tls report", "message", m.ID, "org", r.Organization, "report_id", r.ReportID,
				"policies", len(r.Policies), "duplicate_of", r.DuplicateOf)
		}
	}
	if in.Logger != nil {
		for _, r := range reports {
			in.Logger.Info("dmarc report", "message", m.ID, "org", r.Org, "report_id", r.ReportID, "domain", r.Domain,
				"records", r.Records, "messages", r.Messages, "duplicate_of", r.DuplicateOf, "error", r.Error)
		}
	}
	if in.Done != nil {
		in.Done(m, reports)
	}
	return nil
}

func (in *Ingester) init() {
	in.once.Do(func() {
		in.parsing = semaphore.NewWeighted(MaxParsing)
		in.wake = make(chan struct{}, 1)
	})
}

func fill(r *store.DMARCReport, fb *dmarcrpt.Feedback) {
	md := fb.Metadata
	r.Org, r.Email, r.ReportID, r.Domain, r.Begin, r.End = md.OrgName, md.Email, md.ReportID, fb.Policy.Domain, md.Begin, md.End
	pol, _ := json.Marshal(fb.Policy)
	r.Policy = string(pol)
	r.Records = len(fb.Records)
	for _, rec := range fb.Records {
		r.Messages += rec.Count
		auth, _ := json.Marshal(struct {
			DKIM []dmarcrpt.AuthDKIM `json:"dkim"`
			SPF  []dmarcrpt.AuthSPF  `json:"spf"`
		}{rec.AuthDKIM, rec.AuthSPF})
		r.Rows = append(r.Rows, &store.DMARCRecord{SourceIP: rec.SourceIP.String(), Count: rec.Count, Disposition: rec.Disposition,
			DKIM: rec.DKIM, SPF: rec.SPF, HeaderFrom: rec.HeaderFrom, EnvelopeFrom: rec.EnvelopeFrom, EnvelopeTo: rec.EnvelopeTo,
			DKIMPass: rec.DKIMPass(), SPFPass: rec.SPFPass(), Auth: string(auth)})
	}
}
