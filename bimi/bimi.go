// Package bimi checks a domain's BIMI setup the way Gmail, Yahoo and
// Apple Mail check it before they show a sender's logo: the record at
// <selector>._bimi.<domain> (or the organizational domain's, as the BIMI
// draft falls back), DMARC at enforcement for the domain, the logo at l=
// (fetched over HTTPS from public addresses only, checked against the
// SVG Tiny Portable/Secure profile with a real XML parser), and the mark
// certificate at a= (a VMC or a CMC: its BIMI key usage, validity, names,
// the logo it carries in its RFC 3709 logotype extension, and its chain
// to the roots the operator gives). Every fetch and every parse is
// bounded; every finding has its fix.
package bimi

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/verify/dmarc"
)

// Severity of a finding.
type Severity string

// Severities: an error keeps the logo from showing; a warning may.
const (
	Error   Severity = "error"
	Warning Severity = "warning"
	Info    Severity = "info"
)

// Finding is one thing the check has to say, unsaid until a reader's
// language is known.
type Finding struct {
	Severity Severity `json:"severity"`
	Message  i18n.Msg `json:"message"`
	Fix      i18n.Msg `json:"fix,omitzero"`
}

// Enforcement is what the BIMI receivers ask of DMARC, as the DMARC
// check found it.
type Enforcement struct {
	// Policy is the policy that applies to the domain (p=, or sp= for a
	// subdomain that inherits the organizational domain's record).
	Policy dmarc.Policy `json:"policy,omitempty"`
	// Record is where the applied record is; OrgSP the organizational
	// domain record's sp= ("" when it has none, or there is no record).
	Record string       `json:"record,omitempty"`
	OrgSP  dmarc.Policy `json:"org_sp,omitempty"`
	// Partial: pct= below 100 or t=y (testing), which receivers do not
	// count as enforcement.
	Partial bool `json:"partial,omitempty"`
	// Pass is whether the message passed DMARC; Judged says there was a
	// message (check@; /domain has none).
	Pass   bool `json:"pass,omitempty"`
	Judged bool `json:"judged,omitempty"`
	// Enforced sums it up.
	Enforced bool `json:"enforced"`
}

// EnforcementOf reads the DMARC discovery of a domain (and of its
// organizational domain, when that is another, or nil).
func EnforcementOf(d, org *dmarc.Discovery) Enforcement {
	var e Enforcement
	if d == nil || d.Record == nil {
		return e
	}
	r := d.Record
	e.Record = d.Domain
	e.Policy = r.P
	if d.Inherited && r.SP != "" {
		e.Policy = r.SP
	}
	e.Partial = r.Testing || (r.PCT > 0 && r.PCT < 100)
	if !d.Inherited {
		e.OrgSP = r.SP
	}
	if org != nil && org.Record != nil {
		e.OrgSP = org.Record.SP
	}
	e.Enforced = (e.Policy == dmarc.PolicyQuarantine || e.Policy == dmarc.PolicyReject) && !e.Partial && e.OrgSP != dmarc.PolicyNone
	return e
}

// Input is one check.
type Input struct {
	// Domain is the From domain (check@) or the domain asked about.
	Domain string
	// OrgDomain is its organizational domain, for the fallback.
	OrgDomain string
	// Selector is the BIMI-Selector header's s= ("" is default);
	// SelectorSigned says a passing DKIM signature covers that header.
	Selector       string
	SelectorHeader bool
	SelectorSigned bool
	DMARC          Enforcement
}

// Result is the whole BIMI check.
type Result struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector"`
	// SelectorHeader: the probe carried BIMI-Selector; SelectorSigned:
	// a passing DKIM signature covers it.
	SelectorHeader bool `json:"selector_header,omitempty"`
	SelectorSigned bool `json:"selector_signed,omitempty"`
	// RecordName is where the record was looked for and found (the
	// organizational domain's, with Fallback); Record its text.
	RecordName string `json:"record_name"`
	Record     string `json:"record,omitempty"`
	Fallback   bool   `json:"fallback,omitempty"`
	// Declined: the record says v=BIMI1 with an empty l=, the way to say
	// "no logo" for a domain under one that has one.
	Declined  bool        `json:"declined,omitempty"`
	Location  string      `json:"location,omitempty"`
	Authority string      `json:"authority,omitempty"`
	DMARC     Enforcement `json:"dmarc"`
	Logo      *Logo       `json:"logo,omitempty"`
	Mark      *Mark       `json:"certificate,omitempty"`
	Findings  []Finding   `json:"findings"`
	// Shown: every check a receiver makes passes, so Gmail (with a VMC,
	// with its check mark; with a CMC, without) and Apple Mail (a VMC)
	// would show the logo.
	Shown bool `json:"shown"`
	// TesterFailure: testerd's resolver did not answer, so the result
	// says nothing about the domain.
	TesterFailure bool `json:"tester_failure,omitempty"`
}

// Errors counts the findings of severity Error.
func (r *Result) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == Error {
			n++
		}
	}
	return n
}

