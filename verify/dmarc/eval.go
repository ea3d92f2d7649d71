package dmarc

import (
	"context"
	"fmt"

	"github.com/testerd/testerd/dnsx"
)

// DKIMInput is one DKIM signature's result and signing domain.
type DKIMInput struct {
	Domain string
	Pass   bool
}

// Input is what DMARC needs from the other checks.
type Input struct {
	// FromDomain is "" when the From header gave no single domain;
	// FromProblem then says why.
	FromDomain  string
	FromProblem string
	// SPFDomain is the identity SPF checked (the MAIL FROM domain, or the
	// HELO name for a null MAIL FROM); SPFPass is its result being pass.
	SPFDomain string
	SPFPass   bool
	DKIM      []DKIMInput
}

// SPFAlignment is the SPF identifier's alignment.
type SPFAlignment struct {
	Domain string `json:"domain"`
	Mode   Mode   `json:"mode"`
	Pass   bool   `json:"pass"`
	// DomainAligned: the domain aligns with From, whatever SPF said.
	DomainAligned bool `json:"domain_aligned"`
	// Aligned: SPF passed and the domain aligns (RFC 7489 §3.1.2).
	Aligned bool   `json:"aligned"`
	Reason  string `json:"reason"`
}

// DKIMAlignment is one signature's alignment.
type DKIMAlignment struct {
	Domain        string `json:"domain"`
	Pass          bool   `json:"pass"`
	DomainAligned bool   `json:"domain_aligned"`
	Aligned       bool   `json:"aligned"`
}

// Evaluation is the DMARC verdict for one message.
type Evaluation struct {
	Result Result `json:"result"`
	Reason string `json:"reason"`

	FromDomain string     `json:"from_domain,omitempty"`
	OrgDomain  string     `json:"org_domain,omitempty"`
	Discovery  *Discovery `json:"discovery,omitempty"`

	SPF  SPFAlignment    `json:"spf"`
	DKIM []DKIMAlignment `json:"dkim"`
	// DKIMMode is the adkim= mode applied.
	DKIMMode Mode `json:"dkim_mode"`
	// SPFAligned and DKIMAligned sum up the identifiers.
	SPFAligned  bool `json:"spf_aligned"`
	DKIMAligned bool `json:"dkim_aligned"`

	// Policy is the published policy for this From domain (p=, sp= or
	// np=, named by PolicyTag); Disposition is what a receiver would do
	// with this message, and PolicyNote explains it.
	Policy      Policy `json:"policy,omitempty"`
	PolicyTag   string `json:"policy_tag,omitempty"`
	Disposition Policy `json:"disposition"`
	PolicyNote  string `json:"policy_note"`
}

// Evaluate discovers the From domain's record and judges alignment.
func Evaluate(ctx context.Context, r dnsx.Resolver, in Input) *Evaluation {
	e := &Evaluation{FromDomain: normalize(in.FromDomain), DKIM: []DKIMAlignment{}}
	spfMode, dkimMode := Relaxed, Relaxed
	if e.FromDomain != "" {
		e.OrgDomain = OrgDomain(e.FromDomain)
		e.Discovery = Discover(ctx, r, e.FromDomain)
		if rec := e.Discovery.Record; rec != nil {
			spfMode, dkimMode = rec.ASPF, rec.ADKIM
		}
	}
	e.DKIMMode = dkimMode

	s := &e.SPF
	s.Domain, s.Mode, s.Pass = normalize(in.SPFDomain), spfMode, in.SPFPass
	s.DomainAligned = Aligned(s.Domain, e.FromDomain, spfMode)
	s.Aligned = s.Pass && s.DomainAligned
	s.Reason = alignReason("the SPF domain", s.Domain, e.FromDomain, spfMode, s.DomainAligned)
	e.SPFAligned = s.Aligned

	for _, d := range in.DKIM {
		a := DKIMAlignment{Domain: normalize(d.Domain), Pass: d.Pass}
		a.DomainAligned = Aligned(a.Domain, e.FromDomain, dkimMode)
		a.Aligned = a.Pass && a.DomainAligned
		e.DKIMAligned = e.DKIMAligned || a.Aligned
		e.DKIM = append(e.DKIM, a)
	}

	disc := e.Discovery
	switch {
	case e.SPFAligned || e.DKIMAligned:
		e.Result = Pass
		via := "SPF and DKIM pass and align"
		if !e.DKIMAligned {
			via = "SPF passes and aligns"
		} else if !e.SPFAligned {
			via = "DKIM passes and aligns"
		}
		e.Reason = fmt.Sprintf("%s with the From domain %s", via, e.FromDomain)
	case e.FromDomain == "":
		e.Result = None
		e.Reason = "there is no single From domain to evaluate: " + in.FromProblem
	case disc.Result == TempError || disc.Result == PermError:
		e.Result, e.Reason = disc.Result, disc.Reason
	case disc.Record == nil:
		e.Result = None
		e.Reason = fmt.Sprintf("neither SPF nor DKIM passes aligned with %s, and it publishes no DMARC record", e.FromDomain)
	default:
		e.Result = Fail
		e.Reason = fmt.Sprintf("neither SPF nor DKIM passes aligned with %s", e.FromDomain)
	}
	e.applyPolicy(ctx, r)
	return e
}

