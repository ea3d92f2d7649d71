// Package explain turns a verdict into its one diagnosis: everything a
// person reads about it, in their language. The findings come from the
// sender-requirements report (for spf@ and dkim@, from the part of it
// their probe measures: requirements.Auth); what each mailbox provider
// would do, with its documented reply, comes from the same report; the
// headline is derived from the providers; the steps are the findings'
// fixes, with the exact records to publish, ordered by what the receivers
// would refuse first, each saying which providers it unblocks and the
// points it wins back; the score out of 10 is the findings' published
// weights (Weights). The page, the reply, the JSON and testerd check all
// render this one value, so none can disagree with another. It reads only
// the verdict, so a stored verdict is diagnosed again in any language;
// every sentence comes from the i18n catalog.
package explain

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/requirements"
)

// Status colours a line: good, so-so or bad.
type Status string

const (
	OK   Status = "ok"
	Soso Status = "soso"
	Bad  Status = "bad"
)

// Record is a DNS record to publish.
type Record struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Zone is the record as a zone-file line.
func (r Record) Zone() string {
	return fmt.Sprintf("%s. IN %s %q", r.Name, r.Type, r.Value)
}

// Provider is what one mailbox provider would do with the message.
type Provider struct {
	Name    string               `json:"name"`
	Outcome requirements.Outcome `json:"outcome"`
	Status  Status               `json:"status"`
	// Words is the outcome in the reader's language.
	Words string `json:"words"`
	// Code and Text are the reply it would send first, as it documents
	// it (its own words, not translated): "421-4.7.23" and its text.
	Code string `json:"code,omitempty"`
	Text string `json:"text,omitempty"`
	// Because are the findings it answers so for (Finding.ID).
	Because []string `json:"because"`
	// Note is what its rules ask that one message cannot show, or where
	// its own tools are, in the reader's language.
	Note string `json:"note,omitempty"`
}

// Severity of a finding.
type Severity string

const (
	// Blocking: some provider refuses (or junks) the message for it.
	Blocking Severity = "blocking"
	// Warning: no provider is known to refuse for it alone.
	Warning Severity = "warning"
)

// Finding is one thing wrong with the message.
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Title names the requirement; Problem says what is wrong, true for
	// this message.
	Title   string `json:"title"`
	Problem string `json:"problem"`
	// Providers are those that refuse, defer or junk the message because
	// of it (and Codes their codes for it, Gmail's where it has one).
	Providers []string `json:"providers"`
	Code      string   `json:"code,omitempty"`
	// Points are what it costs the score (Weights).
	Points float64 `json:"points"`
}

// Step is one thing to change.
type Step struct {
	Text   string  `json:"text"`
	Record *Record `json:"record,omitempty"`
	// Fixes are the findings the step addresses (Finding.ID).
	Fixes []string `json:"fixes"`
	// Unblocks names the providers that refuse the message for those
	// findings.
	Unblocks []string `json:"unblocks"`
	// Points are what the score wins back once the step is done.
	Points float64 `json:"points"`
}

// Score is the diagnosis as a mark out of Max: Max less the points of
// every finding.
type Score struct {
	Value float64 `json:"value"`
	Max   float64 `json:"max"`
}

// Diagnosis is everything a person reads about one verdict, in one
// language.
type Diagnosis struct {
	Lang   i18n.Lang `json:"lang"`
	Kind   kind.Kind `json:"kind"`
	Status Status    `json:"status"`
	// Headline says what the providers would do; Result says what the
	// tester found, in one sentence.
	Headline  string     `json:"headline"`
	Result    string     `json:"result"`
	Score     Score      `json:"score"`
	Providers []Provider `json:"providers"`
	Findings  []Finding  `json:"findings"`
	Steps     []Step     `json:"steps"`
	Warnings  []string   `json:"warnings,omitempty"`
	Notes     []string   `json:"notes,omitempty"`
	// TesterFailure: testerd's own DNS failed; the diagnosis says nothing
	// about the sender.
	TesterFailure bool `json:"tester_failure,omitempty"`
}

// Options are what a diagnosis needs beyond the verdict.
type Options struct {
	Lang i18n.Lang
	// TesterDomain receives DMARC reports at rua@ (the record to publish
	// points there).
	TesterDomain string
}

// Diagnose makes the diagnosis of v in o.Lang.
func Diagnose(v *verify.Verdict, o Options) *Diagnosis {
	if o.Lang == "" {
		o.Lang = i18n.Default
	}
	x := &explainer{v: v, o: o, l: o.Lang, d: &Diagnosis{Lang: o.Lang, Kind: v.Kind, Score: Score{Max: MaxScore},
		Providers: []Provider{}, Findings: []Finding{}, Steps: []Step{}}}
	x.run()
	return x.d
}

type explainer struct {
	v   *verify.Verdict
	o   Options
	l   i18n.Lang
	d   *Diagnosis
	rep *requirements.Report
}

func (x *explainer) t(key string, args ...any) string { return x.l.Say(i18n.M(key, args...)) }

