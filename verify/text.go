package verify

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/requirements"
)

// WriteText writes the verdict as readable text: the tags, then SPF with
// its trace, each DKIM signature, From, DMARC and alignment, and the
// Authentication-Results header. Untrusted strings are quoted with
// strconv.Quote where they could hold control characters.
func (v *Verdict) WriteText(w io.Writer, receiver string) {
	fmt.Fprintf(w, "%s\n\n", strings.Join(v.Tags, " "))
	if v.TesterFailure != "" {
		fmt.Fprintf(w, "%s\n\n", v.TesterFailure)
	}
	if v.Kind != kind.Check {
		fmt.Fprintf(w, "(%s@ tester; check@ would say: %s)\n\n", v.Kind, strings.Join(v.AllTags[kind.Check], " "))
	}

	if r := v.Requirements; r != nil {
		writeRequirements(w, r)
	}

	eff := v.SPF.Effective()
	fmt.Fprintf(w, "== SPF: %s (identity %s)\n", eff.Result, v.SPF.Used)
	if v.SPF.MailFrom != nil {
		v.SPF.MailFrom.WriteText(w, receiver)
	}
	if v.SPF.Helo != nil {
		if v.SPF.MailFrom != nil {
			fmt.Fprintln(w)
		}
		v.SPF.Helo.WriteText(w, receiver)
	}

	fmt.Fprintf(w, "\n== DKIM: %d signature(s)", len(v.DKIM.Signatures))
	if v.DKIM.Unchecked > 0 {
		fmt.Fprintf(w, ", %d more not checked (the limit is %d)", v.DKIM.Unchecked, dkim.MaxSignatures)
	}
	fmt.Fprintln(w)
	for _, s := range v.DKIM.Signatures {
		writeSignature(w, s)
	}

	fmt.Fprintf(w, "\n== From: ")
	if v.From.Domain != "" {
		fmt.Fprintf(w, "%s (domain %s)\n", q(v.From.Header), v.From.Domain)
	} else {
		fmt.Fprintf(w, "no From domain: %s\n", v.From.Problem)
		if v.From.Header != "" {
			fmt.Fprintf(w, "  header: %s\n", q(v.From.Header))
		}
	}

	d := v.DMARC
	fmt.Fprintf(w, "\n== DMARC: %s\n  %s\n", d.Result, d.Reason)
	if disc := d.Discovery; disc != nil {
		for _, qr := range disc.Queries {
			ans := qr.Error
			if ans == "" {
				ans = fmt.Sprintf("%d TXT record(s)", len(qr.Records))
			}
			fmt.Fprintf(w, "  lookup %s: %s\n", qr.Name, ans)
		}
		if r := disc.Record; r != nil {
			where := ""
			if disc.Inherited {
				where = " (inherited by the DNS Tree Walk: sp= applies)"
			}
			fmt.Fprintf(w, "  record at _dmarc.%s%s: %s\n", disc.Domain, where, q(r.Raw))
			fmt.Fprintf(w, "  p=%s sp=%s np=%s adkim=%s aspf=%s", r.P, r.SP, r.NP, r.ADKIM, r.ASPF)
			if r.PCT != 100 {
				fmt.Fprintf(w, " pct=%d (RFC 7489 only)", r.PCT)
			}
			if r.Testing {
				fmt.Fprint(w, " t=y")
			}
			if r.PSD != "" {
				fmt.Fprintf(w, " psd=%s", r.PSD)
			}
			fmt.Fprintln(w)
			for _, is := range r.Issues {
				fmt.Fprintf(w, "  %s: %s=: %s\n", is.Severity, is.Tag, is.Message)
			}
		}
	}
	fmt.Fprintf(w, "  policy: %s\n", d.PolicyNote)
	if o := d.Org; o != nil {
		how := map[string]string{"psd=n": "psd=n at " + o.At, "psd=y": "psd=y at " + o.At, "record": "the highest DMARC record on the DNS Tree Walk, " + o.At,
			"psl": "no DMARC record on the DNS Tree Walk, so the Public Suffix List"}[o.By]
		fmt.Fprintf(w, "  organizational domain: %s (%s)\n", o.Domain, how)
		if o.PSL != "" {
			fmt.Fprintf(w, "  the Public Suffix List says %s\n", o.PSL)
		}
	}
	if disc := d.Discovery; disc != nil {
		for _, why := range disc.Discarded {
			fmt.Fprintf(w, "  discarded: %s\n", why)
		}
	}
	if d.AuthorNote != "" {
		fmt.Fprintf(w, "  several authors: %s\n", d.AuthorNote)
	}
	if l := d.RFC7489; l != nil {
		fmt.Fprintf(w, "  %s\n", l.Note)
	}

	fmt.Fprintf(w, "\n== Alignment with the From domain %s\n", orDash(d.FromDomain))
	fmt.Fprintf(w, "  SPF  (%s): %s — %s\n", d.SPF.Mode, yesNo(d.SPFAligned, "aligned", "not aligned"), d.SPF.Reason)
	for i, a := range d.DKIM {
		fmt.Fprintf(w, "  DKIM #%d d=%s (%s, %s): %s\n", i+1, orDash(a.Domain), d.DKIMMode,
			yesNo(a.Pass, "pass", "not pass"), yesNo(a.Aligned, "aligned", yesNo(a.DomainAligned, "domain aligns but the signature does not pass", "not aligned")))
	}

	fmt.Fprintf(w, "\n%s\n", strings.ReplaceAll(v.FoldedAuthResults(), "\r\n", "\n"))
}

