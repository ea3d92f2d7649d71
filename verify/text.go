package verify

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/testerd/testerd/bimi"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/rspamd"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/requirements"
)

// WriteText writes the verdict as readable text in l: the tags, then SPF
// with its trace, each DKIM signature, From, DMARC and alignment, and the
// Authentication-Results header. Untrusted strings are quoted with
// strconv.Quote where they could hold control characters.
func (v *Verdict) WriteText(w io.Writer, receiver string, l i18n.Lang) {
	fmt.Fprintf(w, "%s\n\n", strings.Join(v.Tags, " "))
	if !v.TesterFailure.IsZero() {
		fmt.Fprintf(w, "%s\n\n", l.Say(v.TesterFailure))
	}
	if v.Kind != kind.Check {
		fmt.Fprintf(w, "(%s)\n\n", l.T("text.other-tester", string(v.Kind), strings.Join(v.AllTags[kind.Check], " ")))
	}

	if r := v.Requirements; r != nil {
		writeRequirements(w, r, l)
	}
	if s := v.Spam; s != nil {
		writeSpam(w, s, l)
	}
	if b := v.BIMI; b != nil {
		WriteBIMI(w, b, l)
	}

	eff := v.SPF.Effective()
	fmt.Fprintf(w, "== %s\n", l.T("text.spf", string(eff.Result), string(v.SPF.Used)))
	if v.SPF.MailFrom != nil {
		v.SPF.MailFrom.WriteText(w, receiver, l)
	}
	if v.SPF.Helo != nil {
		if v.SPF.MailFrom != nil {
			fmt.Fprintln(w)
		}
		v.SPF.Helo.WriteText(w, receiver, l)
	}

	fmt.Fprintf(w, "\n== %s", l.T("text.dkim", len(v.DKIM.Signatures)))
	if v.DKIM.Unchecked > 0 {
		fmt.Fprintf(w, ", %s", l.T("text.dkim-unchecked", v.DKIM.Unchecked, dkim.MaxSignatures))
	}
	fmt.Fprintln(w)
	for _, s := range v.DKIM.Signatures {
		writeSignature(w, s, l)
	}

	fmt.Fprintf(w, "\n== From: ")
	if v.From.Domain != "" {
		fmt.Fprintf(w, "%s (%s)\n", q(v.From.Header), l.T("text.from-domain", v.From.Domain))
	} else {
		fmt.Fprintf(w, "%s\n", l.T("text.no-from", l.Say(v.From.Problem)))
		if v.From.Header != "" {
			fmt.Fprintf(w, "  %s %s\n", l.T("text.header"), q(v.From.Header))
		}
	}

	d := v.DMARC
	fmt.Fprintf(w, "\n== DMARC: %s\n  %s\n", d.Result, l.Say(d.Reason))
	if disc := d.Discovery; disc != nil {
		for _, qr := range disc.Queries {
			ans := qr.Error
			if ans == "" {
				ans = l.T("text.txt-records", len(qr.Records))
			}
			fmt.Fprintf(w, "  %s\n", l.T("text.lookup", qr.Name, ans))
		}
		if r := disc.Record; r != nil {
			where := "_dmarc." + disc.Domain
			if disc.Inherited {
				where = l.T("text.inherited", disc.Domain)
			}
			fmt.Fprintf(w, "  %s %s\n", l.T("text.record-at", where), q(r.Raw))
			fmt.Fprintf(w, "  p=%s sp=%s np=%s adkim=%s aspf=%s", r.P, r.SP, r.NP, r.ADKIM, r.ASPF)
			if r.PCT != 100 {
				fmt.Fprintf(w, " pct=%d (%s)", r.PCT, l.T("text.rfc7489-only"))
			}
			if r.Testing {
				fmt.Fprint(w, " t=y")
			}
			if r.PSD != "" {
				fmt.Fprintf(w, " psd=%s", r.PSD)
			}
			fmt.Fprintln(w)
			for _, is := range r.Issues {
				fmt.Fprintf(w, "  %s: %s=: %s\n", l.T("severity."+is.Severity), is.Tag, l.Say(is.Message))
			}
		}
	}
	fmt.Fprintf(w, "  %s %s\n", l.T("text.policy"), l.Say(d.PolicyNote))
	if o := d.Org; o != nil {
		var how string
		switch o.By {
		case "psd=n", "psd=y":
			how = l.T("text.org.psd", o.By, o.At)
		case "record":
			how = l.T("text.org.record", o.At)
		default:
			how = l.T("text.org.psl")
		}
		fmt.Fprintf(w, "  %s\n", l.T("text.org", o.Domain, how))
		if o.PSL != "" {
			fmt.Fprintf(w, "  %s\n", l.T("text.org.psl-says", o.PSL))
		}
	}
	if disc := d.Discovery; disc != nil {
		for _, why := range disc.Discarded {
			fmt.Fprintf(w, "  %s %s\n", l.T("text.discarded"), l.Say(why))
		}
	}
	if !d.AuthorNote.IsZero() {
		fmt.Fprintf(w, "  %s %s\n", l.T("text.authors"), l.Say(d.AuthorNote))
	}
	if r := d.RFC7489; r != nil {
		fmt.Fprintf(w, "  %s\n", l.Say(r.Note))
	}

	fmt.Fprintf(w, "\n== %s\n", l.T("text.alignment", orDash(d.FromDomain)))
	aligned := func(b bool) string { return l.Say(dmarc.AlignedWord(b)) }
	fmt.Fprintf(w, "  SPF  (%s): %s — %s\n", d.SPF.Mode, aligned(d.SPFAligned), l.Say(d.SPF.Reason))
	for i, a := range d.DKIM {
		state := aligned(a.Aligned)
		if !a.Aligned && a.DomainAligned {
			state = l.T("text.domain-aligns")
		}
		pass := l.T("text.pass")
		if !a.Pass {
			pass = l.T("text.not-pass")
		}
		fmt.Fprintf(w, "  DKIM #%d d=%s (%s, %s): %s\n", i+1, orDash(a.Domain), d.DKIMMode, pass, state)
	}

	fmt.Fprintf(w, "\n%s\n", strings.ReplaceAll(v.FoldedAuthResults(), "\r\n", "\n"))
}