// Checker runs BIMI checks.
type Checker struct {
	Resolver dnsx.Resolver
	// Client fetches the logo and the certificate; nil is one that dials
	// public addresses only (netguard), follows no redirect and verifies
	// certificates with the system's roots.
	Client *http.Client
	// Roots anchor the mark certificates' chains (--bimi-roots); nil
	// reads the chain without anchoring it, and says so.
	Roots *x509.CertPool
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func m(key string, args ...any) i18n.Msg { return i18n.M(key, args...) }

func (r *Result) add(sev Severity, msg, fix i18n.Msg) {
	r.Findings = append(r.Findings, Finding{Severity: sev, Message: msg, Fix: fix})
}

// Check checks in.Domain's BIMI setup.
func (c *Checker) Check(ctx context.Context, in Input) *Result {
	sel := strings.ToLower(in.Selector)
	if sel == "" {
		sel = "default"
	}
	r := &Result{Domain: in.Domain, Selector: sel, SelectorHeader: in.SelectorHeader, SelectorSigned: in.SelectorSigned, DMARC: in.DMARC, Findings: []Finding{}}
	if in.SelectorHeader && !in.SelectorSigned {
		r.add(Warning, m("bimi.selector-unsigned", sel), m("bimi.selector-unsigned.fix"))
	}
	if !c.record(ctx, r, in) {
		return r
	}
	c.enforcement(r)
	if r.Declined {
		return r
	}
	var logoSVG []byte
	if r.Location == "" {
		r.add(Error, m("bimi.no-location"), m("bimi.no-location.fix"))
	} else {
		logoSVG = c.logo(ctx, r)
	}
	if r.Authority == "" {
		r.add(Warning, m("bimi.no-authority"), m("bimi.no-authority.fix"))
	} else {
		c.mark(ctx, r, logoSVG)
	}
	r.Shown = r.Errors() == 0 && r.DMARC.Enforced && r.Logo != nil && r.Logo.Valid && r.Mark != nil && r.Mark.Valid
	if r.Shown {
		r.add(Info, m("bimi.shown."+strings.ToLower(r.Mark.Kind)), i18n.Msg{})
	}
	return r
}

// record finds and parses the BIMI record, falling back to the
// organizational domain.
func (c *Checker) record(ctx context.Context, r *Result, in Input) bool {
	names := []string{r.Selector + "._bimi." + in.Domain}
	if in.OrgDomain != "" && in.OrgDomain != in.Domain {
		names = append(names, r.Selector+"._bimi."+in.OrgDomain)
	}
	for i, name := range names {
		txts, err := c.Resolver.LookupTXT(ctx, name)
		if err != nil && !dnsx.IsNotFound(err) {
			if dnsx.NoAnswer(err) {
				r.TesterFailure = true
				r.add(Warning, m("bimi.tester", name, err.Error()), i18n.Msg{})
			} else {
				r.add(Error, m("bimi.lookup", name, err.Error()), m("bimi.lookup.fix"))
			}
			return false
		}
		var found []string
		for _, t := range txts {
			// A record meant for BIMI, even a broken one, is said so.
			if strings.Contains(strings.ToLower(t), "v=bimi") {
				found = append(found, t)
			}
		}
		if len(found) == 0 {
			continue
		}
		r.RecordName, r.Record, r.Fallback = name, untrusted.Line(found[0], 2048), i > 0
		if len(found) > 1 {
			r.add(Error, m("bimi.two-records", name, len(found)), m("bimi.two-records.fix"))
			return false
		}
		rec, err := ParseRecord(found[0])
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				r.add(Error, se.Msg, m("bimi.syntax.fix", name))
			}
			return false
		}
		for _, w := range rec.Warnings {
			r.add(Warning, w, i18n.Msg{})
		}
		r.Location, r.Authority, r.Declined = rec.Location, rec.Authority, rec.Declined
		if r.Declined {
			r.add(Info, m("bimi.declined", name), i18n.Msg{})
		}
		if r.Fallback {
			r.add(Info, m("bimi.fallback", names[0], name), i18n.Msg{})
		}
		return true
	}
	r.RecordName = names[0]
	r.add(Error, m("bimi.none", names[0]), m("bimi.none.fix", r.Selector, in.Domain))
	return false
}

// enforcement says which of DMARC's conditions fails.
func (c *Checker) enforcement(r *Result) {
	e := r.DMARC
	switch {
	case e.Record == "":
		r.add(Error, m("bimi.dmarc.none", r.Domain), m("bimi.dmarc.fix", r.Domain))
	case e.Policy != dmarc.PolicyQuarantine && e.Policy != dmarc.PolicyReject:
		r.add(Error, m("bimi.dmarc.policy", e.Record, string(e.Policy)), m("bimi.dmarc.fix", r.Domain))
	case e.Partial:
		r.add(Error, m("bimi.dmarc.partial", e.Record), m("bimi.dmarc.partial.fix"))
	case e.OrgSP == dmarc.PolicyNone:
		r.add(Error, m("bimi.dmarc.sp-none"), m("bimi.dmarc.sp-none.fix"))
	}
	if e.Judged && !e.Pass {
		r.add(Error, m("bimi.dmarc.fail"), m("bimi.dmarc.fail.fix"))
		r.DMARC.Enforced = false
	}
}
