package dmarc

import (
	"context"
	"fmt"
	"strings"

	"github.com/testerd/testerd/dnsx"
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
	FromProblem string
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
	Aligned bool   `json:"aligned"`
	Reason  string `json:"reason"`
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
	Note string `json:"note"`
}

// Evaluation is the DMARC verdict for one message.
type Evaluation struct {
	Result Result `json:"result"`
	Reason string `json:"reason"`

	FromDomain string `json:"from_domain,omitempty"`
	OrgDomain  string `json:"org_domain,omitempty"`
	// Org says how OrgDomain was found (Tree Walk or Public Suffix List).
	Org       *Org       `json:"org,omitempty"`
	Discovery *Discovery `json:"discovery,omitempty"`
	// AuthorNote explains what was done with a From header of several
	// addresses (RFC 9989 §4.4).
	AuthorNote string `json:"author_note,omitempty"`

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
	Policy      Policy `json:"policy,omitempty"`
	PolicyTag   string `json:"policy_tag,omitempty"`
	Disposition Policy `json:"disposition"`
	PolicyNote  string `json:"policy_note"`

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
		e.Reason = "there is no single From domain to evaluate: " + in.FromProblem
	case disc.Result == TempError:
		e.Result, e.Reason = disc.Result, disc.Reason
	case disc.Record == nil && disc.Syntax != nil && aligned:
		e.Result = None
		e.Reason = fmt.Sprintf("%s aligned, but %s: correct the record to pass", e.via(), disc.Reason)
	case disc.Record == nil && aligned:
		e.Result = None
		e.Reason = fmt.Sprintf("%s aligned, but no DMARC record applies to %s: publish one to pass (%s)", e.via(), e.FromDomain, disc.Reason)
	case disc.Record == nil:
		e.Result = None
		e.Reason = fmt.Sprintf("neither SPF nor DKIM passes aligned with %s, and no usable DMARC record applies to it (%s)", e.FromDomain, disc.Reason)
	case aligned:
		e.Result = Pass
		e.Reason = fmt.Sprintf("%s aligned with the From domain %s, and the DMARC record at _dmarc.%s applies", e.via(), e.FromDomain, disc.Domain)
	case tempVia != "":
		// RFC 9989 §4.8: with an aligned check that could not finish,
		// neither pass nor fail can be concluded; receivers defer.
		e.Result = TempError
		e.Reason = fmt.Sprintf("nothing passes aligned with %s, and %s ended in temperror: a retry may pass, so receivers defer the message", e.FromDomain, tempVia)
	default:
		e.Result = Fail
		e.Reason = fmt.Sprintf("neither SPF nor DKIM passes aligned with %s", e.FromDomain)
	}
	e.applyPolicy(ctx, r)
	e.legacy(ctx, w, in, spfMode, dkimMode)
	return e
}

// alignedTempError names the first SPF or DKIM check whose domain aligns
// with From and that ended in temperror, or "".
func (e *Evaluation) alignedTempError(in Input) string {
	if in.SPFResult == "temperror" && e.SPF.DomainAligned {
		return "the SPF check of " + e.SPF.Domain
	}
	for i, d := range in.DKIM {
		if d.TempError && e.DKIM[i].DomainAligned {
			return "the DKIM signature of " + e.DKIM[i].Domain
		}
	}
	return ""
}

// via names what is aligned.
func (e *Evaluation) via() string {
	switch {
	case e.SPFAligned && e.DKIMAligned:
		return "SPF and DKIM pass and are"
	case e.SPFAligned:
		return "SPF passes and is"
	}
	return "DKIM passes and is"
}

// spfReason says why SPF is or is not aligned, with the real reason
// first: a result other than pass cannot align, whatever the domains.
func (e *Evaluation) spfReason(result string) string {
	s := e.SPF
	from := e.FromDomain
	domains := ""
	switch {
	case from == "":
		return "there is no From domain to align with"
	case s.Domain == "":
		return "SPF checked no domain"
	case s.DomainAligned && s.Mode == Strict:
		domains = fmt.Sprintf("the SPF domain %s equals the From domain (strict)", s.Domain)
	case s.DomainAligned && s.Domain == from:
		domains = fmt.Sprintf("the SPF domain is the From domain %s", from)
	case s.DomainAligned:
		domains = fmt.Sprintf("the SPF domain %s and the From domain %s share the organizational domain %s (relaxed)", s.Domain, from, e.OrgDomain)
	case s.Mode == Strict:
		domains = fmt.Sprintf("the SPF domain %s is not the From domain %s, as strict alignment (aspf=s) requires", s.Domain, from)
	default:
		domains = fmt.Sprintf("the SPF domain %s (organizational domain %s) and the From domain %s (%s) belong to different organizations", s.Domain, s.OrgDomain, from, e.OrgDomain)
	}
	if !s.Pass {
		if result == "" {
			result = "no result"
		}
		if s.DomainAligned {
			return fmt.Sprintf("SPF did not pass (%s), so it cannot align, although %s", result, domains)
		}
		return fmt.Sprintf("SPF did not pass (%s), and %s", result, domains)
	}
	return domains
}