func writeSignature(w io.Writer, s *dkim.Signature, l i18n.Lang) {
	fmt.Fprintf(w, "  #%d %s: d=%s s=%s a=%s c=%s\n", s.Index, s.Result, orDash(s.Domain), orDash(s.Selector), orDash(s.Algorithm), s.Canonicalization)
	fmt.Fprintf(w, "     %s\n", l.Say(s.Reason))
	if s.Problem != nil && s.Problem.Tag != "" {
		fmt.Fprintf(w, "     %s\n", l.T("text.problem-tag", l.T("text.in."+s.Problem.In), s.Problem.Tag))
	}
	if s.Identifier != "" {
		fmt.Fprintf(w, "     i=%s\n", q(s.Identifier))
	}
	if len(s.Headers) > 0 {
		yes := func(b bool) string { return yesNo(b, l.T("word.yes"), l.T("word.no")) }
		fmt.Fprintf(w, "     h=%s\n", strings.Join(s.Headers, ":"))
		fmt.Fprintf(w, "     %s\n", l.T("text.signed", yes(s.Signed.From), yes(s.Signed.Subject), yes(s.Signed.ListUnsubscribe), yes(s.Signed.ListUnsubscribePost)))
	}
	if s.BodyLength != nil {
		fmt.Fprintf(w, "     l=%d (%s)\n", *s.BodyLength, l.T("text.body-octets", s.CanonicalBodyLength))
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
		fmt.Fprintf(w, "     %s %s (%s)\n", l.T("text.computed"), s.ComputedBodyHash, check(s.BodyHashOK, l))
	}
	if s.HeaderSignatureOK != nil {
		fmt.Fprintf(w, "     %s %s\n", l.T("text.header-signature"), check(s.HeaderSignatureOK, l))
	}
	if k := s.Key; k != nil {
		flags := ""
		if len(k.Flags) > 0 {
			flags = " t=" + strings.Join(k.Flags, ":")
		}
		if len(k.Services) > 0 {
			flags += " s=" + strings.Join(k.Services, ":")
		}
		fmt.Fprintf(w, "     %s%s\n", l.T("text.key", k.Name, k.Type, strconv.Itoa(k.Bits)), flags)
	} else if s.KeyLookup != "" {
		fmt.Fprintf(w, "     %s %s\n", l.T("text.key-lookup"), s.KeyLookup)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(w, "     %s %s\n", l.T("text.note"), l.Say(n))
	}
}

