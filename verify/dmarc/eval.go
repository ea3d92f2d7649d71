package dmarc

import (
	"context"
	"strings"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
)

// DKIMInput is one DKIM signature's result and signing domain.
type DKIMInput struct {
	Domain string
	Pass   bool
	// TempError: the key could not be fetched for a transient reason.
	TempError bool
}

// Input is what DMARC needs from the other checks.
type Input struct {
	// FromDomain is "" when the From header gave no single domain;
	// FromProblem then says why, and FromDomains lists the distinct
	// domains of a From header with several addresses.
	FromDomain  string
	FromProblem i18n.Msg
	FromDomains []string
	// SPFDomain is the identity SPF checked (the MAIL FROM domain, or the
	// HELO name for a null MAIL FROM); SPFResult is its result.
	SPFDomain string
	SPFResult string
	DKIM      []DKIMInput
}

// SPFAlignment is the SPF identifier's alignment.
type SPFAlignment struct {
	Domain string `json:"domain"`
	Mode   Mode   `json:"mode"`
	Pass   bool   `json:"pass"`
	// OrgDomain is the identifier's organizational domain.
	OrgDomain string `json:"org_domain,omitempty"`
	// DomainAligned: the domain aligns with From, whatever SPF said.
	DomainAligned bool `json:"domain_aligned"`
	// Aligned: SPF passed and the domain aligns (RFC 9989 §4.4.2).
	Aligned bool     `json:"aligned"`
	Reason  i18n.Msg `json:"reason"`
}

// DKIMAlignment is one signature's alignment.
type DKIMAlignment struct {
	Domain        string `json:"domain"`
	Pass          bool   `json:"pass"`
	OrgDomain     string `json:"org_domain,omitempty"`
	DomainAligned bool   `json:"domain_aligned"`
	Aligned       bool   `json:"aligned"`
}

// Legacy is what a receiver still on RFC 7489 concludes: discovery at the
// From domain then at its Public Suffix List organizational domain, PSL
// alignment, pct= applied and t= unknown. It is kept only where it
// differs from the RFC 9989 evaluation.
type Legacy struct {
	Result      Result `json:"result"`
	RecordAt    string `json:"record_at,omitempty"`
	OrgDomain   string `json:"org_domain"`
	SPFAligned  bool   `json:"spf_aligned"`
	DKIMAligned bool   `json:"dkim_aligned"`
	Disposition Policy `json:"disposition"`
	// Note says in words what differs and why.
	Note i18n.Msg `json:"note"`
}

// Evaluation is the DMARC verdict for one message.
type Evaluation struct {
	Result Result   `json:"result"`
	Reason i18n.Msg `json:"reason"`

	FromDomain string `json:"from_domain,omitempty"`
	OrgDomain  string `json:"org_domain,omitempty"`
	// Org says how OrgDomain was found (Tree Walk or Public Suffix List).
	Org       *Org       `json:"org,omitempty"`
	Discovery *Discovery `json:"discovery,omitempty"`
	// AuthorNote explains what was done with a From header of several
	// addresses (RFC 9989 §4.4).
	AuthorNote i18n.Msg `json:"author_note,omitzero"`

	SPF  SPFAlignment    `json:"spf"`
	DKIM []DKIMAlignment `json:"dkim"`
	// DKIMMode is the adkim= mode applied.
	DKIMMode Mode `json:"dkim_mode"`
	// SPFAligned and DKIMAligned sum up the identifiers.
	SPFAligned  bool `json:"spf_aligned"`
	DKIMAligned bool `json:"dkim_aligned"`

	// Policy is the published policy for this From domain (p=, sp= or
	// np=, named by PolicyTag); Disposition is what a receiver following
	// RFC 9989 would do with this message, and PolicyNote explains it.
	Policy      Policy   `json:"policy,omitempty"`
	PolicyTag   string   `json:"policy_tag,omitempty"`
	Disposition Policy   `json:"disposition"`
	PolicyNote  i18n.Msg `json:"policy_note"`

	// RFC7489 is set where a receiver still on RFC 7489 would conclude
	// something else.
	RFC7489 *Legacy `json:"rfc7489,omitempty"`
}