func alignReason(what, domain, from string, mode Mode, aligned bool) string {
	switch {
	case from == "":
		return "there is no From domain to align with"
	case domain == "":
		return what + " is empty"
	case aligned && mode == Strict:
		return fmt.Sprintf("%s %s equals the From domain (strict)", what, domain)
	case aligned:
		return fmt.Sprintf("%s %s and the From domain %s share the organizational domain %s (relaxed)", what, domain, from, OrgDomain(from))
	case mode == Strict:
		return fmt.Sprintf("%s %s is not the From domain %s, as strict alignment requires", what, domain, from)
	}
	return fmt.Sprintf("%s %s (organizational domain %s) and the From domain %s (%s) differ", what, domain, OrgDomain(domain), from, OrgDomain(from))
}

// applyPolicy works out which policy tag applies and what a receiver
// would do (RFC 7489 §6.6.4, §6.6.3; RFC 9990 np=).
func (e *Evaluation) applyPolicy(ctx context.Context, r dnsx.Resolver) {
	e.Disposition = PolicyNone
	rec := (*Record)(nil)
	if e.Discovery != nil {
		rec = e.Discovery.Record
	}
	if rec == nil {
		e.PolicyNote = "no DMARC policy applies"
		return
	}
	e.Policy, e.PolicyTag = rec.P, "p"
	if e.Discovery.Fallback {
		e.Policy, e.PolicyTag = rec.SP, "sp"
		if rec.NP != rec.SP {
			// np= is for From domains that do not exist at all.
			if _, err := r.LookupIP(ctx, "ip4", e.FromDomain); dnsx.KindOf(err) == dnsx.NXDomain {
				e.Policy, e.PolicyTag = rec.NP, "np"
			}
		}
	}
	if e.Result == Pass {
		e.PolicyNote = fmt.Sprintf("DMARC passes, so %s=%s does not come into play", e.PolicyTag, e.Policy)
		return
	}
	if e.Result != Fail {
		e.PolicyNote = "no policy applies when DMARC cannot be evaluated"
		return
	}
	e.Disposition = e.Policy
	weaker := map[Policy]Policy{PolicyReject: PolicyQuarantine, PolicyQuarantine: PolicyNone, PolicyNone: PolicyNone}
	switch {
	case rec.Testing && e.Policy != PolicyNone:
		e.Disposition = weaker[e.Policy]
		e.PolicyNote = fmt.Sprintf("%s=%s, but t=y (testing): receivers apply %s instead", e.PolicyTag, e.Policy, e.Disposition)
	case rec.PCT < 100 && e.Policy != PolicyNone:
		e.PolicyNote = fmt.Sprintf("%s=%s with pct=%d: %d%% of failing messages get %s, the rest %s", e.PolicyTag, e.Policy, rec.PCT, rec.PCT, e.Policy, weaker[e.Policy])
	case e.Policy == PolicyNone:
		e.PolicyNote = fmt.Sprintf("%s=none: receivers only report the failure; the message is delivered as usual", e.PolicyTag)
	case e.Policy == PolicyQuarantine:
		e.PolicyNote = fmt.Sprintf("%s=quarantine: receivers put the message in spam", e.PolicyTag)
	default:
		e.PolicyNote = fmt.Sprintf("%s=reject: receivers refuse the message", e.PolicyTag)
	}
}
