package dmarc

import (
	"context"
	"strings"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
)

// MaxWalkQueries is RFC 9989's bound on one DNS Tree Walk (§4.10): the
// domain itself, then at most seven shorter names.
const MaxWalkQueries = 8

// MaxNames bounds the distinct _dmarc names one Walker asks: the From
// domain's walk and one for each identifier to align (SPF, up to
// dkim.MaxSignatures signing domains), sharing what they have in common.
const MaxNames = 48

// WalkTargets returns the names a DNS Tree Walk asks for a domain, in
// order (RFC 9989 §4.10): the domain; then, if it has eight labels or more,
// its last seven; then one label fewer each time, down to the top-level
// domain. So a.mail.example.com gives a.mail.example.com, mail.example.com,
// example.com and com.
func WalkTargets(domain string) []string {
	d := normalize(domain)
	if d == "" {
		return nil
	}
	labels := strings.Split(d, ".")
	out := []string{d}
	n := min(len(labels), MaxWalkQueries)
	for k := n - 1; k >= 1; k-- {
		out = append(out, strings.Join(labels[len(labels)-k:], "."))
	}
	return out
}

// level is what one _dmarc name holds.
type level struct {
	query Query
	// rec is the one usable DMARC record; syntax is set instead when the
	// one record cannot be used.
	rec    *Record
	syntax *SyntaxError
	// transient: the lookup failed for a reason that may pass.
	transient bool
	// discarded says why the TXT records here do not count.
	discarded i18n.Msg
	// skipped: MaxNames was reached and the name was not asked.
	skipped bool
}

// Walker asks _dmarc names for one evaluation and remembers the answers,
// so policy discovery and the organizational domains of several
// identifiers ask each name once. It is not safe for concurrent use.
type Walker struct {
	r      dnsx.Resolver
	levels map[string]*level
}

// NewWalker returns a Walker asking r.
func NewWalker(r dnsx.Resolver) *Walker {
	return &Walker{r: r, levels: map[string]*level{}}
}

// Asked is the number of distinct names asked so far.
func (w *Walker) Asked() int { return len(w.levels) }

func (w *Walker) lookup(ctx context.Context, domain string) *level {
	if l, ok := w.levels[domain]; ok {
		return l
	}
	name := "_dmarc." + domain
	l := &level{query: Query{Name: name}}
	if len(w.levels) >= MaxNames {
		l.skipped, l.query.Error = true, "not asked (the evaluation's lookup bound was reached)"
		return l
	}
	w.levels[domain] = l
	txts, err := w.r.LookupTXT(ctx, name)
	if err != nil {
		k := dnsx.KindOf(err)
		l.query.Error = k.String()
		l.transient = !dnsx.IsNotFound(err) && k != dnsx.BadName
		return l
	}
	var candidates []string
	for i, t := range txts {
		if i < MaxRecordsShown {
			l.query.Records = append(l.query.Records, clip(t))
		}
		switch {
		case IsDMARC(t):
			candidates = append(candidates, t)
		case LooksLikeDMARC(t):
			l.discarded = i18n.M("dmarc.not-dmarc", name, clip(t))
		}
	}
	switch len(candidates) {
	case 0:
	case 1:
		rec, err := Parse(candidates[0])
		if err != nil {
			l.syntax, _ = err.(*SyntaxError)
			if l.syntax == nil {
				l.syntax = &SyntaxError{Reason: i18n.Of(err)}
			}
		}
		l.rec = rec
	default:
		l.discarded = i18n.M("dmarc.two-records", name, len(candidates))
	}
	return l
}