// authorNote explains the handling of a From header of several addresses:
// RFC 9989 §4.4 evaluates such a message only when every address has the
// same domain; with several domains it is exempt from DMARC.
func authorNote(in Input) string {
	switch n := len(in.FromDomains); {
	case n == 1:
		return fmt.Sprintf("the From header holds several addresses, all at %s: receivers following RFC 9989 evaluate DMARC for %s; testerd, like verdicts.md, aligns nothing with a From header of more than one address, and Gmail rejects such mail (550-5.7.1)", in.FromDomains[0], in.FromDomains[0])
	case n > 1:
		return fmt.Sprintf("the From header holds addresses at %d domains (%s): RFC 9989 exempts such mail from DMARC, so no receiver can apply the domains' policies, and Gmail rejects it (550-5.7.1): send with one author", n, strings.Join(in.FromDomains, ", "))
	}
	return ""
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
		e.PolicyNote = "no DMARC policy applies"
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
		e.PolicyNote = fmt.Sprintf("DMARC passes, so %s=%s does not come into play", e.PolicyTag, e.Policy)
		return
	case Fail:
	default:
		e.PolicyNote = "no policy applies when DMARC cannot be evaluated"
		return
	}
	switch {
	case rec.Testing && e.Policy != PolicyNone:
		e.PolicyNote = fmt.Sprintf("%s=%s, but t=y (testing): receivers are asked not to apply it, so the message is delivered as usual (a mailing list may rewrite its From)", e.PolicyTag, e.Policy)
	case e.Policy == PolicyNone:
		e.Disposition = PolicyNone
		e.PolicyNote = fmt.Sprintf("%s=none: receivers only report the failure; the message is delivered as usual", e.PolicyTag)
	case e.Policy == PolicyQuarantine:
		e.Disposition = PolicyQuarantine
		e.PolicyNote = fmt.Sprintf("%s=quarantine: receivers put the message in spam", e.PolicyTag)
	default:
		e.Disposition = PolicyReject
		e.PolicyNote = fmt.Sprintf("%s=reject: receivers refuse the message", e.PolicyTag)
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
	var notes []string

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
		notes = append(notes, fmt.Sprintf("it looks only at _dmarc.%s and _dmarc.%s, so it uses %s, not the record at _dmarc.%s that the Tree Walk finds", e.FromDomain, l.OrgDomain, l.RecordAt, e.Discovery.Domain))
	} else if l.RecordAt == "" && e.Discovery.Record != nil {
		notes = append(notes, fmt.Sprintf("it looks only at _dmarc.%s and _dmarc.%s, so it does not see the record at _dmarc.%s that the Tree Walk finds", e.FromDomain, l.OrgDomain, e.Discovery.Domain))
	}

	l.SPFAligned = e.SPF.Pass && PSLAligned(e.SPF.Domain, e.FromDomain, spfMode)
	for _, d := range e.DKIM {
		l.DKIMAligned = l.DKIMAligned || d.Pass && PSLAligned(d.Domain, e.FromDomain, dkimMode)
	}
	if e.OrgDomain != l.OrgDomain {
		notes = append(notes, fmt.Sprintf("it takes the organizational domain from the Public Suffix List: %s, where the Tree Walk gives %s", l.OrgDomain, e.OrgDomain))
	}
	if l.SPFAligned != e.SPFAligned {
		notes = append(notes, fmt.Sprintf("it counts SPF as %s", alignedWord(l.SPFAligned)))
	}
	if l.DKIMAligned != e.DKIMAligned {
		notes = append(notes, fmt.Sprintf("it counts DKIM as %s", alignedWord(l.DKIMAligned)))
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
			notes = append(notes, fmt.Sprintf("pct=0 selects no message for %s=%s, so it treats failing mail as %s (RFC 7489 §6.6.4)", map[bool]string{true: "sp", false: "p"}[inherited], pol, l.Disposition))
		case rec.PCT < 100 && pol != PolicyNone:
			l.Disposition = pol
			notes = append(notes, fmt.Sprintf("pct=%d: it applies %s to %d%% of failing mail and %s to the rest", rec.PCT, pol, rec.PCT, weaker[pol]))
		default:
			l.Disposition = pol
		}
		if rec.Testing && pol != PolicyNone && rec.PCT == 100 {
			notes = append(notes, fmt.Sprintf("it does not know t=y, so it applies %s in full", pol))
		}
	}
	if l.Result != e.Result {
		notes = append(notes, fmt.Sprintf("its DMARC result is %s, not %s", l.Result, e.Result))
	}
	if len(notes) == 0 && l.Disposition == e.Disposition {
		return
	}
	if l.Disposition != e.Disposition && len(notes) == 0 {
		notes = append(notes, fmt.Sprintf("it would %s the message", dispositionVerb(l.Disposition)))
	}
	l.Note = "A receiver still on RFC 7489 concludes otherwise: " + strings.Join(notes, "; ") + "."
	e.RFC7489 = l
}

func alignedWord(b bool) string {
	if b {
		return "aligned"
	}
	return "not aligned"
}

func dispositionVerb(p Policy) string {
	switch p {
	case PolicyReject:
		return "refuse"
	case PolicyQuarantine:
		return "put in spam"
	}
	return "deliver"
}
