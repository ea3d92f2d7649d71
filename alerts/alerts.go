// Package alerts watches the domains that send testerd reports (and those
// the operator names) and says when something changed for the worse: the
// DMARC pass rate dropping against the domain's own baseline, a new source
// failing alignment, the DMARC policy weakened or the record changed or
// gone, reports that stop arriving, and TLS failures appearing. An alert
// goes out once per problem and cooldown, by mail through the outbound
// queue and as a signed JSON webhook (the tokens with the reports scope),
// from one node of the cluster each hour.
package alerts

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/reports"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify/dmarc"
)

// Thresholds.
const (
	// Baseline is the period a domain's recent day is compared with.
	Baseline = 7 * 24 * time.Hour
	// Recent is the period judged.
	Recent = 24 * time.Hour
	// MinMessages: below this many messages a day says nothing of a rate.
	MinMessages = 100
	// Drop is how many percentage points the pass rate must fall.
	Drop = 10.0
	// NewSourceMessages: a new source failing with this many messages.
	NewSourceMessages = 10
	// Silence is how long without reports counts as "stopped".
	Silence = 3 * 24 * time.Hour
	// DefaultCooldown: one alert per problem and domain this often.
	DefaultCooldown = 24 * time.Hour
	// MaxWatched bounds the domains watched.
	MaxWatched = 200
)

// Alert is one problem found for a domain.
type Alert struct {
	Event  string    `json:"event"` // "alert"
	Domain string    `json:"domain"`
	Kind   string    `json:"kind"`
	Text   string    `json:"text"`
	Fix    string    `json:"fix,omitempty"`
	At     time.Time `json:"at"`
	URL    string    `json:"url,omitempty"`
}

// Watcher finds and sends alerts.
type Watcher struct {
	Store    *store.Store
	Resolver dnsx.Resolver
	// Domains are watched besides those with reports.
	Domains []string
	// To get the alert mail; webhooks go to the tokens with the reports
	// scope.
	To []string
	// Domain and Hostname are the tester's (the From and Message-ID);
	// BaseURL starts the links.
	Domain, Hostname, BaseURL string
	Cooldown                  time.Duration
	Logger                    *slog.Logger
	// Enqueued is called when mail or webhooks were queued.
	Enqueued func()
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// STS, if set, fetches the MTA-STS policies of watched domains that
	// publish one.
	STS *mtasts.Fetcher
}

