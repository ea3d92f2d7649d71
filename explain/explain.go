// Package explain turns a verdict into the short summary a non-expert reads
// first, on the result page and at the top of the reply: what happened,
// what Gmail, Yahoo and Outlook.com would do with such a message (with the
// bounce they would send), what to change, with the exact DNS record to
// publish where one can be computed, and warnings about passes that mean
// little. It reads only the verdict, so a summary can be made again for a
// stored verdict in any language; every sentence comes from the i18n
// catalog.
package explain

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/spf"
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

// Step is one thing to change.
type Step struct {
	Text   string  `json:"text"`
	Record *Record `json:"record,omitempty"`
}

// Provider is what one mailbox provider would do with the message.
type Provider struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Outcome string `json:"outcome"`
	// Bounce is the reply it would most likely send, when it refuses.
	Bounce string `json:"bounce,omitempty"`
}

// Summary is the plain summary of one verdict.
type Summary struct {
	Lang      i18n.Lang  `json:"lang"`
	Status    Status     `json:"status"`
	Headline  string     `json:"headline"`
	Warnings  []string   `json:"warnings,omitempty"`
	Providers []Provider `json:"providers"`
	Steps     []Step     `json:"steps,omitempty"`
	Notes     []string   `json:"notes,omitempty"`
}

// Options are what a summary needs beyond the verdict.
type Options struct {
	Lang i18n.Lang
	// TesterDomain receives DMARC reports at rua@ (the record to publish
	// points there).
	TesterDomain string
}

// MaxSteps bounds the steps shown: the first ones matter most.
const MaxSteps = 6

// Summarize explains v in o.Lang.
func Summarize(v *verify.Verdict, o Options) *Summary {
	if o.Lang == "" {
		o.Lang = i18n.EN
	}
	x := &explainer{v: v, o: o, l: o.Lang, s: &Summary{Lang: o.Lang}}
	x.run()
	if len(x.s.Steps) > MaxSteps {
		x.s.Steps = x.s.Steps[:MaxSteps]
	}
	return x.s
}

type explainer struct {
	v *verify.Verdict
	o Options
	l i18n.Lang
	s *Summary
}

func (x *explainer) t(key string, args ...any) string { return x.l.T(key, args...) }

func (x *explainer) step(text string, r *Record) {
	x.s.Steps = append(x.s.Steps, Step{Text: text, Record: r})
}

func (x *explainer) run() {
	v := x.v
	if v.TesterFailure != "" {
		x.s.Status = Bad
		x.s.Headline = x.t("head.tester-failure")
		x.s.Notes = append(x.s.Notes, x.t("note.tester-failure"))
		return
	}
	switch v.Kind {
	case kind.SPF:
		x.spfHeadline()
		x.spfSteps()
		x.alignSteps(true, false)
	case kind.DKIM:
		x.dkimHeadline()
		x.dkimSteps()
		x.alignSteps(false, true)
	default:
		x.dmarcHeadline()
		x.spfSteps()
		x.dkimSteps()
		x.alignSteps(true, true)
		x.dmarcSteps()
	}
	x.warnings()
	x.providers()
	if d := v.DMARC; d != nil {
		if d.AuthorNote != "" {
			x.s.Notes = append(x.s.Notes, x.t("note.authors", d.AuthorNote))
		}
		if d.RFC7489 != nil && v.Kind == kind.Check {
			x.s.Notes = append(x.s.Notes, x.t("note.rfc7489", d.RFC7489.Note))
		}
	}
}

// Identities.

func (x *explainer) spfEval() *spf.Evaluation { return x.v.SPF.Effective() }

func (x *explainer) from() string {
	if x.v.From.Domain != "" {
		return x.v.From.Domain
	}
	return x.t("word.no-from")
}

func (x *explainer) passing() (sigs []*dkim.Signature) {
	for _, s := range x.v.DKIM.Signatures {
		if s.Result == dkim.Pass {
			sigs = append(sigs, s)
		}
	}
	return sigs
}

// best is the signature a summary talks about: an aligned pass, a pass,
// else the first.
func (x *explainer) best() *dkim.Signature {
	sigs := x.v.DKIM.Signatures
	if len(sigs) == 0 {
		return nil
	}
	for i, s := range sigs {
		if s.Result == dkim.Pass && x.v.DMARC.DKIM[i].Aligned {
			return s
		}
	}
	if p := x.passing(); len(p) > 0 {
		return p[0]
	}
	for _, r := range []dkim.Result{dkim.Fail, dkim.TempError, dkim.Invalid} {
		for _, s := range sigs {
			if s.Result == r {
				return s
			}
		}
	}
	return sigs[0]
}

