package reports

import (
	"math"
	"sort"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/store"
)

// Counts are message counts of a set of rows.
type Counts struct {
	Messages int64 `json:"messages"`
	// DMARCPass: aligned DKIM or aligned SPF passed.
	DMARCPass int64 `json:"dmarc_pass"`
	// SPFPass and DKIMPass are the raw results, aligned or not;
	// SPFAligned and DKIMAligned the policy_evaluated ones.
	SPFPass     int64 `json:"spf_pass"`
	DKIMPass    int64 `json:"dkim_pass"`
	SPFAligned  int64 `json:"spf_aligned"`
	DKIMAligned int64 `json:"dkim_aligned"`
}

func (c *Counts) add(r *store.DMARCRecord) {
	n := r.Count
	sat(&c.Messages, n)
	if r.DKIM == "pass" || r.SPF == "pass" {
		sat(&c.DMARCPass, n)
	}
	if r.SPFPass {
		sat(&c.SPFPass, n)
	}
	if r.DKIMPass {
		sat(&c.DKIMPass, n)
	}
	if r.SPF == "pass" {
		sat(&c.SPFAligned, n)
	}
	if r.DKIM == "pass" {
		sat(&c.DKIMAligned, n)
	}
}

// sat adds n to *c, stopping at the largest int64: reporters choose the
// counts, and a sum must never wrap around to a negative one.
func sat(c *int64, n int64) {
	if n > 0 && *c > math.MaxInt64-n {
		*c = math.MaxInt64
		return
	}
	*c += n
}

// PassRate is DMARCPass over Messages, in percent.
func (c Counts) PassRate() float64 {
	if c.Messages == 0 {
		return 0
	}
	return 100 * float64(c.DMARCPass) / float64(c.Messages)
}

// Source is one sending IP.
type Source struct {
	IP string `json:"ip"`
	Counts
	// HeaderFrom and Reporters list what the rows said, bounded.
	HeaderFrom []string `json:"header_from"`
	Reporters  []string `json:"reporters"`
	// PTR is filled by the caller (reverse DNS).
	PTR string `json:"ptr,omitempty"`
}

// Reporter is one reporting organization.
type Reporter struct {
	Org string `json:"org"`
	Counts
}

// Day is one day's volume.
type Day struct {
	Date string `json:"date"` // YYYY-MM-DD, UTC
	Counts
}

// Fix is a source failing alignment at volume, with what to do.
type Fix struct {
	IP       string   `json:"ip"`
	Failing  int64    `json:"failing"`
	Messages int64    `json:"messages"`
	Why      i18n.Msg `json:"why"`
	PTR      string   `json:"ptr,omitempty"`
}

// Summary is a domain's reports over a span of days.
type Summary struct {
	Domain    string     `json:"domain"`
	Since     time.Time  `json:"since"`
	Days      int        `json:"days"`
	Total     Counts     `json:"total"`
	Sources   []Source   `json:"sources"`
	Reporters []Reporter `json:"reporters"`
	Daily     []Day      `json:"daily"`
	Fixes     []Fix      `json:"fixes"`
	// Truncated says the rows hit store.MaxReportRows.
	Truncated bool `json:"truncated,omitempty"`
}

// Bounds of a summary.
const (
	MaxSources = 100
	MaxFixes   = 10
	// FixThreshold: a source enters the fix list with at least this many
	// failing messages, or 5% of the domain's volume.
	FixThreshold = 10
)

// Summarize sums up rows from the days [since, since+days).
func Summarize(domain string, since time.Time, days int, rows []*store.DMARCRecord) *Summary {
	s := &Summary{Domain: domain, Since: since, Days: days, Sources: []Source{}, Reporters: []Reporter{}, Fixes: []Fix{},
		Truncated: len(rows) >= store.MaxReportRows}
	sources := map[string]*Source{}
	reporters := map[string]*Reporter{}
	daily := map[string]*Day{}
	whys := map[string]*why{}
	for d := 0; d < days; d++ {
		date := since.AddDate(0, 0, d).Format("2006-01-02")
		daily[date] = &Day{Date: date}
	}
	for _, r := range rows {
		s.Total.add(r)
		src := sources[r.SourceIP]
		if src == nil {
			src = &Source{IP: r.SourceIP}
			sources[r.SourceIP] = src
			whys[r.SourceIP] = &why{}
		}
		src.add(r)
		addOnce(&src.HeaderFrom, r.HeaderFrom)
		addOnce(&src.Reporters, r.Org)
		rep := reporters[r.Org]
		if rep == nil {
			rep = &Reporter{Org: r.Org}
			reporters[r.Org] = rep
		}
		rep.add(r)
		if day := daily[r.Begin.UTC().Format("2006-01-02")]; day != nil {
			day.add(r)
		}
		if r.DKIM != "pass" && r.SPF != "pass" {
			w := whys[r.SourceIP]
			switch {
			case r.SPFPass:
				sat(&w.spfOnly, r.Count)
			case r.DKIMPass:
				sat(&w.dkimOther, r.Count)
			default:
				sat(&w.none, r.Count)
			}
		}
	}
	for _, src := range sources {
		s.Sources = append(s.Sources, *src)
	}
	sort.Slice(s.Sources, func(i, j int) bool { return s.Sources[i].Messages > s.Sources[j].Messages })
	for _, src := range s.Sources {
		failing := src.Messages - src.DMARCPass
		if failing > 0 && (failing >= FixThreshold || float64(failing) >= 0.05*float64(s.Total.Messages)) {
			s.Fixes = append(s.Fixes, Fix{IP: src.IP, Failing: failing, Messages: src.Messages, Why: explain(whys[src.IP])})
		}
	}
	sort.SliceStable(s.Fixes, func(i, j int) bool { return s.Fixes[i].Failing > s.Fixes[j].Failing })
	if len(s.Fixes) > MaxFixes {
		s.Fixes = s.Fixes[:MaxFixes]
	}
	if len(s.Sources) > MaxSources {
		s.Sources = s.Sources[:MaxSources]
	}
	for _, rep := range reporters {
		s.Reporters = append(s.Reporters, *rep)
	}
	sort.Slice(s.Reporters, func(i, j int) bool { return s.Reporters[i].Messages > s.Reporters[j].Messages })
	for d := 0; d < days; d++ {
		s.Daily = append(s.Daily, *daily[since.AddDate(0, 0, d).Format("2006-01-02")])
	}
	return s
}

func addOnce(list *[]string, v string) {
	if v == "" || len(*list) >= 5 {
		return
	}
	for _, x := range *list {
		if x == v {
			return
		}
	}
	*list = append(*list, v)
}

// why counts a source's failing messages by cause.
type why struct{ spfOnly, dkimOther, none int64 }

func explain(w *why) i18n.Msg {
	switch {
	case w.spfOnly >= w.dkimOther && w.spfOnly >= w.none:
		return i18n.M("reports.why.spf-other", w.spfOnly)
	case w.dkimOther >= w.none:
		return i18n.M("reports.why.dkim-other", w.dkimOther)
	}
	return i18n.M("reports.why.none", w.none)
}