// tn is t for a sentence about n providers: its "-one" form for one.
func (x *explainer) tn(key string, n int, args ...any) string {
	if n == 1 {
		key += "-one"
	}
	return x.l.Say(i18n.M(key, args...))
}
func (x *explainer) say(m i18n.Msg) string { return x.l.Say(m) }

func (x *explainer) run() {
	v := x.v
	x.d.Result = x.result()
	if !v.TesterFailure.IsZero() {
		x.d.TesterFailure, x.d.Status = true, Bad
		x.d.Headline = x.t("head.tester-failure")
		x.d.Notes = append(x.d.Notes, x.t("note.tester-failure"))
		x.d.Score.Value = 0
		return
	}
	x.rep = v.Requirements
	if x.rep == nil || v.Kind != kind.Check {
		// spf@ and dkim@: what their probe measures.
		x.rep = requirements.Auth(v.SPF, v.DKIM, v.DMARC, v.From)
	}
	x.providers()
	x.findings()
	x.steps()
	x.headline()
	x.warnings()
	if d := v.DMARC; d != nil {
		if !d.AuthorNote.IsZero() {
			x.d.Notes = append(x.d.Notes, x.t("note.authors", d.AuthorNote))
		}
		if d.RFC7489 != nil && v.Kind == kind.Check {
			x.d.Notes = append(x.d.Notes, x.t("note.rfc7489", d.RFC7489.Note))
		}
	}
	if v.Kind != kind.Check {
		x.d.Notes = append(x.d.Notes, x.t("note.measured", string(v.Kind)))
	}
}

// providers renders the report's provider verdicts.
func (x *explainer) providers() {
	for _, p := range x.rep.Providers {
		code, text := splitReply(p.Reply)
		st := OK
		switch p.Outcome {
		case requirements.RefuseBulk:
			st = Soso
		case requirements.Junk, requirements.Defer, requirements.Refuse:
			st = Bad
		}
		note := ""
		if i := slices.IndexFunc(requirements.Providers, func(r requirements.Provider) bool { return r.Name == p.Provider }); i >= 0 && requirements.Providers[i].Note != "" {
			note = x.t(requirements.Providers[i].Note)
		}
		x.d.Providers = append(x.d.Providers, Provider{Name: p.Provider, Outcome: p.Outcome, Status: st,
			Words: x.t("prov." + string(p.Outcome)), Code: code, Text: text, Because: p.Because, Note: note})
	}
	if len(x.rep.Providers) == 0 {
		return
	}
	// The providers that publish no rules are named too: their absence
	// would read as acceptance.
	for _, u := range requirements.Unpublished {
		x.d.Providers = append(x.d.Providers, Provider{Name: u.Name, Outcome: requirements.Unknown, Status: Soso,
			Words: x.t("prov." + string(requirements.Unknown)), Because: []string{}, Note: x.t(u.Note)})
	}
}

// splitReply splits a reply into its codes and its text: "421-4.7.23
// The …" or "550 5.7.515 Access …".
func splitReply(r string) (code, text string) {
	f := strings.Fields(r)
	switch {
	case len(f) == 0:
		return "", ""
	case len(f) > 1 && len(f[0]) == 3 && strings.Count(f[1], ".") == 2:
		code = f[0] + " " + f[1]
	default:
		code = f[0]
	}
	return code, strings.TrimSpace(strings.TrimPrefix(r, code))
}

// findings are the failed and warned requirements, each with the
// providers that answer for it and its points.
func (x *explainer) findings() {
	lost := 0.0
	for _, it := range x.rep.Items {
		if it.Status != requirements.Fail && it.Status != requirements.Warn {
			continue
		}
		f := Finding{ID: it.ID, Severity: Warning, Title: x.t("req." + it.ID), Problem: x.say(it.Problem), Code: it.Code, Providers: []string{}}
		if f.Problem == "" {
			f.Problem = f.Title
		}
		for _, p := range x.d.Providers {
			if slices.Contains(p.Because, it.ID) {
				f.Providers = append(f.Providers, p.Name)
			}
		}
		if it.Status == requirements.Fail && len(f.Providers) > 0 {
			f.Severity = Blocking
		}
		f.Points = Points(it.ID, it.Status)
		lost += f.Points
		x.d.Findings = append(x.d.Findings, f)
	}
	x.d.Score.Value = math.Max(0, math.Round((MaxScore-lost)*10)/10)
}

// finding returns the finding with id.
func (x *explainer) finding(id string) (Finding, bool) {
	for _, f := range x.d.Findings {
		if f.ID == id {
			return f, true
		}
	}
	return Finding{}, false
}