// Headlines.

func (x *explainer) spfHeadline() {
	e, d := x.spfEval(), x.v.DMARC
	ip := x.v.Envelope.IP.String()
	switch {
	case e.Result == spf.Pass && d.SPFAligned:
		x.s.Status, x.s.Headline = OK, x.t("head.spf.pass", ip, e.Domain)
	case e.Result == spf.Pass:
		x.s.Status, x.s.Headline = Soso, x.t("head.spf.pass-unaligned", e.Domain, x.from())
	case e.Result == spf.Fail || e.Result == spf.SoftFail:
		x.s.Status, x.s.Headline = Bad, x.t("head.spf.fail", string(e.Result), ip, e.Domain)
	case e.Result == spf.Neutral:
		x.s.Status, x.s.Headline = Bad, x.t("head.spf.neutral", e.Domain, ip)
	case e.Result == spf.None:
		x.s.Status, x.s.Headline = Bad, x.t("head.spf.none", e.Domain)
	case e.Result == spf.PermError:
		x.s.Status, x.s.Headline = Bad, x.t("head.spf.permerror", e.Domain)
	default:
		x.s.Status, x.s.Headline = Bad, x.t("head.spf.temperror", e.Domain)
	}
}

func (x *explainer) dkimHeadline() {
	s := x.best()
	switch {
	case s == nil:
		x.s.Status, x.s.Headline = Bad, x.t("head.dkim.none")
	case s.Result == dkim.Pass && x.v.DMARC.DKIMAligned:
		x.s.Status, x.s.Headline = OK, x.t("head.dkim.pass", s.Domain)
	case s.Result == dkim.Pass:
		x.s.Status, x.s.Headline = Soso, x.t("head.dkim.pass-unaligned", s.Domain, x.from())
	case s.Result == dkim.Fail && failed(s, dkim.CheckBodyHash):
		x.s.Status, x.s.Headline = Bad, x.t("head.dkim.body", s.Domain)
	case s.Result == dkim.Fail:
		x.s.Status, x.s.Headline = Bad, x.t("head.dkim.header", s.Domain)
	case s.Result == dkim.TempError:
		x.s.Status, x.s.Headline = Bad, x.t("head.dkim.temperror", s.Domain)
	default:
		x.s.Status, x.s.Headline = Bad, x.t("head.dkim.invalid", orDash(s.Domain), s.Reason)
	}
}

func (x *explainer) dmarcHeadline() {
	d := x.v.DMARC
	switch {
	case d.FromDomain == "":
		x.s.Status, x.s.Headline = Bad, x.t("head.dmarc.no-from", x.v.From.Problem)
	case d.Result == dmarc.Pass:
		x.s.Status, x.s.Headline = OK, x.t("head.dmarc.pass", d.FromDomain)
	case d.Result == dmarc.None && d.Discovery != nil && d.Discovery.Syntax != nil:
		x.s.Status, x.s.Headline = Bad, x.t("head.dmarc.unusable", d.FromDomain)
	case d.Result == dmarc.None && (d.SPFAligned || d.DKIMAligned):
		x.s.Status, x.s.Headline = Soso, x.t("head.dmarc.none-aligned", d.FromDomain)
	case d.Result == dmarc.None:
		x.s.Status, x.s.Headline = Bad, x.t("head.dmarc.none", d.FromDomain)
	case d.Result == dmarc.Fail:
		x.s.Status, x.s.Headline = Bad, x.t("head.dmarc.fail", d.FromDomain, x.t("disp."+string(d.Disposition)))
	case d.Discovery != nil && d.Discovery.Result == dmarc.TempError:
		x.s.Status, x.s.Headline = Bad, x.t("head.dmarc.temperror", d.FromDomain)
	default:
		x.s.Status, x.s.Headline = Bad, x.t("head.dmarc.temperror-check", d.FromDomain, x.tempVia())
	}
}

// Steps.

func (x *explainer) spfSteps() {
	e := x.spfEval()
	if e == nil {
		return
	}
	ip := x.v.Envelope.IP
	switch e.Result {
	case spf.Fail, spf.SoftFail, spf.Neutral:
		rec, err := spf.Parse(e.Record)
		if err != nil {
			return
		}
		x.authorize(e, rec, ip, "step.spf.authorize")
	case spf.None:
		rec, _ := spf.Parse("v=spf1 ~all")
		x.authorize(e, rec, ip, "step.spf.publish")
	case spf.PermError:
		x.spfPermError(e)
	case spf.TempError:
		x.step(x.t("step.spf.temperror", e.Domain), nil)
	}
}

