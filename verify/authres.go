package verify

import (
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/verify/dkim"
)

// authResults renders the Authentication-Results value (RFC 8601) for the
// whole verdict: spf, one dkim result per signature, dmarc. Every value
// from the probe or DNS goes through untrusted.Printable, so no CR or LF
// can reach the header.
func (v *Verdict) authResults(receiver string) string {
	results := []authres.Result{v.SPF.Effective().AuthResult()}
	if len(v.DKIM.Signatures) == 0 {
		results = append(results, &authres.DKIMResult{Value: authres.ResultNone})
	}
	for _, s := range v.DKIM.Signatures {
		params := map[string]string{
			"header.d": untrusted.Printable(s.Domain),
			"header.s": untrusted.Printable(s.Selector),
			"header.a": untrusted.Printable(s.Algorithm),
		}
		if s.Identifier != "" {
			params["header.i"] = untrusted.Printable(s.Identifier)
		}
		if s.Result != dkim.Pass {
			params["reason"] = untrusted.Printable(shortReason(s))
		}
		results = append(results, &authres.GenericResult{Method: "dkim", Value: dkimValue(s.Result), Params: params})
	}
	dm := &authres.DMARCResult{Value: authres.ResultValue(v.DMARC.Result), From: untrusted.Printable(v.From.Domain)}
	if v.DMARC.Result != "pass" {
		dm.Reason = untrusted.Printable(i18n.EN.Say(v.DMARC.Reason))
	}
	results = append(results, dm)
	parts := make([]string, len(results))
	for i, r := range results {
		parts[i] = strings.TrimSpace(strings.TrimPrefix(authres.Format("", []authres.Result{r}), "; "))
	}
	id := untrusted.Printable(receiver)
	if id == "" {
		id = "testerd"
	}
	return id + "; " + strings.Join(parts, "; ")
}

// dkimValue maps a signature result to RFC 8601 §2.7.1: an unusable
// signature or key is permerror.
func dkimValue(r dkim.Result) authres.ResultValue {
	switch r {
	case dkim.Pass:
		return authres.ResultPass
	case dkim.Fail:
		return authres.ResultFail
	case dkim.TempError:
		return authres.ResultTempError
	}
	return authres.ResultPermError
}

// FoldedAuthResults is the header field, folded between results so long
// verdicts stay under the 998-octet line limit.
func (v *Verdict) FoldedAuthResults() string {
	var b strings.Builder
	b.WriteString("Authentication-Results: ")
	s := v.AuthenticationResults
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted && i+1 < len(s):
			b.WriteByte(c)
			i++
			b.WriteByte(s[i])
		case c == '"':
			quoted = !quoted
			b.WriteByte(c)
		case c == ';' && !quoted && i+1 < len(s) && s[i+1] == ' ':
			b.WriteString(";\r\n\t")
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// shortReason sums up a signature's result for the reason= of
// Authentication-Results; the verdict keeps the full sentence.
func shortReason(s *dkim.Signature) string {
	switch {
	case s.Result == dkim.Fail:
		return strings.Join(s.Failed, " and ") + " did not verify"
	case s.Result == dkim.TempError:
		return "key lookup " + s.KeyLookup
	case s.Problem != nil && s.Problem.Tag != "":
		return "invalid " + s.Problem.In + " tag " + s.Problem.Tag + "="
	case s.Problem != nil && s.Problem.In == "dns":
		return "no key record"
	}
	return "invalid signature"
}