func writeSignature(w io.Writer, s *dkim.Signature) {
	fmt.Fprintf(w, "  #%d %s: d=%s s=%s a=%s c=%s\n", s.Index, s.Result, orDash(s.Domain), orDash(s.Selector), orDash(s.Algorithm), s.Canonicalization)
	fmt.Fprintf(w, "     %s\n", s.Reason)
	if s.Problem != nil && s.Problem.Tag != "" {
		fmt.Fprintf(w, "     problem: %s tag %s=\n", s.Problem.In, s.Problem.Tag)
	}
	if s.Identifier != "" {
		fmt.Fprintf(w, "     i=%s\n", q(s.Identifier))
	}
	if len(s.Headers) > 0 {
		fmt.Fprintf(w, "     h=%s\n", strings.Join(s.Headers, ":"))
		fmt.Fprintf(w, "     signed: From %s, Subject %s, List-Unsubscribe %s, List-Unsubscribe-Post %s\n",
			yesNo(s.Signed.From, "yes", "no"), yesNo(s.Signed.Subject, "yes", "no"),
			yesNo(s.Signed.ListUnsubscribe, "yes", "no"), yesNo(s.Signed.ListUnsubscribePost, "yes", "no"))
	}
	if s.BodyLength != nil {
		fmt.Fprintf(w, "     l=%d (of %d canonical body octets)\n", *s.BodyLength, s.CanonicalBodyLength)
	}
	if s.Timestamp != nil {
		fmt.Fprintf(w, "     t=%s", s.Timestamp.Format("2006-01-02 15:04:05 MST"))
		if s.Expiration != nil {
			fmt.Fprintf(w, " x=%s", s.Expiration.Format("2006-01-02 15:04:05 MST"))
		}
		fmt.Fprintln(w)
	}
	if s.BodyHash != "" {
		fmt.Fprintf(w, "     bh=       %s\n", s.BodyHash)
	}
	if s.ComputedBodyHash != "" {
		fmt.Fprintf(w, "     computed  %s (%s)\n", s.ComputedBodyHash, check(s.BodyHashOK))
	}
	if s.HeaderSignatureOK != nil {
		fmt.Fprintf(w, "     header signature: %s\n", check(s.HeaderSignatureOK))
	}
	if k := s.Key; k != nil {
		flags := ""
		if len(k.Flags) > 0 {
			flags = " t=" + strings.Join(k.Flags, ":")
		}
		if len(k.Services) > 0 {
			flags += " s=" + strings.Join(k.Services, ":")
		}
		fmt.Fprintf(w, "     key %s: %s, %d bits%s\n", k.Name, k.Type, k.Bits, flags)
	} else if s.KeyLookup != "" {
		fmt.Fprintf(w, "     key lookup: %s\n", s.KeyLookup)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "     note: %s\n", n)
	}
}

func check(ok *bool) string {
	switch {
	case ok == nil:
		return "not checked"
	case *ok:
		return "matches"
	}
	return "DOES NOT MATCH"
}

func q(s string) string { return strconv.Quote(s) }

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// writeRequirements writes the sender-requirements report, in English
// (the technical part of the text; the diagnosis before it is in the
// reader's language).
func writeRequirements(w io.Writer, r *requirements.Report) {
	l := i18n.EN
	fmt.Fprintf(w, "== %s\n", l.T("req.title"))
	if r.FirstError != "" {
		fmt.Fprintf(w, "  %s %s\n", l.T("req.first"), r.FirstError)
	}
	for _, it := range r.Items {
		extra := ""
		if it.Status == requirements.Fail && it.Blocking {
			extra = " (" + l.T("req.blocking")
			if it.Code != "" {
				extra += ", " + it.Code
			}
			extra += ")"
		}
		fmt.Fprintf(w, "  [%s] %s%s\n", it.Status, l.T("req."+it.ID), extra)
		for _, e := range it.Evidence {
			fmt.Fprintf(w, "       %s\n", l.Say(e))
		}
		if !it.Fix.IsZero() && it.Status != requirements.Pass {
			fmt.Fprintf(w, "       %s %s\n", l.T("req.fix"), l.Say(it.Fix))
		}
	}
	for _, p := range r.Providers {
		fmt.Fprintf(w, "    %s: %s", p.Provider, l.T("prov."+string(p.Outcome)))
		if len(p.Because) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(p.Because, ", "))
		}
		fmt.Fprintln(w)
		if p.Reply != "" {
			fmt.Fprintf(w, "       %s\n", p.Reply)
		}
	}
	fmt.Fprintln(w)
}
