package spf

import (
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/authres"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
)

// reason says in one sentence why ev.Result is what it is.
func reason(ev *Evaluation) i18n.Msg {
	id := i18n.M("spf.id.mailfrom", ev.Domain)
	if ev.Identity == IdentityHelo {
		id = i18n.M("spf.id.helo", ev.Domain)
	}
	var via i18n.Msg
	if len(ev.MatchPath) > 1 {
		var hops []string
		for _, r := range ev.MatchPath[:len(ev.MatchPath)-1] {
			hops = append(hops, r.Term)
		}
		via = i18n.M("spf.reason.via", strings.Join(hops, " → "))
	}
	last := TermRef{}
	if len(ev.MatchPath) > 0 {
		last = ev.MatchPath[len(ev.MatchPath)-1]
	}
	ip := ev.IP.String()
	switch ev.Result {
	case Pass:
		return i18n.M("spf.reason.pass", id, ip, last.Term, last.Domain, via)
	case Fail, SoftFail, Neutral:
		if last.Term == "" {
			return i18n.M("spf.reason.default", id, ip, string(ev.Result))
		}
		return i18n.M("spf.reason.fail", id, ip, last.Term, last.Domain, via, string(ev.Result))
	case None:
		var note i18n.Msg
		if ev.Trace != nil {
			note = ev.Trace.Note
		}
		return i18n.M("spf.reason.none", id, note)
	case PermError, TempError:
		kind := "perm"
		if ev.Result == TempError {
			kind = "temp"
		}
		p := ev.Problem
		if p == nil {
			return i18n.M("spf.reason."+kind, id)
		}
		if p.Term != "" {
			return i18n.M("spf.reason."+kind+"-at", id, p.Reason, p.Term, p.Column, p.Domain)
		}
		return i18n.M("spf.reason."+kind+"-why", id, p.Reason)
	}
	return i18n.Msg{}
}

// ReceivedSPF renders the value of a Received-SPF header field (RFC 7208
// §9.1) for ev, as written by receiver (the tester's host name). Every
// value from the probe or DNS is reduced to printable ASCII without CR or
// LF, and quoted where it is not a dot-atom.
func (ev *Evaluation) ReceivedSPF(receiver string) string {
	var comment string
	switch ev.Result {
	case Pass:
		comment = fmt.Sprintf("%s: domain of %s designates %s as permitted sender", receiver, ev.Sender, ev.IP)
	case Fail:
		comment = fmt.Sprintf("%s: domain of %s does not designate %s as permitted sender", receiver, ev.Sender, ev.IP)
	case SoftFail:
		comment = fmt.Sprintf("%s: domain of transitioning %s does not designate %s as permitted sender", receiver, ev.Sender, ev.IP)
	case Neutral:
		comment = fmt.Sprintf("%s: %s is neither permitted nor denied by domain of %s", receiver, ev.IP, ev.Sender)
	case None:
		comment = fmt.Sprintf("%s: domain of %s does not provide an SPF record", receiver, ev.Sender)
	case TempError:
		comment = fmt.Sprintf("%s: error in processing during lookup of %s", receiver, ev.Sender)
	case PermError:
		comment = fmt.Sprintf("%s: permanent error in processing domain of %s", receiver, ev.Sender)
	}
	var b strings.Builder
	b.WriteString(string(ev.Result))
	b.WriteString(" (" + commentText(comment) + ")")
	kv := func(k, v string) {
		b.WriteString(" " + k + "=" + headerValue(v) + ";")
	}
	kv("client-ip", ev.IP.String())
	if ev.Identity == IdentityMailFrom {
		kv("envelope-from", ev.Sender)
	}
	if ev.Helo != "" {
		kv("helo", ev.Helo)
	}
	if receiver != "" {
		kv("receiver", receiver)
	}
	kv("identity", string(ev.Identity))
	if ev.Matched != "" {
		kv("mechanism", ev.Matched)
	}
	if ev.Problem != nil && ev.Result == PermError {
		kv("problem", i18n.EN.Say(ev.Problem.Reason))
	}
	return strings.TrimSuffix(b.String(), ";")
}

// AuthResult is ev as go-msgauth's authres.SPFResult, for an
// Authentication-Results header (RFC 8601 §2.7.2).
func (ev *Evaluation) AuthResult() *authres.SPFResult {
	r := &authres.SPFResult{Value: authres.ResultValue(ev.Result)}
	if ev.Identity == IdentityMailFrom {
		r.From = untrusted.Printable(ev.Sender)
	} else {
		r.Helo = untrusted.Printable(ev.Domain)
	}
	return r
}

// AuthResultsPart renders the "spf=..." part of Authentication-Results.
func (ev *Evaluation) AuthResultsPart() string {
	s := authres.Format("", []authres.Result{ev.AuthResult()})
	return strings.TrimSpace(strings.TrimPrefix(s, "; "))
}

// headerValue writes v as a dot-atom when it is one, else as a
// quoted-string (RFC 5322 §3.2).
func headerValue(v string) string {
	v = untrusted.Printable(v)
	atom := v != ""
	for i := 0; i < len(v) && atom; i++ {
		c := v[i]
		atom = isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0
	}
	if atom {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// commentText escapes a header comment's content (RFC 5322 §3.2.2).
func commentText(s string) string {
	return strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(untrusted.Printable(s))
}