// Evaluate discovers the From domain's record by the Tree Walk and judges
// alignment. The result is pass only when a usable record applies and SPF
// or DKIM is aligned (RFC 9989 §4.8, RFC 8601 dmarc=pass: "a DMARC policy
// record was published for the aligned identifier").
func Evaluate(ctx context.Context, r dnsx.Resolver, in Input) *Evaluation {
	w := NewWalker(r)
	e := &Evaluation{FromDomain: normalize(in.FromDomain), DKIM: []DKIMAlignment{}}
	spfMode, dkimMode := Relaxed, Relaxed
	if e.FromDomain != "" {
		e.Discovery = w.Discover(ctx, e.FromDomain)
		org := w.OrgDomain(ctx, e.FromDomain)
		e.Org, e.OrgDomain = &org, org.Domain
		if rec := e.Discovery.Record; rec != nil {
			spfMode, dkimMode = rec.ASPF, rec.ADKIM
		}
	}
	e.DKIMMode = dkimMode
	e.AuthorNote = authorNote(in)

	s := &e.SPF
	s.Domain, s.Mode, s.Pass = normalize(in.SPFDomain), spfMode, in.SPFResult == "pass"
	if s.Domain != "" && e.FromDomain != "" {
		s.OrgDomain = w.OrgDomain(ctx, s.Domain).Domain
	}
	s.DomainAligned = w.Aligned(ctx, s.Domain, e.FromDomain, spfMode)
	s.Aligned = s.Pass && s.DomainAligned
	s.Reason = e.spfReason(in.SPFResult)
	e.SPFAligned = s.Aligned

	for _, d := range in.DKIM {
		a := DKIMAlignment{Domain: normalize(d.Domain), Pass: d.Pass}
		if a.Domain != "" && e.FromDomain != "" {
			a.OrgDomain = w.OrgDomain(ctx, a.Domain).Domain
		}
		a.DomainAligned = w.Aligned(ctx, a.Domain, e.FromDomain, dkimMode)
		a.Aligned = a.Pass && a.DomainAligned
		e.DKIMAligned = e.DKIMAligned || a.Aligned
		e.DKIM = append(e.DKIM, a)
	}

	aligned := e.SPFAligned || e.DKIMAligned
	tempVia := e.alignedTempError(in)
	disc := e.Discovery
	switch {
	case e.FromDomain == "":
		e.Result = None
		e.Reason = i18n.M("dmarc.no-from", in.FromProblem)
	case disc.Result == TempError:
		e.Result, e.Reason = disc.Result, disc.Reason
	case disc.Record == nil && disc.Syntax != nil && aligned:
		e.Result = None
		e.Reason = i18n.M("dmarc.aligned-unusable", e.via(), disc.Reason)
	case disc.Record == nil && aligned:
		e.Result = None
		e.Reason = i18n.M("dmarc.aligned-none", e.via(), e.FromDomain, disc.Reason)
	case disc.Record == nil:
		e.Result = None
		e.Reason = i18n.M("dmarc.unaligned-none", e.FromDomain, disc.Reason)
	case aligned:
		e.Result = Pass
		e.Reason = i18n.M("dmarc.pass", e.via(), e.FromDomain, disc.Domain)
	case !tempVia.IsZero():
		// RFC 9989 §4.8: with an aligned check that could not finish,
		// neither pass nor fail can be concluded; receivers defer.
		e.Result = TempError
		e.Reason = i18n.M("dmarc.temperror-check", e.FromDomain, tempVia)
	default:
		e.Result = Fail
		e.Reason = i18n.M("dmarc.fail", e.FromDomain)
	}
	e.applyPolicy(ctx, r)
	e.legacy(ctx, w, in, spfMode, dkimMode)
	return e
}

// alignedTempError names the first SPF or DKIM check whose domain aligns
// with From and that ended in temperror, or "".
func (e *Evaluation) alignedTempError(in Input) i18n.Msg {
	if in.SPFResult == "temperror" && e.SPF.DomainAligned {
		return i18n.M("dmarc.via-spf", e.SPF.Domain)
	}
	for i, d := range in.DKIM {
		if d.TempError && e.DKIM[i].DomainAligned {
			return i18n.M("dmarc.via-dkim", e.DKIM[i].Domain)
		}
	}
	return i18n.Msg{}
}

// via names what is aligned.
func (e *Evaluation) via() i18n.Msg {
	switch {
	case e.SPFAligned && e.DKIMAligned:
		return i18n.M("dmarc.both-pass")
	case e.SPFAligned:
		return i18n.M("dmarc.spf-passes")
	}
	return i18n.M("dmarc.dkim-passes")
}

