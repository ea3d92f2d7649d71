package reports

import (
	"context"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/store"
)

// Digest mails a summary of the reports received, once a day at a set
// time, through the outbox (signed and delivered like the replies).
type Digest struct {
	// Lang is the language of the summary: the server's default.
	Lang  i18n.Lang
	Store *store.Store
	// Domain is the tester domain (From: rua@Domain); Hostname names the
	// Message-ID; BaseURL starts the links.
	Domain, Hostname, BaseURL string
	To                        []string
	// Hour and Minute, in Location, is when it goes out.
	Hour, Minute int
	Location     *time.Location
	// Days is the span summarized (7 unless set).
	Days int
	// Enqueued wakes the outbox queue.
	Enqueued func()
	Logger   *slog.Logger
	Now      func() time.Time
}

// ParseAt reads "HH:MM".
func ParseAt(s string) (int, int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("the summary time must be HH:MM, not %q", s)
	}
	return t.Hour(), t.Minute(), nil
}

// CheckAddress accepts a plain address for a summary recipient.
func CheckAddress(a string) error {
	p, err := mail.ParseAddress(a)
	if err != nil || p.Name != "" || p.Address != a || strings.ContainsAny(a, "\r\n<> ") {
		return fmt.Errorf("%q is not a plain e-mail address", a)
	}
	return nil
}

// Next is the first send time after now.
func (d *Digest) Next(now time.Time) time.Time {
	loc := d.Location
	if loc == nil {
		loc = time.Local
	}
	now = now.In(loc)
	t := time.Date(now.Year(), now.Month(), now.Day(), d.Hour, d.Minute, 0, 0, loc)
	if !t.After(now) {
		t = t.AddDate(0, 0, 1)
	}
	return t
}

// Run sends the summary every day until ctx ends.
func (d *Digest) Run(ctx context.Context) error {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	for {
		t := time.NewTimer(time.Until(d.Next(now())))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		// One node of the cluster sends each day's summary.
		mine, err := d.Store.RunOnce(ctx, "dmarc-summary", now().UTC().Format("2006-01-02"))
		if err == nil && mine {
			err = d.Send(ctx, now())
		}
		if err != nil && d.Logger != nil {
			d.Logger.Error("dmarc summary", "err", err)
		}
	}
}

// Send enqueues the summary for each recipient.
func (d *Digest) Send(ctx context.Context, now time.Time) error {
	days := d.Days
	if days <= 0 {
		days = 7
	}
	today := now.UTC().Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, 1-days)
	body, err := d.body(ctx, since, days)
	if err != nil {
		return err
	}
	for _, to := range d.To {
		o, err := OwnMail(d.Domain, d.Hostname, to, d.Lang.T("digest.subject", d.Domain, days), body, now)
		if err != nil {
			return err
		}
		if err := d.Store.Enqueue(ctx, o); err != nil {
			return err
		}
	}
	if d.Enqueued != nil {
		d.Enqueued()
	}
	return nil
}

// OwnMail is a message of testerd's own (a summary, an alert) from
// "testerd" <rua@domain> to one plain address, ready for the outbox.
func OwnMail(domain, hostname, to, subject, body string, now time.Time) (*store.Outgoing, error) {
	id := store.NewID()
	var h message.Header
	h.Add("From", (&mail.Address{Name: "testerd", Address: "rua@" + domain}).String())
	h.Add("To", "<"+to+">")
	h.Add("Subject", subject)
	h.Add("Date", now.Format(time.RFC1123Z))
	h.Add("Message-ID", "<"+id+"@"+hostname+">")
	h.Add("Auto-Submitted", "auto-generated")
	data, err := message.Text(&h, body)
	if err != nil {
		return nil, err
	}
	return &store.Outgoing{ID: id, Created: now, State: store.Queued, Rcpt: to, RcptDomain: to[strings.LastIndexByte(to, '@')+1:],
		MessageID: "<" + id + "@" + hostname + ">", Data: data}, nil
}

// maxDigestDomains bounds the domains one summary lists.
const maxDigestDomains = 50

func (d *Digest) body(ctx context.Context, since time.Time, days int) (string, error) {
	domains, err := d.Store.ReportDomains(ctx, since)
	if err != nil {
		return "", err
	}
	l := d.Lang
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", l.T("digest.head", d.Domain, days, since.Format("2006-01-02")))
	if len(domains) == 0 {
		fmt.Fprintf(&b, "%s\n", l.T("digest.none"))
	}
	for i, dom := range domains {
		if i == maxDigestDomains {
			fmt.Fprintf(&b, "%s\n", l.T("digest.more", len(domains)-i))
			break
		}
		rows, err := d.Store.ReportRows(ctx, dom.Domain, since)
		if err != nil {
			return "", err
		}
		s := Summarize(dom.Domain, since, days, rows)
		t := s.Total
		fmt.Fprintf(&b, "%s\n", l.T("digest.domain", dom.Domain, t.Messages, dom.Reports, l.Percent(t.DMARCPass, t.Messages),
			l.Percent(t.SPFAligned, t.Messages), l.Percent(t.DKIMAligned, t.Messages)))
		for _, f := range s.Fixes {
			fmt.Fprintf(&b, "  %s\n", l.T("digest.fix", f.IP, f.Failing, f.Messages, l.Say(f.Why)))
		}
		if d.BaseURL != "" {
			fmt.Fprintf(&b, "  %s\n", l.T("digest.details", strings.TrimSuffix(d.BaseURL, "/")+"/reports/"+dom.Domain))
		}
		b.WriteString("\n")
	}
	tls, err := d.Store.TLSDomains(ctx, since)
	if err != nil {
		return "", err
	}
	if len(tls) > 0 {
		fmt.Fprintf(&b, "%s\n\n", l.T("digest.tls"))
	}
	for i, dom := range tls {
		if i == maxDigestDomains {
			fmt.Fprintf(&b, "%s\n", l.T("digest.more", len(tls)-i))
			break
		}
		fmt.Fprintf(&b, "%s\n", l.T("digest.tls-domain", dom.Domain, dom.Success+dom.Failure, dom.Reports, l.Percent(dom.Failure, dom.Success+dom.Failure)))
		if dom.Failure > 0 {
			sum, err := d.Store.TLSSummaryOf(ctx, dom.Domain, since)
			if err != nil {
				return "", err
			}
			for j, f := range ExplainTLS(sum).Failures {
				if j == 3 {
					break
				}
				fmt.Fprintf(&b, "  %s\n", l.T("digest.tls-failure", f.Type, f.ReceivingMX, f.Sessions, l.Say(f.Meaning), l.Say(f.Fix)))
			}
		}
		if d.BaseURL != "" {
			fmt.Fprintf(&b, "  %s\n", l.T("digest.details", strings.TrimSuffix(d.BaseURL, "/")+"/reports/tls/"+dom.Domain))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}