// headline says what the providers would do, from the worst answer down.
func (x *explainer) headline() {
	var refuse, junk, bulk []string
	var first *Provider
	for i, p := range x.d.Providers {
		switch p.Outcome {
		case requirements.Refuse, requirements.Defer:
			refuse = append(refuse, p.Name)
			if first == nil {
				first = &x.d.Providers[i]
			}
		case requirements.Junk:
			junk = append(junk, p.Name)
		case requirements.RefuseBulk:
			bulk = append(bulk, p.Name)
		}
	}
	why := func(p *Provider) string {
		if len(p.Because) == 0 {
			return ""
		}
		f, ok := x.finding(p.Because[0])
		if !ok {
			return ""
		}
		return f.Problem
	}
	switch {
	case len(refuse) > 0:
		x.d.Status = Bad
		if first.Code != "" {
			x.d.Headline = x.tn("head.refused-code", len(refuse), x.names(refuse), first.Name, first.Code, why(first))
		} else {
			x.d.Headline = x.tn("head.refused", len(refuse), x.names(refuse), why(first))
		}
	case len(junk) > 0:
		x.d.Status = Bad
		p := x.provider(junk[0])
		x.d.Headline = x.tn("head.junk", len(junk), x.names(junk), why(p))
	}
	if x.d.Status == Bad && len(bulk) > 0 {
		// The rest would refuse it in bulk: as true, and as the person
		// choosing between providers needs to hear.
		x.d.Headline += " " + x.tn("head.also-bulk", len(bulk), x.names(bulk))
	}
	switch {
	case x.d.Status == Bad:
	case len(bulk) > 0:
		x.d.Status = Soso
		p := x.provider(bulk[0])
		x.d.Headline = x.tn("head.bulk", len(bulk), x.names(bulk), why(p))
	default:
		x.d.Status = OK
		if len(x.d.Findings) > 0 {
			x.d.Status = Soso
		}
		x.d.Headline = x.t("head.accepted", x.names(x.allNames()))
	}
}

func (x *explainer) provider(name string) *Provider {
	for i := range x.d.Providers {
		if x.d.Providers[i].Name == name {
			return &x.d.Providers[i]
		}
	}
	return &Provider{}
}

func (x *explainer) allNames() []string {
	var out []string
	for _, p := range x.d.Providers {
		if p.Outcome != requirements.Unknown { // no rules, no acceptance
			out = append(out, p.Name)
		}
	}
	return out
}

// names joins provider names as the language does: "Gmail, Yahoo/AOL e
// iCloud Mail".
func (x *explainer) names(ns []string) string {
	switch len(ns) {
	case 0:
		return ""
	case 1:
		return ns[0]
	}
	return x.t("word.and-list", strings.Join(ns[:len(ns)-1], ", "), ns[len(ns)-1])
}

// WriteText writes the diagnosis as plain text, for the reply body and
// testerd check.
func (d *Diagnosis) WriteText(w io.Writer) {
	l := d.Lang
	fmt.Fprintf(w, "%s\n", d.Headline)
	if d.Result != "" && !d.TesterFailure {
		fmt.Fprintf(w, "%s\n", d.Result)
	}
	if !d.TesterFailure {
		fmt.Fprintf(w, "\n%s\n", l.T("label.score", l.Decimal(d.Score.Value), l.Decimal(d.Score.Max)))
	}
	for _, n := range d.Notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	for _, wn := range d.Warnings {
		fmt.Fprintf(w, "\n%s %s\n", l.T("label.warning"), wn)
	}
	if len(d.Providers) > 0 {
		fmt.Fprintf(w, "\n%s\n", l.T("label.providers"))
		for _, p := range d.Providers {
			fmt.Fprintf(w, "- %s: %s\n", p.Name, p.Words)
			if p.Code != "" {
				// The provider's own words, quoted as it writes them.
				fmt.Fprintf(w, "  %s “%s”\n", p.Code, p.Text)
			}
			if p.Note != "" {
				fmt.Fprintf(w, "  %s\n", p.Note)
			}
		}
	}
	if len(d.Steps) > 0 {
		fmt.Fprintf(w, "\n%s\n", l.T("label.steps"))
		for i, st := range d.Steps {
			fmt.Fprintf(w, "%d. %s\n", i+1, st.Text)
			if r := st.Record; r != nil {
				fmt.Fprintf(w, "   %s\n", r.Zone())
			}
			if len(st.Unblocks) > 0 || st.Points > 0 {
				fmt.Fprintf(w, "   (%s)\n", d.stepGain(st))
			}
		}
	}
}

// stepGain says what a step wins: "+2 points; unblocks Gmail, Yahoo/AOL".
func (d *Diagnosis) stepGain(st Step) string {
	l := d.Lang
	var parts []string
	switch {
	case st.Points == 1:
		parts = append(parts, l.T("label.gain-one"))
	case st.Points > 0:
		parts = append(parts, l.T("label.gain", l.Decimal(st.Points)))
	}
	if len(st.Unblocks) > 0 {
		parts = append(parts, l.T("label.unblocks", strings.Join(st.Unblocks, ", ")))
	}
	return strings.Join(parts, "; ")
}

// Gain is stepGain for templates.
func (d *Diagnosis) Gain(st Step) string { return d.stepGain(st) }