// Run checks once an hour, on one node of the cluster each hour.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		now := w.now()
		if mine, err := w.Store.RunOnce(ctx, "alerts", now.UTC().Format("2006-01-02T15")); err == nil && mine {
			if _, err := w.Check(ctx); err != nil && ctx.Err() == nil && w.Logger != nil {
				w.Logger.Error("alerts", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *Watcher) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// Check looks at every watched domain once, sends the alerts that are
// due, and returns them.
func (w *Watcher) Check(ctx context.Context) ([]Alert, error) {
	now := w.now()
	domains, err := w.Store.ReportedDomains(ctx, now.Add(-Baseline-Recent))
	if err != nil {
		return nil, err
	}
	for _, d := range w.Domains {
		if !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	if len(domains) > MaxWatched {
		domains = domains[:MaxWatched]
	}
	var sent []Alert
	for _, d := range domains {
		found, err := w.domain(ctx, d, now)
		if err != nil {
			return sent, err
		}
		for _, a := range found {
			cooldown := w.Cooldown
			if cooldown <= 0 {
				cooldown = DefaultCooldown
			}
			due, err := w.Store.AlertDue(ctx, a.Domain, a.Kind, now, cooldown)
			if err != nil {
				return sent, err
			}
			if !due {
				continue
			}
			if err := w.send(ctx, a); err != nil {
				return sent, err
			}
			sent = append(sent, a)
		}
	}
	if len(sent) > 0 && w.Enqueued != nil {
		w.Enqueued()
	}
	return sent, nil
}

// domain finds the problems of one domain.
func (w *Watcher) domain(ctx context.Context, domain string, now time.Time) ([]Alert, error) {
	var out []Alert
	add := func(kind, text, fix string) {
		a := Alert{Event: "alert", Domain: domain, Kind: kind, Text: text, Fix: fix, At: now.UTC()}
		if w.BaseURL != "" {
			a.URL = strings.TrimSuffix(w.BaseURL, "/") + "/reports/" + domain
		}
		out = append(out, a)
	}
	// Reports cover whole UTC days and arrive the day after: the recent
	// period is yesterday and today, the baseline the week before.
	recentStart := now.UTC().Truncate(24 * time.Hour).Add(-Recent)
	rows, err := w.Store.ReportRows(ctx, domain, now.Add(-Baseline-Recent))
	if err != nil {
		return nil, err
	}
	var recent, base []*store.DMARCRecord
	var last time.Time
	for _, r := range rows {
		if r.Begin.After(last) {
			last = r.Begin
		}
		if !r.Begin.Before(recentStart) {
			recent = append(recent, r)
		} else {
			base = append(base, r)
		}
	}
	rs := reports.Summarize(domain, now.Add(-Recent), 1, recent)
	bs := reports.Summarize(domain, now.Add(-Baseline-Recent), 7, base)
	if rs.Total.Messages >= MinMessages && bs.Total.Messages >= MinMessages && bs.Total.PassRate()-rs.Total.PassRate() >= Drop {
		add("dmarc-pass-drop", fmt.Sprintf("DMARC pass rate fell to %.1f%% over the last day, from %.1f%% the week before (%d messages)",
			rs.Total.PassRate(), bs.Total.PassRate(), rs.Total.Messages),
			"look at the sources failing on the domain's report page: a new sender, or a changed record")
	}
	known := map[string]bool{}
	for _, s := range bs.Sources {
		known[s.IP] = true
	}
	for _, s := range rs.Sources {
		if !known[s.IP] && s.Messages-s.DMARCPass >= NewSourceMessages && len(bs.Sources) > 0 {
			add("new-failing-source", fmt.Sprintf("a new source, %s, sent %d messages failing DMARC in the last day", s.IP, s.Messages-s.DMARCPass),
				"if it is yours, authorize it (SPF include or DKIM signing with your domain); if not, someone is spoofing you")
			break
		}
	}
	if len(base) > 0 && len(recent) == 0 && now.Sub(last) > Silence {
		add("reports-stopped", fmt.Sprintf("no DMARC report since %s", last.UTC().Format("2006-01-02")),
			"check the rua= of _dmarc."+domain+" still names this tester, and that mail to it arrives")
	}
	tls, err := w.Store.TLSSummaryOf(ctx, domain, now.Add(-Baseline-Recent))
	if err != nil {
		return nil, err
	}
	recentDay := recentStart.Format("2006-01-02")
	var fNow, fBefore int64
	earlier := false
	for _, d := range tls.Days {
		if d.Day >= recentDay {
			fNow += d.Failure
		} else {
			fBefore += d.Failure
			earlier = true
		}
	}
	// Failures now after a clean earlier week: the failures listed are
	// then all recent ones.
	if fNow > 0 && fBefore == 0 && earlier && len(tls.Failures) > 0 {
		f := reports.ExplainTLS(tls).Failures[0]
		add("tls-failures", fmt.Sprintf("TLS failures appeared: %d sessions, mostly %s at %s (%s)", fNow, f.Type, f.ReceivingMX, f.Meaning), f.Fix)
	}
	if w.Resolver != nil {
		out = append(out, w.record(ctx, domain, now)...)
		out = append(out, w.mtaSTS(ctx, domain, now)...)
	}
	return out, nil
}

// mtaSTS alerts on a published MTA-STS policy that cannot be fetched, or
// whose host certificate expires within mtasts.CertWarning.
func (w *Watcher) mtaSTS(ctx context.Context, domain string, now time.Time) []Alert {
	if w.STS == nil {
		return nil
	}
	txts, err := w.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	if err != nil {
		return nil
	}
	published := false
	for _, t := range txts {
		published = published || strings.HasPrefix(strings.TrimSpace(t), "v=STSv1")
	}
	if !published {
		return nil
	}
	p, _, err := w.STS.Fetch(ctx, domain)
	switch {
	case err != nil:
		return []Alert{{Event: "alert", Domain: domain, Kind: "mta-sts-policy-unreachable", At: now.UTC(),
			Text: "the MTA-STS policy of " + domain + " cannot be fetched: " + clip(err.Error()),
			Fix:  "serve https://mta-sts." + domain + "/.well-known/mta-sts.txt with a valid certificate, as text/plain"}}
	case !p.CertNotAfter.IsZero() && p.CertNotAfter.Sub(now) < mtasts.CertWarning:
		return []Alert{{Event: "alert", Domain: domain, Kind: "mta-sts-certificate-expiring", At: now.UTC(),
			Text: fmt.Sprintf("the certificate of mta-sts.%s expires on %s: then senders can no longer fetch the MTA-STS policy", domain, p.CertNotAfter.Format("2006-01-02")),
			Fix:  "renew the certificate of mta-sts." + domain + " (and automate it)"}}
	}
	return nil
}

// record compares the DMARC record with the one seen last time.
func (w *Watcher) record(ctx context.Context, domain string, now time.Time) []Alert {
	var rec string
	txts, err := w.Resolver.LookupTXT(ctx, "_dmarc."+domain)
	if err != nil && !dnsx.IsNotFound(err) {
		return nil // testerd's DNS failed: say nothing of the sender
	}
	for _, t := range txts {
		if strings.HasPrefix(strings.TrimSpace(t), "v=DMARC1") {
			rec = strings.TrimSpace(t)
			break
		}
	}
	prev, seen, err := w.Store.WatchState(ctx, domain, "dmarc")
	if err != nil {
		return nil
	}
	w.Store.SetWatchState(ctx, domain, "dmarc", rec)
	if !seen || prev == rec {
		return nil
	}
	alert := func(kind, text, fix string) []Alert {
		return []Alert{{Event: "alert", Domain: domain, Kind: kind, Text: text, Fix: fix, At: now.UTC()}}
	}
	if rec == "" {
		return alert("dmarc-record-gone", "the DMARC record of "+domain+" is gone (it was: "+clip(prev)+")", "publish it again at _dmarc."+domain)
	}
	old, errOld := dmarc.Parse(prev)
	cur, errCur := dmarc.Parse(rec)
	if errOld == nil && errCur == nil && strength(cur.P) < strength(old.P) {
		return alert("dmarc-policy-weakened", fmt.Sprintf("the DMARC policy of %s went from p=%s to p=%s", domain, old.P, cur.P),
			"if that was not intended, restore p="+string(old.P))
	}
	return alert("dmarc-record-changed", "the DMARC record of "+domain+" changed: "+clip(rec)+" (was: "+clip(prev)+")", "")
}

func strength(p dmarc.Policy) int {
	switch p {
	case dmarc.PolicyReject:
		return 3
	case dmarc.PolicyQuarantine:
		return 2
	case dmarc.PolicyNone:
		return 1
	}
	return 0
}

// send queues the alert as mail to To and as a webhook event.
func (w *Watcher) send(ctx context.Context, a Alert) error {
	now := w.now()
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if _, err := w.Store.QueueEvent(ctx, store.ScopeReports, "alert:"+a.Domain+":"+a.Kind, body, now); err != nil {
		return err
	}
	text := a.Text + "\n"
	if a.Fix != "" {
		text += "\nWhat to do: " + a.Fix + "\n"
	}
	if a.URL != "" {
		text += "\nDetails: " + a.URL + "\n"
	}
	for _, to := range w.To {
		o, err := reports.OwnMail(w.Domain, w.Hostname, to, "testerd alert for "+a.Domain+": "+a.Kind, text, now)
		if err != nil {
			return err
		}
		if err := w.Store.Enqueue(ctx, o); err != nil {
			return err
		}
	}
	if w.Logger != nil {
		w.Logger.Info("alert", "domain", a.Domain, "kind", a.Kind, "text", a.Text)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
