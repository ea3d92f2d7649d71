package explain

import (
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/spf"
)

// result is what the tester found, in one sentence: SPF for spf@, DKIM
// for dkim@, DMARC for check@.
func (x *explainer) result() string {
	switch x.v.Kind {
	case kind.SPF:
		return x.spfResult()
	case kind.DKIM:
		return x.dkimResult()
	}
	return x.dmarcResult()
}

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

// best is the signature a diagnosis talks about: an aligned pass, a
// pass, else the first of the worst kind.
func (x *explainer) best() *dkim.Signature {
	sigs := x.v.DKIM.Signatures
	if len(sigs) == 0 {
		return nil
	}
	for i, s := range sigs {
		if s.Result == dkim.Pass && i < len(x.v.DMARC.DKIM) && x.v.DMARC.DKIM[i].Aligned {
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

func (x *explainer) spfResult() string {
	e, d := x.spfEval(), x.v.DMARC
	ip := x.v.Envelope.IP.String()
	switch {
	case e.Result == spf.Pass && d.SPFAligned:
		return x.t("head.spf.pass", ip, e.Domain)
	case e.Result == spf.Pass:
		return x.t("head.spf.pass-unaligned", e.Domain, x.from())
	case e.Result == spf.Fail || e.Result == spf.SoftFail:
		return x.t("head.spf.fail", string(e.Result), ip, e.Domain)
	case e.Result == spf.Neutral:
		return x.t("head.spf.neutral", e.Domain, ip)
	case e.Result == spf.None:
		return x.t("head.spf.none", e.Domain)
	case e.Result == spf.PermError:
		return x.t("head.spf.permerror", e.Domain)
	}
	return x.t("head.spf.temperror", e.Domain)
}

func (x *explainer) dkimResult() string {
	s := x.best()
	switch {
	case s == nil:
		return x.t("head.dkim.none")
	case s.Result == dkim.Pass && x.v.DMARC.DKIMAligned:
		return x.t("head.dkim.pass", s.Domain)
	case s.Result == dkim.Pass:
		return x.t("head.dkim.pass-unaligned", s.Domain, x.from())
	case s.Result == dkim.Fail && failed(s, dkim.CheckBodyHash):
		return x.t("head.dkim.body", s.Domain)
	case s.Result == dkim.Fail:
		return x.t("head.dkim.header", s.Domain)
	case s.Result == dkim.TempError:
		return x.t("head.dkim.temperror", s.Domain)
	}
	return x.t("head.dkim.invalid", orDash(s.Domain), s.Reason)
}

func (x *explainer) dmarcResult() string {
	d := x.v.DMARC
	switch {
	case d.FromDomain == "":
		return x.t("head.dmarc.no-from", x.v.From.Problem)
	case d.Result == dmarc.Pass:
		return x.t("head.dmarc.pass", d.FromDomain)
	case d.Result == dmarc.None && d.Discovery != nil && d.Discovery.Syntax != nil:
		return x.t("head.dmarc.unusable", d.FromDomain)
	case d.Result == dmarc.None && (d.SPFAligned || d.DKIMAligned):
		return x.t("head.dmarc.none-aligned", d.FromDomain)
	case d.Result == dmarc.None:
		return x.t("head.dmarc.none", d.FromDomain)
	case d.Result == dmarc.Fail:
		return x.t("head.dmarc.fail", d.FromDomain, x.t("disp."+string(d.Disposition)))
	case d.Discovery != nil && d.Discovery.Result == dmarc.TempError:
		return x.t("head.dmarc.temperror", d.FromDomain)
	}
	return x.t("head.dmarc.temperror-check", d.FromDomain, x.tempVia())
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
