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
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
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
	// MaxWatched bounds the domains reports bring into the watch (the
	// operator's --watch-domains are all watched, first); MaxPerReporter
	// bounds those of one reporter, so that one report naming many
	// domains cannot crowd the others out.
	MaxWatched     = 200
	MaxPerReporter = 20
	// MaxAlertsPerRun bounds the alerts one check sends, and
	// MaxAlertsPerReporter those about the domains of one reporter.
	MaxAlertsPerRun      = 50
	MaxAlertsPerReporter = 10
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
	// Lang is the language of the alerts' words (mail and webhooks):
	// the server's default language.
	Lang     i18n.Lang
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
	reported, err := w.Store.ReportedDomains(ctx, now.Add(-Baseline-Recent))
	if err != nil {
		return nil, err
	}
	// The operator's domains first, all of them; then the reported ones
	// that publish this tester as their report address, bounded in all
	// and per reporter (strangers choose what a report names).
	domains := slices.Clone(w.Domains)
	reporter := map[string]string{}
	perReporter := map[string]int{}
	for _, r := range reported {
		if slices.Contains(domains, r.Domain) || len(reporter) == MaxWatched || perReporter[r.Reporter] == MaxPerReporter {
			continue
		}
		if !w.namesTester(ctx, r.Domain) {
			continue
		}
		perReporter[r.Reporter]++
		reporter[r.Domain] = r.Reporter
		domains = append(domains, r.Domain)
	}
	var sent []Alert
	sentFor := map[string]int{}
	for _, d := range domains {
		if len(sent) == MaxAlertsPerRun {
			break
		}
		found, err := w.domain(ctx, d, now)
		if err != nil {
			// One domain's broken data must not stop the others' alerts.
			if ctx.Err() != nil {
				return sent, err
			}
			if w.Logger != nil {
				w.Logger.Error("alerts: a domain could not be checked", "domain", d, "err", err)
			}
			continue
		}
		for _, a := range found {
			if rep, ok := reporter[d]; ok && sentFor[rep] == MaxAlertsPerReporter || len(sent) == MaxAlertsPerRun {
				break
			}
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
			if rep, ok := reporter[d]; ok {
				sentFor[rep]++
			}
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
	add := func(kind string, text, fix i18n.Msg) {
		a := Alert{Event: "alert", Domain: domain, Kind: kind, Text: w.Lang.Say(text), Fix: w.Lang.Say(fix), At: now.UTC()}
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
		add("dmarc-pass-drop", i18n.M("alert.drop", w.Lang.Decimal(rs.Total.PassRate()), w.Lang.Decimal(bs.Total.PassRate()), rs.Total.Messages),
			i18n.M("alert.drop.fix"))
	}
	known := map[string]bool{}
	for _, s := range bs.Sources {
		known[s.IP] = true
	}
	for _, s := range rs.Sources {
		if !known[s.IP] && s.Messages-s.DMARCPass >= NewSourceMessages && len(bs.Sources) > 0 {
			add("new-failing-source", i18n.M("alert.new-source", s.IP, s.Messages-s.DMARCPass), i18n.M("alert.new-source.fix"))
			break
		}
	}
	if len(base) > 0 && len(recent) == 0 && now.Sub(last) > Silence {
		add("reports-stopped", i18n.M("alert.stopped", last.UTC().Format("2006-01-02")), i18n.M("alert.stopped.fix", domain))
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
		add("tls-failures", i18n.M("alert.tls", fNow, f.Type, f.ReceivingMX, f.Meaning), f.Fix)
	}
	if w.Resolver != nil {
		out = append(out, w.record(ctx, domain, now)...)
		out = append(out, w.mtaSTS(ctx, domain, now)...)
	}
	return out, nil
}

// namesTester reports whether a domain publishes this tester as a report
// address: rua= of its DMARC record, or of its TLS-RPT record, at the
// tester's domain. Only such a domain's reports come from its owner's
// wish; any other was named by a stranger. Without a resolver (a tool),
// nothing can be checked, and none is.
func (w *Watcher) namesTester(ctx context.Context, domain string) bool {
	if w.Resolver == nil || w.Domain == "" {
		return false
	}
	at := "@" + strings.ToLower(w.Domain)
	for _, name := range []string{"_dmarc." + domain, "_smtp._tls." + domain} {
		txts, err := w.Resolver.LookupTXT(ctx, name)
		if err != nil {
			continue
		}
		for _, t := range txts {
			_, rua, ok := strings.Cut(strings.ToLower(t), "rua=")
			rua, _, _ = strings.Cut(rua, ";")
			for ok {
				var rest string
				_, rest, ok = strings.Cut(rua, at)
				// The address's domain is the tester's, not a longer name
				// that starts like it (tester.example.evil).
				if ok && (rest == "" || strings.IndexByte("!, \t", rest[0]) >= 0) {
					return true
				}
				rua = rest
			}
		}
	}
	return false
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
			Text: w.Lang.T("alert.sts", domain, clip(err.Error())), Fix: w.Lang.T("alert.sts.fix", domain)}}
	case !p.CertNotAfter.IsZero() && p.CertNotAfter.Sub(now) < mtasts.CertWarning:
		return []Alert{{Event: "alert", Domain: domain, Kind: "mta-sts-certificate-expiring", At: now.UTC(),
			Text: w.Lang.T("alert.sts-cert", domain, p.CertNotAfter.Format("2006-01-02")), Fix: w.Lang.T("alert.sts-cert.fix", domain)}}
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
	alert := func(kind string, text, fix i18n.Msg) []Alert {
		return []Alert{{Event: "alert", Domain: domain, Kind: kind, Text: w.Lang.Say(text), Fix: w.Lang.Say(fix), At: now.UTC()}}
	}
	if rec == "" {
		return alert("dmarc-record-gone", i18n.M("alert.gone", domain, clip(prev)), i18n.M("alert.gone.fix", domain))
	}
	old, errOld := dmarc.Parse(prev)
	cur, errCur := dmarc.Parse(rec)
	if errOld == nil && errCur == nil && strength(cur.P) < strength(old.P) {
		return alert("dmarc-policy-weakened", i18n.M("alert.weakened", domain, string(old.P), string(cur.P)), i18n.M("alert.weakened.fix", string(old.P)))
	}
	return alert("dmarc-record-changed", i18n.M("alert.changed", domain, clip(rec), clip(prev)), i18n.Msg{})
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
		text += "\n" + w.Lang.T("alert.mail.fix", a.Fix) + "\n"
	}
	if a.URL != "" {
		text += "\n" + w.Lang.T("alert.mail.details", a.URL) + "\n"
	}
	for _, to := range w.To {
		o, err := reports.OwnMail(w.Domain, w.Hostname, to, w.Lang.T("alert.mail.subject", a.Domain, a.Kind), text, now)
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