// authorize proposes rec with the sending service's include (when the HELO
// name says which one) or the sending IP added.
func (x *explainer) authorize(e *spf.Evaluation, rec *spf.Record, ip netip.Addr, key string) {
	term, service := "", ""
	if sv, ok := KnownService(x.v.Envelope.Helo); ok {
		term, service = "include:"+sv.Include, sv.Name
	}
	var out *spf.Record
	var err error
	if term != "" {
		out, _, err = rec.Authorize(term)
	} else {
		out, _, err = rec.AuthorizeIP(ip)
	}
	if err != nil || out == nil {
		return
	}
	r := &Record{Name: e.Domain, Type: "TXT", Value: out.String()}
	who := ip.String()
	if service != "" {
		who = service
	}
	x.step(x.t(key, who, e.Domain), r)
	if n := e.DNSTerms + 1; service != "" && n > spf.MaxDNSTerms {
		x.step(x.t("step.spf.over-limit", n, spf.MaxDNSTerms), nil)
	}
}

func (x *explainer) spfPermError(e *spf.Evaluation) {
	p := e.Problem
	switch {
	case p.Is(spf.ErrMultipleRecords):
		var recs []*spf.Record
		if e.Trace != nil && e.Trace.Query != nil {
			for _, a := range e.Trace.Query.Answers {
				if r, err := spf.Parse(a); err == nil {
					recs = append(recs, r)
				}
			}
		}
		if len(recs) < 2 {
			x.step(x.t("step.spf.multiple", e.Domain), nil)
			return
		}
		m := spf.Merge(recs)
		x.step(x.t("step.spf.merge", len(recs), e.Domain), &Record{Name: e.Domain, Type: "TXT", Value: m.String()})
		if m.DNSTerms() > spf.MaxDNSTerms {
			x.step(x.t("step.spf.over-limit", m.DNSTerms(), spf.MaxDNSTerms), nil)
		}
	case p.Is(spf.ErrLookupLimit):
		var costs []string
		for _, c := range LookupCosts(e) {
			costs = append(costs, fmt.Sprintf("%s (%d)", c.Term, c.Lookups))
		}
		x.step(x.t("step.spf.lookups", spf.MaxDNSTerms, strings.Join(costs, ", ")), nil)
	case p.Is(spf.ErrVoidLimit):
		x.step(x.t("step.spf.void", e.Domain), nil)
	case p != nil:
		where := p.Domain
		if p.Term != "" {
			where = fmt.Sprintf("%s (%s)", p.Term, p.Domain)
		}
		x.step(x.t("step.spf.fix", where, p.Reason), nil)
	}
}

func (x *explainer) dkimSteps() {
	if len(x.v.DKIM.Signatures) == 0 {
		x.step(x.t("step.dkim.sign", x.from()), nil)
		return
	}
	if len(x.passing()) > 0 {
		return
	}
	s := x.best()
	switch {
	case s.Result == dkim.Fail && failed(s, dkim.CheckBodyHash):
		x.step(x.t("step.dkim.body"), nil)
	case s.Result == dkim.Fail:
		key := ""
		if s.Key != nil {
			key = s.Key.Name
		}
		x.step(x.t("step.dkim.header", orDash(key)), nil)
	case s.Result == dkim.TempError:
		x.step(x.t("step.dkim.temperror", s.Domain), nil)
	case s.Problem != nil && s.Problem.In == "dns" && s.Selector != "" && s.Domain != "":
		x.step(x.t("step.dkim.publish", s.Selector+"._domainkey."+s.Domain), nil)
	default:
		x.step(x.t("step.dkim.invalid", s.Reason), nil)
	}
}

// alignSteps: a pass that does not count for DMARC.
func (x *explainer) alignSteps(spfSide, dkimSide bool) {
	d := x.v.DMARC
	if d.FromDomain == "" || d.SPFAligned || d.DKIMAligned {
		return
	}
	e := x.spfEval()
	if spfSide && e.Result == spf.Pass && !d.SPF.DomainAligned {
		x.step(x.t("step.align.spf", e.Domain, d.FromDomain), nil)
	}
	if dkimSide {
		for _, s := range x.passing() {
			x.step(x.t("step.align.dkim", s.Domain, d.FromDomain), nil)
			break
		}
	}
}

