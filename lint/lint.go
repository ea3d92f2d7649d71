// Package lint checks any domain's mail records, without a probe: SPF with
// the same parser and evaluator that judge probes (the include/redirect
// tree, the worst-case lookup counts over the whole tree, void lookups, MX
// sub-lookups, risky all, overlapping networks, the IPv4 addresses
// authorized, and optionally one IP's evaluation with its trace), DMARC at
// the domain and its organizational domain (every tag, a plain summary,
// report URIs with their MX and external authorization), DKIM keys for the
// selectors given or seen in probes, and the MX hosts with forward-
// confirmed reverse DNS plus MTA-STS and TLS-RPT presence. Every finding is
// an error, a warning or info, with a fix. The checker asks DNS on behalf
// of strangers, so every check runs under a lookup budget and a deadline.
package lint

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/testerd/testerd/bimi"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/verify/spf"
)

// Severity of a finding.
type Severity string

// Severities.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Finding is one thing the checker has to say. Message and Fix are kept
// unsaid; Report.In puts them into a reader's words (Text, FixText).
type Finding struct {
	Area     string   `json:"area"` // spf, dmarc, dkim, mx
	Severity Severity `json:"severity"`
	Message  i18n.Msg `json:"-"`
	Fix      i18n.Msg `json:"-"`
	Text     string   `json:"message"`
	FixText  string   `json:"fix,omitempty"`
}

// Report is the whole check of one domain.
type Report struct {
	Domain   string       `json:"domain"`
	Checked  time.Time    `json:"checked"`
	Findings []Finding    `json:"findings"`
	Errors   int          `json:"errors"`
	Warnings int          `json:"warnings"`
	SPF      *SPFReport   `json:"spf"`
	DMARC    *DMARCReport `json:"dmarc"`
	DKIM     []*DKIMKey   `json:"dkim"`
	MX       *MXReport    `json:"mx"`
	// BIMI is the logo check, when the checker has one.
	BIMI *bimi.Result `json:"bimi,omitempty"`
	// Lookups is how many DNS questions the check asked.
	Lookups int64 `json:"lookups"`
	// TesterFailure: testerd's resolver left questions unanswered, so
	// the findings may be about testerd's DNS, not the domain.
	TesterFailure bool `json:"tester_failure,omitempty"`
	// receiver names this host in the SPF trace.
	receiver string
}

// Options of one check.
type Options struct {
	// Selectors are DKIM selectors to check; Seen are selectors learned
	// from probes.
	Selectors, Seen []string
	// IP and MailFrom, when IP is valid, are evaluated against the SPF
	// record, with the full trace.
	IP       netip.Addr
	MailFrom string
}

// Limits.
const (
	DefaultMaxLookups = 200
	DefaultTimeout    = 20 * time.Second
	MaxSelectors      = 10
)

// Checker runs checks.
type Checker struct {
	Resolver dnsx.Resolver
	// Receiver names this host in the SPF trace.
	Receiver string
	// MaxLookups bounds the DNS questions of one check; 0 is
	// DefaultMaxLookups.
	MaxLookups int64
	// Timeout bounds one check; 0 is DefaultTimeout.
	Timeout time.Duration
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// STS, if set, fetches MTA-STS policies (else only the record is
	// checked).
	STS *mtasts.Fetcher
	// MXTLS, if set, connects to the MX hosts to check their STARTTLS.
	MXTLS *MXTLS
	// BIMI, if set, checks the domain's BIMI record, logo and mark
	// certificate (its resolver is the check's).
	BIMI *bimi.Checker
}

// ErrBadDomain is returned for a name that is not a domain.
var ErrBadDomain = errors.New("lint: not a domain name")

// Check checks domain. It fails only for a name that is not a domain;
// every DNS problem is a finding.
func (c *Checker) Check(ctx context.Context, domain string, o Options) (*Report, error) {
	d, err := message.Domain(domain)
	if err != nil {
		return nil, errors.Join(ErrBadDomain, err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	max := c.MaxLookups
	if max <= 0 {
		max = DefaultMaxLookups
	}
	// The tally tells the domain's broken DNS from testerd's resolver not
	// answering at all, which says nothing about the domain.
	tally := dnsx.NewTally(c.Resolver)
	b := &budget{r: tally, raw: c.Resolver, max: max}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	l := &linter{r: b, domain: d, receiver: c.Receiver, sts: c.STS, mxtls: c.MXTLS}
	l.tlsa, _ = c.Resolver.(dnsx.TLSALooker)
	rep := &Report{Domain: d, Checked: now().UTC(), receiver: c.Receiver}
	rep.SPF = l.spf(ctx, o)
	rep.DMARC = l.dmarc(ctx)
	rep.DKIM = l.dkim(ctx, o)
	rep.MX = l.mx(ctx)
	if c.BIMI != nil {
		rep.BIMI = l.bimi(ctx, c.BIMI, rep.DMARC)
	}
	if b.exhausted.Load() {
		l.add("dns", Warning, m("lint.budget", max), m("lint.budget.fix"))
	}
	if why := tally.NoAnswer(); !why.IsZero() {
		rep.TesterFailure = true
		l.add("dns", Error, m("lint.tester", why), none)
	}
	rep.Findings = l.findings
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rank(rep.Findings[i].Severity) < rank(rep.Findings[j].Severity) })
	for _, f := range rep.Findings {
		switch f.Severity {
		case Error:
			rep.Errors++
		case Warning:
			rep.Warnings++
		}
	}
	if rep.Findings == nil {
		rep.Findings = []Finding{}
	}
	rep.Lookups = min(b.n.Load(), max)
	return rep, nil
}