// Discover finds the DMARC record that applies to domain (RFC 9989
// §4.10.1): the first name of the Tree Walk with exactly one DMARC record.
// A transient failure on the way is a temperror (the record might be
// there). A single record that cannot be used (no valid p= and no valid
// rua=, or not a tag list) ends the walk with none: RFC 9989 §4.10.1 says
// the receiver then applies no DMARC processing to the message; Syntax
// says why.
func (w *Walker) Discover(ctx context.Context, domain string) *Discovery {
	d := &Discovery{}
	targets := WalkTargets(domain)
	for i, t := range targets {
		l := w.lookup(ctx, t)
		d.Queries = append(d.Queries, l.query)
		if !l.discarded.IsZero() {
			d.Discarded = append(d.Discarded, l.discarded)
		}
		switch {
		case l.transient:
			d.Result = TempError
			d.Reason = i18n.M("dmarc.fetch", l.query.Name, l.query.Error)
			return d
		case l.syntax != nil:
			d.Domain, d.Inherited, d.Syntax = t, i > 0, l.syntax
			d.Result, d.Reason = None, i18n.M("dmarc.unusable", l.query.Name, l.syntax.Where())
			return d
		case l.rec != nil:
			d.Domain, d.Record, d.Inherited = t, l.rec, i > 0
			return d
		}
	}
	d.Result = None
	if len(targets) == 0 {
		d.Reason = i18n.M("dmarc.no-domain")
		return d
	}
	d.Reason = i18n.M("dmarc.none-at", targets[0])
	if len(targets) > 1 {
		d.Reason = i18n.M("dmarc.none-up", targets[0], targets[len(targets)-1], len(targets))
	}
	if len(d.Discarded) > 0 {
		d.Reason = i18n.M("dmarc.none-discarded", d.Reason, d.Discarded)
	}
	return d
}

// Org is the organizational domain of one domain and how it was found.
type Org struct {
	Domain string `json:"domain"`
	// By is "psd=n", "psd=y", "record" (the highest name on the walk
	// with a DMARC record) or "psl" (no record on the walk: the Public
	// Suffix List's registrable domain, as verdicts.md says).
	By string `json:"by"`
	// At is the _dmarc name that decided, for psd= and record.
	At string `json:"at,omitempty"`
	// PSL is the Public Suffix List's answer, set when it differs.
	PSL string `json:"psl,omitempty"`
	// Unsure lists names that could not be asked or answered, so the
	// walk may have missed a record.
	Unsure []string `json:"unsure,omitempty"`
}

// OrgDomain finds the organizational domain of domain by the DNS Tree Walk
// (RFC 9989 §4.10.2): a record with psd=n names it; psd=y makes it the name
// one label below the public suffix domain; otherwise it is the highest
// name on the walk that has a DMARC record. With no record on the walk,
// verdicts.md takes the Public Suffix List's registrable domain (where
// RFC 9989 alone would take the domain itself).
func (w *Walker) OrgDomain(ctx context.Context, domain string) Org {
	d := normalize(domain)
	targets := WalkTargets(d)
	var o Org
	found := ""
	for i, t := range targets {
		l := w.lookup(ctx, t)
		if l.transient || l.skipped {
			o.Unsure = append(o.Unsure, l.query.Name+": "+l.query.Error)
			continue
		}
		if l.rec == nil {
			continue
		}
		switch l.rec.PSD {
		case "n":
			o = Org{Domain: t, By: "psd=n", At: l.query.Name, Unsure: o.Unsure}
			return o.withPSL(d)
		case "y":
			org := t
			if i > 0 {
				org = lastLabels(d, strings.Count(t, ".")+2)
			}
			o = Org{Domain: org, By: "psd=y", At: l.query.Name, Unsure: o.Unsure}
			return o.withPSL(d)
		}
		found = t
	}
	if found != "" {
		o.Domain, o.By, o.At = found, "record", "_dmarc."+found
	} else {
		o.Domain, o.By = PSLOrgDomain(d), "psl"
	}
	return o.withPSL(d)
}

func (o Org) withPSL(domain string) Org {
	if p := PSLOrgDomain(domain); p != o.Domain {
		o.PSL = p
	}
	return o
}

// lastLabels returns the last n labels of d (all of them if it has fewer).
func lastLabels(d string, n int) string {
	labels := strings.Split(d, ".")
	if n >= len(labels) {
		return d
	}
	return strings.Join(labels[len(labels)-n:], ".")
}

// Aligned reports whether two domains align under mode (RFC 9989 §4.4):
// equal for strict; for relaxed, equal or with the same organizational
// domain by the Tree Walk.
func (w *Walker) Aligned(ctx context.Context, a, b string, mode Mode) bool {
	a, b = normalize(a), normalize(b)
	if a == "" || b == "" {
		return false
	}
	if a == b || mode == Strict {
		return a == b
	}
	return w.OrgDomain(ctx, a).Domain == w.OrgDomain(ctx, b).Domain
}