// spfReason says why SPF is or is not aligned, with the real reason
// first: a result other than pass cannot align, whatever the domains.
func (e *Evaluation) spfReason(result string) i18n.Msg {
	s := e.SPF
	from := e.FromDomain
	var domains i18n.Msg
	switch {
	case from == "":
		return i18n.M("dmarc.align.no-from")
	case s.Domain == "":
		return i18n.M("dmarc.align.no-spf")
	case s.DomainAligned && s.Mode == Strict:
		domains = i18n.M("dmarc.align.strict-equal", s.Domain)
	case s.DomainAligned && s.Domain == from:
		domains = i18n.M("dmarc.align.same", from)
	case s.DomainAligned:
		domains = i18n.M("dmarc.align.relaxed", s.Domain, from, e.OrgDomain)
	case s.Mode == Strict:
		domains = i18n.M("dmarc.align.strict-differ", s.Domain, from)
	default:
		domains = i18n.M("dmarc.align.differ", s.Domain, s.OrgDomain, from, e.OrgDomain)
	}
	if !s.Pass {
		if result == "" {
			result = "-"
		}
		if s.DomainAligned {
			return i18n.M("dmarc.align.spf-failed-aligned", result, domains)
		}
		return i18n.M("dmarc.align.spf-failed", result, domains)
	}
	return domains
}

// authorNote explains the handling of a From header of several addresses:
// RFC 9989 §4.4 evaluates such a message only when every address has the
// same domain; with several domains it is exempt from DMARC.
func authorNote(in Input) i18n.Msg {
	switch n := len(in.FromDomains); {
	case n == 1:
		return i18n.M("dmarc.authors-one", in.FromDomains[0])
	case n > 1:
		return i18n.M("dmarc.authors-many", n, strings.Join(in.FromDomains, ", "))
	}
	return i18n.Msg{}
}

// applyPolicy works out which policy tag applies and what a receiver
// following RFC 9989 would do (§4.10.1: p= at the domain's own record,
// sp= for a record inherited by the Tree Walk, np= when the domain does
// not exist; t=y asks receivers not to apply it; pct= is gone).
func (e *Evaluation) applyPolicy(ctx context.Context, r dnsx.Resolver) {
	e.Disposition = PolicyNone
	var rec *Record
	if e.Discovery != nil {
		rec = e.Discovery.Record
	}
	if rec == nil {
		e.PolicyNote = i18n.M("dmarc.policy.none")
		return
	}
	e.Policy, e.PolicyTag = rec.P, "p"
	if e.Discovery.Inherited {
		e.Policy, e.PolicyTag = rec.SP, "sp"
		if rec.NP != rec.SP {
			// np= is for From domains that do not exist at all.
			if _, err := r.LookupIP(ctx, "ip4", e.FromDomain); dnsx.KindOf(err) == dnsx.NXDomain {
				e.Policy, e.PolicyTag = rec.NP, "np"
			}
		}
	}
	switch e.Result {
	case Pass:
		e.PolicyNote = i18n.M("dmarc.policy.pass", e.PolicyTag, string(e.Policy))
		return
	case Fail:
	default:
		e.PolicyNote = i18n.M("dmarc.policy.unevaluated")
		return
	}
	switch {
	case rec.Testing && e.Policy != PolicyNone:
		e.PolicyNote = i18n.M("dmarc.policy.testing", e.PolicyTag, string(e.Policy))
	case e.Policy == PolicyNone:
		e.Disposition = PolicyNone
		e.PolicyNote = i18n.M("dmarc.policy.p-none", e.PolicyTag)
	case e.Policy == PolicyQuarantine:
		e.Disposition = PolicyQuarantine
		e.PolicyNote = i18n.M("dmarc.policy.quarantine", e.PolicyTag)
	default:
		e.Disposition = PolicyReject
		e.PolicyNote = i18n.M("dmarc.policy.reject", e.PolicyTag)
	}
}

// weaker is RFC 7489 §6.6.4's next weaker policy, for mail pct= leaves out.
var weaker = map[Policy]Policy{PolicyReject: PolicyQuarantine, PolicyQuarantine: PolicyNone, PolicyNone: PolicyNone}