func check(ok *bool, l i18n.Lang) string {
	switch {
	case ok == nil:
		return l.T("text.unchecked")
	case *ok:
		return l.T("text.matches")
	}
	return l.T("text.mismatch")
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

// writeSpam writes rspamd's opinion in l, by area.
func writeSpam(w io.Writer, s *rspamd.Report, l i18n.Lang) {
	fmt.Fprintf(w, "== %s\n", l.T("spam.title"))
	if s.Failed() {
		fmt.Fprintf(w, "  %s\n\n", l.Say(s.Failure))
		return
	}
	fmt.Fprintf(w, "  %s\n", l.T("spam.score", l.Decimal(s.Score), l.Decimal(s.Reject), l.T(s.ActionKey())))
	fmt.Fprintf(w, "  %s\n", l.T("spam.why"))
	for _, d := range s.Differences {
		fmt.Fprintf(w, "  %s\n", l.Say(d))
	}
	for _, g := range s.Groups() {
		fmt.Fprintf(w, "  %s:\n", l.T("spam.area."+string(g.Area)))
		for _, sym := range g.Symbols {
			fmt.Fprintf(w, "    %+6.2f %s", sym.Score, sym.Name)
			if sym.Description != "" {
				fmt.Fprintf(w, ": %s", sym.Description)
			}
			if len(sym.Options) > 0 {
				fmt.Fprintf(w, " (%s)", strings.Join(sym.Options, ", "))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w)
}

// writeRequirements writes the sender-requirements report in l.
func writeRequirements(w io.Writer, r *requirements.Report, l i18n.Lang) {
	fmt.Fprintf(w, "== %s\n", l.T("req.title"))
	if r.FirstError != "" {
		fmt.Fprintf(w, "  %s “%s”\n", l.T("req.first"), r.FirstError)
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
		fmt.Fprintf(w, "  [%s] %s%s\n", l.T("status."+string(it.Status)), l.T("req."+it.ID), extra)
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
			because := make([]string, len(p.Because))
			for i, id := range p.Because {
				because[i] = l.T("req." + id)
			}
			fmt.Fprintf(w, " (%s)", strings.Join(because, "; "))
		}
		fmt.Fprintln(w)
		if p.Reply != "" {
			fmt.Fprintf(w, "       “%s”\n", p.Reply)
		}
	}
	fmt.Fprintln(w)
}

// WriteBIMI writes a BIMI check in l: where the record is, then each
// finding with its fix.
func WriteBIMI(w io.Writer, b *bimi.Result, l i18n.Lang) {
	fmt.Fprintf(w, "== %s\n", l.T("bimi.title"))
	fmt.Fprintf(w, "  %s\n", l.T("bimi.intro"))
	if b.Record != "" {
		fmt.Fprintf(w, "  %s\n", l.T("bimi.record-at", b.RecordName, b.Record))
	}
	for _, f := range b.Findings {
		fmt.Fprintf(w, "  %s: %s\n", l.T("bimi.severity."+string(f.Severity)), l.Say(f.Message))
		if !f.Fix.IsZero() {
			fmt.Fprintf(w, "    %s %s\n", l.T("bimi.fix"), l.Say(f.Fix))
		}
	}
	fmt.Fprintln(w)
}