func (x *explainer) dmarcSteps() {
	d := x.v.DMARC
	if d.FromDomain == "" {
		x.step(x.t("step.from", x.v.From.Problem), nil)
		return
	}
	org := d.OrgDomain
	rua := "rua@" + x.o.TesterDomain
	switch {
	case d.Result == dmarc.None && d.Discovery != nil && d.Discovery.Syntax != nil:
		x.step(x.t("step.dmarc.fix", d.Discovery.Syntax.Reason, rua), &Record{Name: "_dmarc." + d.Discovery.Domain, Type: "TXT", Value: "v=DMARC1; p=none; rua=mailto:" + rua})
		x.step(x.t("step.dmarc.later"), nil)
	case d.Result == dmarc.None:
		x.step(x.t("step.dmarc.publish", rua), &Record{Name: "_dmarc." + org, Type: "TXT", Value: "v=DMARC1; p=none; rua=mailto:" + rua})
		x.step(x.t("step.dmarc.later"), nil)
	case d.Result == dmarc.TempError && d.Discovery != nil && d.Discovery.Result == dmarc.TempError:
		x.step(x.t("step.dmarc.temperror", org), nil)
	case d.Result == dmarc.Pass:
		if d.Policy == dmarc.PolicyNone {
			x.step(x.t("step.dmarc.later"), nil)
		}
	}
	if rec := x.record(); rec != nil {
		for _, u := range rec.RUA {
			host, ok := dmarc.ReportHost(u)
			if !ok || dmarc.PSLOrgDomain(host) == dmarc.PSLOrgDomain(d.Discovery.Domain) || host == x.o.TesterDomain {
				continue // the tester authorizes every domain (testerd dns-records)
			}
			name := d.Discovery.Domain + "._report._dmarc." + host
			x.step(x.t("step.dmarc.external", u, host), &Record{Name: name, Type: "TXT", Value: "v=DMARC1"})
			break
		}
	}
}

// tempVia names the aligned check that ended in temperror and so left
// DMARC at temperror: "SPF (domain)" or "DKIM (d=domain)".
func (x *explainer) tempVia() string {
	d := x.v.DMARC
	if e := x.spfEval(); e != nil && e.Result == spf.TempError && d.SPF.DomainAligned {
		return "SPF (" + d.SPF.Domain + ")"
	}
	for i, s := range x.v.DKIM.Signatures {
		if s.Result == dkim.TempError && i < len(d.DKIM) && d.DKIM[i].DomainAligned {
			return "DKIM (d=" + s.Domain + ")"
		}
	}
	return "DNS"
}

func (x *explainer) record() *dmarc.Record {
	if d := x.v.DMARC; d != nil && d.Discovery != nil {
		return d.Discovery.Record
	}
	return nil
}

// Warnings: passes that mean little.
func (x *explainer) warnings() {
	if term, domain, ok := x.spfEval().AuthorizesAnyone(); ok {
		x.s.Warnings = append(x.s.Warnings, x.t("warn.spf-anyone", term, domain, x.spfEval().Domain))
	}
	for _, s := range x.passing() {
		if k := s.Key; k != nil && k.Type == "rsa" && k.Bits < 2048 {
			x.s.Warnings = append(x.s.Warnings, x.t("warn.dkim-weak", k.Name, strconv.Itoa(k.Bits)))
		}
	}
	if len(x.v.DMARC.DKIM) > 0 || x.v.Kind == kind.Check {
		if r := x.record(); r != nil && r.Testing {
			x.s.Warnings = append(x.s.Warnings, x.t("warn.dmarc-testing"))
		}
	}
}

func failed(s *dkim.Signature, check string) bool {
	for _, f := range s.Failed {
		if f == check {
			return true
		}
	}
	return false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteText writes the summary as plain text, for the reply body.
func (s *Summary) WriteText(w io.Writer) {
	l := s.Lang
	fmt.Fprintf(w, "%s\n", s.Headline)
	for _, n := range s.Notes {
		fmt.Fprintf(w, "\n%s\n", n)
	}
	for _, wn := range s.Warnings {
		fmt.Fprintf(w, "\n%s %s\n", l.T("label.warning"), wn)
	}
	if len(s.Providers) > 0 {
		fmt.Fprintf(w, "\n%s\n", l.T("label.providers"))
		for _, p := range s.Providers {
			fmt.Fprintf(w, "- %s: %s\n", p.Name, p.Outcome)
			if p.Bounce != "" {
				fmt.Fprintf(w, "  %s\n", p.Bounce)
			}
		}
	}
	if len(s.Steps) > 0 {
		fmt.Fprintf(w, "\n%s\n", l.T("label.steps"))
		for i, st := range s.Steps {
			fmt.Fprintf(w, "%d. %s\n", i+1, st.Text)
			if r := st.Record; r != nil {
				fmt.Fprintf(w, "   %s\n", r.Zone())
			}
		}
	}
}