// legacy works out the RFC 7489 conclusion and keeps it where it differs.
func (e *Evaluation) legacy(ctx context.Context, w *Walker, in Input, spfMode, dkimMode Mode) {
	if e.FromDomain == "" {
		return
	}
	l := &Legacy{OrgDomain: PSLOrgDomain(e.FromDomain)}
	var notes []i18n.Msg

	// Discovery: the From domain, then its PSL organizational domain.
	var rec *Record
	inherited := false
	for _, d := range []string{e.FromDomain, l.OrgDomain} {
		lv := w.lookup(ctx, d)
		if lv.transient {
			l.Result = TempError
			break
		}
		if lv.rec != nil || lv.syntax != nil {
			l.RecordAt, rec, inherited = "_dmarc."+d, lv.rec, d != e.FromDomain
			if lv.syntax != nil {
				// RFC 7489 §6.6.3 too: no DMARC processing.
				l.Result = None
			}
			break
		}
		if d == l.OrgDomain {
			break
		}
	}
	if rec != nil && rec != e.Discovery.Record {
		spfMode, dkimMode = rec.ASPF, rec.ADKIM
	}
	if l.RecordAt != "" && e.Discovery.Domain != "" && l.RecordAt != "_dmarc."+e.Discovery.Domain {
		notes = append(notes, i18n.M("dmarc.legacy.other-record", e.FromDomain, l.OrgDomain, l.RecordAt, e.Discovery.Domain))
	} else if l.RecordAt == "" && e.Discovery.Record != nil {
		notes = append(notes, i18n.M("dmarc.legacy.no-record", e.FromDomain, l.OrgDomain, e.Discovery.Domain))
	}

	l.SPFAligned = e.SPF.Pass && PSLAligned(e.SPF.Domain, e.FromDomain, spfMode)
	for _, d := range e.DKIM {
		l.DKIMAligned = l.DKIMAligned || d.Pass && PSLAligned(d.Domain, e.FromDomain, dkimMode)
	}
	if e.OrgDomain != l.OrgDomain {
		notes = append(notes, i18n.M("dmarc.legacy.psl", l.OrgDomain, e.OrgDomain))
	}
	if l.SPFAligned != e.SPFAligned {
		notes = append(notes, i18n.M("dmarc.legacy.spf", AlignedWord(l.SPFAligned)))
	}
	if l.DKIMAligned != e.DKIMAligned {
		notes = append(notes, i18n.M("dmarc.legacy.dkim", AlignedWord(l.DKIMAligned)))
	}
	if l.Result == "" {
		switch {
		case rec == nil:
			l.Result = None
		case l.SPFAligned || l.DKIMAligned:
			l.Result = Pass
		case e.Result == TempError:
			// The aligned check that did not finish is the same one.
			l.Result = TempError
		default:
			l.Result = Fail
		}
	}
	l.Disposition = PolicyNone
	if l.Result == Fail {
		pol := rec.P
		if inherited {
			pol = rec.SP
		}
		switch {
		case rec.PCT == 0 && pol != PolicyNone:
			l.Disposition = weaker[pol]
			notes = append(notes, i18n.M("dmarc.legacy.pct0", map[bool]string{true: "sp", false: "p"}[inherited], string(pol), string(l.Disposition)))
		case rec.PCT < 100 && pol != PolicyNone:
			l.Disposition = pol
			notes = append(notes, i18n.M("dmarc.legacy.pct", rec.PCT, string(pol), string(weaker[pol])))
		default:
			l.Disposition = pol
		}
		if rec.Testing && pol != PolicyNone && rec.PCT == 100 {
			notes = append(notes, i18n.M("dmarc.legacy.testing", string(pol)))
		}
	}
	if l.Result != e.Result {
		notes = append(notes, i18n.M("dmarc.legacy.result", string(l.Result), string(e.Result)))
	}
	if len(notes) == 0 && l.Disposition == e.Disposition {
		return
	}
	if l.Disposition != e.Disposition && len(notes) == 0 {
		notes = append(notes, i18n.M("dmarc.legacy.disposition."+string(l.Disposition)))
	}
	l.Note = i18n.M("dmarc.legacy", notes)
	e.RFC7489 = l
}

// AlignedWord says "aligned" or "not aligned".
func AlignedWord(b bool) i18n.Msg {
	if b {
		return i18n.M("word.aligned")
	}
	return i18n.M("word.not-aligned")
}