func rank(s Severity) int {
	switch s {
	case Error:
		return 0
	case Warning:
		return 1
	}
	return 2
}

type linter struct {
	r        *budget
	domain   string
	receiver string
	sts      *mtasts.Fetcher
	mxtls    *MXTLS
	tlsa     dnsx.TLSALooker // DANE, when the resolver can
	findings []Finding
}

func (l *linter) add(area string, sev Severity, msg, fix i18n.Msg) {
	l.findings = append(l.findings, Finding{Area: area, Severity: sev, Message: msg, Fix: fix})
}

// lookupFix is the fix of a failed lookup: the domain's name servers,
// unless testerd's resolver gave no answer at all (then there is nothing
// for the domain to change).
func lookupFix(err error) i18n.Msg {
	if dnsx.NoAnswer(err) {
		return none
	}
	return m("lint.fix.nameservers")
}

// m is i18n.M, short for the many findings here.
var m = i18n.M

// none is a finding without a fix.
var none i18n.Msg

// In returns the report with its words in l: each finding's Text and
// FixText, the DMARC summary and the SPF trace. The report itself is
// left as it is (a cached report serves readers of every language).
func (r *Report) In(l i18n.Lang) *Report {
	out := *r
	out.Findings = make([]Finding, len(r.Findings))
	for i, f := range r.Findings {
		f.Text, f.FixText = l.Say(f.Message), l.Say(f.Fix)
		out.Findings[i] = f
	}
	if d := r.DMARC; d != nil {
		dc := *d
		said := make([]string, len(d.Summary))
		for i, s := range d.Summary {
			said[i] = l.Say(s)
		}
		dc.SummaryText = strings.Join(said, " ")
		out.DMARC = &dc
	}
	if s := r.SPF; s != nil && s.Evaluation != nil {
		sc := *s
		var b strings.Builder
		s.Evaluation.WriteText(&b, r.receiver, l)
		sc.Trace = b.String()
		out.SPF = &sc
	}
	return &out
}

// shown makes a stranger's string one bounded line of evidence.
func shown(s string) string { return untrusted.Line(s, 300) }

// budget is a Resolver that counts questions and refuses past max.
type budget struct {
	r dnsx.Resolver
	// raw is the resolver under the tally, for what only it can do
	// (TXTStringer).
	raw       dnsx.Resolver
	max       int64
	n         atomic.Int64
	exhausted atomic.Bool
}

func (b *budget) spend(name, typ string) error {
	if b.n.Add(1) > b.max {
		b.exhausted.Store(true)
		return &dnsx.Error{Name: name, Type: typ, Kind: dnsx.ServFail, Detail: "lookup budget of this check exhausted"}
	}
	return nil
}

func (b *budget) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if err := b.spend(name, "TXT"); err != nil {
		return nil, err
	}
	return b.r.LookupTXT(ctx, name)
}

func (b *budget) LookupIP(ctx context.Context, network, name string) ([]netip.Addr, error) {
	if err := b.spend(name, "A"); err != nil {
		return nil, err
	}
	return b.r.LookupIP(ctx, network, name)
}

func (b *budget) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	if err := b.spend(name, "MX"); err != nil {
		return nil, err
	}
	return b.r.LookupMX(ctx, name)
}

func (b *budget) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	if err := b.spend(addr.String(), "PTR"); err != nil {
		return nil, err
	}
	return b.r.LookupAddr(ctx, addr)
}

// txtStrings returns the character-strings of name's TXT records when the
// resolver can tell them apart.
func (b *budget) txtStrings(ctx context.Context, name string) ([][]string, bool) {
	ts, ok := b.raw.(dnsx.TXTStringer)
	if !ok || b.spend(name, "TXT") != nil {
		return nil, false
	}
	strs, err := ts.LookupTXTStrings(ctx, name)
	return strs, err == nil
}

// checker is an SPF checker over the budget.
func (l *linter) spfChecker() *spf.Checker {
	return &spf.Checker{Resolver: l.r, Receiver: l.receiver}
}

// bimi checks the domain's BIMI setup. BIMI is optional: a domain
// without a record gets one piece of information; one with a record
// gets each finding, as an error where the logo would not show.
func (l *linter) bimi(ctx context.Context, c *bimi.Checker, d *DMARCReport) *bimi.Result {
	bc := *c
	bc.Resolver = l.r
	res := bc.Check(ctx, bimi.Input{Domain: l.domain, OrgDomain: d.OrgDomain.Domain, DMARC: bimi.EnforcementOf(d.Domain, d.Org)})
	if res.Record == "" && !res.TesterFailure {
		l.add("bimi", Info, m("lint.bimi.none", res.RecordName), m("lint.bimi.none.fix"))
		return res
	}
	for _, f := range res.Findings {
		sev := Info
		switch f.Severity {
		case bimi.Error:
			sev = Error
		case bimi.Warning:
			sev = Warning
		}
		l.add("bimi", sev, f.Message, f.Fix)
	}
	return res
}
