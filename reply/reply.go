// Package reply decides whether a probe gets its verdict mailed back, to
// whom, and writes that reply. The rules come from RFC 3834: no reply to a
// null sender, to automatic or list mail, to postmaster or mailer-daemon,
// or to testerd's own addresses; then the operator's --reply mode and the
// hourly limits per recipient address, recipient domain and probe client
// IP, which the store applies in the transaction that enqueues the reply.
// A recipient such as spf+jsmith=example.com@tester sends the reply to
// jsmith@example.com instead of MAIL FROM. The reply carries the tags and
// the original Subject (../shared/docs/verdicts.md), the full explanation,
// the /r/{id} link and the probe's Authentication-Results; it goes out
// from the null sender with Auto-Submitted: auto-replied, so nothing can
// bounce it back into a loop. The outbound package signs and delivers it.
package reply

import (
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/testerd/testerd/bounce"
	"github.com/testerd/testerd/explain"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/spf"
)

// Mode says which probes get a reply.
type Mode string

// Modes.
const (
	// Always replies to every probe the rules allow.
	Always Mode = "always"
	// Authenticated replies only when SPF or DKIM passed for a domain
	// aligned (relaxed, as DMARC) with the reply's recipient domain.
	Authenticated Mode = "authenticated"
	// Off never replies.
	Off Mode = "off"
)

// ParseMode reads --reply.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Always, Authenticated, Off:
		return m, nil
	}
	return "", fmt.Errorf("reply mode must be always, authenticated or off, not %q", s)
}

// Limits are replies an hour; 0 is no limit. PerRedirect is for replies
// a redirect sends to an address that did not authenticate the probe.
type Limits struct {
	PerAddress, PerDomain, PerClientIP int
	// PerRedirect and PerRedirectDomain bound the redirected replies to
	// an address (its mailbox) and to a domain the probe did not
	// authenticate for.
	PerRedirect, PerRedirectDomain int
}

// DefaultLimits: enough for anyone testing their setup, too few to make
// the tester a useful spam cannon through the redirect syntax.
var DefaultLimits = Limits{PerAddress: 10, PerDomain: 100, PerClientIP: 30, PerRedirect: 3, PerRedirectDomain: 10}

// kindBounce is kind.Bounce, for the functions whose kind parameter
// hides the package.
const kindBounce = kind.Bounce

// DefaultDisplayName is the From display name of replies.
const DefaultDisplayName = "testerd"

// Planner decides whether a judged probe gets a reply, to whom, and
// writes it: what Plan needs to know of the tester and its limits.
type Planner struct {
	// Domain is the tester domain; replies come from kind@Domain.
	Domain string
	// Hostname is this host's name, for Message-IDs.
	Hostname    string
	DisplayName string
	// BaseURL is the web address the /r/{id} link starts with.
	BaseURL string
	Mode    Mode
	Limits  Limits
	// Lang is the language of replies to probes that ask for none (a
	// recipient such as check+it@ asks for Italian).
	Lang i18n.Lang
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// maxSubject bounds the original Subject copied into the reply.
const maxSubject = 400

// Plan returns the reply to a judged probe, queued or suppressed with
// its reason, or nil for mail that is not a probe (postmaster@) and
// when replies are off (--reply off): then no probe has a reply, the
// pages say so from the setting, and storing a suppressed row for each
// would cost every probe a row and its index entries for nothing.
func (c *Planner) Plan(p *store.Probe, v *verify.Verdict) *store.Outgoing {
	if !p.Kind.Answered() || c.Mode == Off {
		return nil
	}
	k := p.Kind
	now := time.Now()
	if c.Now != nil {
		now = c.Now()
	}
	o := &store.Outgoing{ID: store.NewID(), Created: now, State: store.Queued, ClientIP: p.ClientIP.String()}
	const hour = time.Hour
	o.Limits = []store.Limit{
		{Key: store.ByRcpt, Max: c.Limits.PerAddress, Per: hour, Reason: i18n.M("why.limit-address", c.Limits.PerAddress)},
		{Key: store.ByRcptDomain, Max: c.Limits.PerDomain, Per: hour, Reason: i18n.M("why.limit-domain", c.Limits.PerDomain)},
		{Key: store.ByClientIP, Max: c.Limits.PerClientIP, Per: hour, Reason: i18n.M("why.limit-ip", c.Limits.PerClientIP)},
	}
	to, why := c.target(p)
	if to != "" {
		o.Rcpt = to
		o.RcptDomain = to[strings.LastIndexByte(to, '@')+1:]
		o.Authenticated = authenticated(v, o.RcptDomain)
	}
	if why.IsZero() {
		why = c.suppress(p, v, o.Rcpt, o.RcptDomain)
	}
	if !why.IsZero() {
		o.State, o.Reason = store.Suppressed, why
		return o
	}
	// A redirect to an address the probe did not authenticate for could
	// carry a stranger's words to anyone: such a reply holds only
	// testerd's own text, and has a lower limit of its own.
	_, _, redirect := p.Redirect()
	bare := redirect && !o.Authenticated
	if bare {
		o.Limits = append(o.Limits, store.Limit{Key: store.ByRcpt, Max: c.Limits.PerRedirect, Per: hour,
			Reason: i18n.M("why.limit-redirect", c.Limits.PerRedirect)},
			store.Limit{Key: store.ByRcptDomain, Max: c.Limits.PerRedirectDomain, Per: hour,
				Reason: i18n.M("why.limit-redirect-domain", c.Limits.PerRedirectDomain)})
	}
	o.MessageID = "<" + o.ID + "@" + c.Hostname + ">"
	data, err := c.compose(p, v, k, o, bare)
	if err != nil {
		o.State, o.Reason = store.Suppressed, i18n.M("why.compose", err.Error())
		return o
	}
	o.Data = data
	return o
}

// target is where the reply goes: the redirect of the recipient's
// extension, or MAIL FROM. With no usable address it says why.
func (c *Planner) target(p *store.Probe) (string, i18n.Msg) {
	if local, domain, ok := p.Redirect(); ok {
		addr, err := address(local, domain)
		if err != nil {
			return "", i18n.M("why.redirect", untrusted.Clip(p.Extension, 100), err.Error())
		}
		return addr, i18n.Msg{}
	}
	if p.MailFrom == "" {
		return "", i18n.M("why.null-sender")
	}
	at := strings.LastIndexByte(p.MailFrom, '@')
	if at < 0 {
		return "", i18n.M("why.no-domain")
	}
	addr, err := address(p.MailFrom[:at], p.MailFrom[at+1:])
	if err != nil {
		return "", i18n.M("why.bad-address", err.Error())
	}
	return addr, i18n.Msg{}
}

// address checks a local part (dot-atom, UTF-8 allowed) and a domain, and
// returns them joined with the domain normalized.
func address(local, domain string) (string, error) {
	if local == "" || len(local) > 64 {
		return "", fmt.Errorf("the local part must be 1 to 64 octets")
	}
	if !utf8.ValidString(local) {
		return "", fmt.Errorf("the local part is not UTF-8")
	}
	for _, atom := range strings.Split(local, ".") {
		if atom == "" {
			return "", fmt.Errorf("the local part %q has an empty dot-atom", untrusted.Clip(local, 64))
		}
		for _, r := range atom {
			if r < 0x80 && !strings.ContainsRune("!#$%&'*+-/=?^_`{|}~", r) &&
				!('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
				return "", fmt.Errorf("the local part %q has %q, which needs quoting", untrusted.Clip(local, 64), r)
			}
		}
	}
	d, err := message.Domain(domain)
	if err != nil {
		return "", err
	}
	return local + "@" + d, nil
}

// suppress returns why no reply may go, or zero.
func (c *Planner) suppress(p *store.Probe, v *verify.Verdict, to, toDomain string) i18n.Msg {
	if p.MailFrom == "" {
		return i18n.M("why.null-sender")
	}
	auto := v.Message.Automatic
	for _, kw := range auto.AutoSubmitted {
		if kw != "no" {
			return i18n.M("why.auto-submitted", untrusted.Clip(kw, 40))
		}
	}
	for _, prec := range auto.Precedence {
		if prec == "bulk" || prec == "junk" || prec == "list" || prec == "auto_reply" {
			return i18n.M("why.precedence", prec)
		}
	}
	for _, f := range auto.Fields {
		if strings.HasPrefix(f, "X-Auto") {
			return i18n.M("why.auto-field", f)
		}
		return i18n.M("why.list-field", f)
	}
	if xs := auto.Suppress; strings.Contains(xs, "all") || strings.Contains(xs, "autoreply") {
		return i18n.M("why.suppress", untrusted.Clip(xs, 40))
	}
	for _, addr := range []string{p.MailFrom, to} {
		if why := c.special(addr); !why.IsZero() {
			return why
		}
	}
	if c.Mode == Authenticated && !authenticated(v, toDomain) {
		return i18n.M("why.unauthenticated", toDomain)
	}
	return i18n.Msg{}
}

// special says why an address never gets a reply: it is a role that
// must not be answered automatically, or one of testerd's own.
func (c *Planner) special(addr string) i18n.Msg {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return i18n.Msg{}
	}
	local, domain := strings.ToLower(addr[:at]), strings.ToLower(strings.TrimSuffix(addr[at+1:], "."))
	base, _, _ := strings.Cut(local, "+")
	switch {
	case base == "mailer-daemon" || base == "postmaster" || base == "listserv" || base == "majordomo" ||
		strings.HasPrefix(base, "owner-") || strings.HasSuffix(base, "-request"):
		return i18n.M("why.system-address", untrusted.Clip(addr, 100))
	case domain == c.Domain || domain == c.Hostname || strings.HasSuffix(domain, "."+c.Domain):
		return i18n.M("why.own-address", untrusted.Clip(addr, 100))
	}
	return i18n.Msg{}
}

// authenticated: SPF passed for MAIL FROM, or a DKIM signature passed,
// with a domain in the same organizational domain as toDomain.
func authenticated(v *verify.Verdict, toDomain string) bool {
	org := dmarc.PSLOrgDomain(toDomain)
	if v.SPF != nil && v.SPF.MailFrom != nil && v.SPF.MailFrom.Result == spf.Pass &&
		dmarc.PSLOrgDomain(v.SPF.MailFrom.Domain) == org {
		return true
	}
	if v.DKIM != nil {
		for _, s := range v.DKIM.Signatures {
			if s.Result == dkim.Pass && dmarc.PSLOrgDomain(s.Domain) == org {
				return true
			}
		}
	}
	return false
}

// compose writes the reply message, unsigned. A bare reply carries only
// testerd's own words: the tags, no Subject echo, no explanation.
func (c *Planner) compose(p *store.Probe, v *verify.Verdict, kind kind.Kind, o *store.Outgoing, bare bool) ([]byte, error) {
	var h message.Header
	name := c.DisplayName
	if name == "" {
		name = DefaultDisplayName
	}
	from := string(kind) + "@" + c.Domain
	h.Add("From", (&mail.Address{Name: name, Address: from}).String())
	h.Add("To", "<"+o.Rcpt+">")
	switch {
	case p.Kind == kindBounce:
		h.Add("Subject", c.LangOf(p).T("bounce.reply.subject"))
	case bare:
		h.Add("Subject", strings.Join(v.Tags, " "))
	default:
		h.Add("Subject", subject(v))
	}
	h.Add("Date", o.Created.Format(time.RFC1123Z))
	h.Add("Message-ID", o.MessageID)
	if id := message.MsgID(v.Message.MessageID); id != "" {
		h.Add("In-Reply-To", id)
		h.Add("References", strings.Join(append(v.Message.References, id), " "))
	}
	h.Add("Auto-Submitted", "auto-replied")
	h.Add("X-Auto-Response-Suppress", "All")
	body := c.body(p, v, kind, o.Rcpt)
	if bare {
		body = c.bareBody(p, v, kind)
	}
	return message.Text(&h, body)
}

// subject is the tags, one space, and the original Subject, which is
// encoded (RFC 2047) when it is not ASCII.
func subject(v *verify.Verdict) string {
	s := strings.Join(v.Tags, " ")
	orig := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(v.Message.Subject, "?"))
	orig = strings.TrimSpace(orig)
	if len(orig) > maxSubject { // cut with ASCII dots, so ASCII stays unencoded
		orig = strings.TrimSuffix(untrusted.Clip(orig, maxSubject), "…") + "..."
	}
	if orig == "" {
		return s
	}
	for i := 0; i < len(orig); i++ {
		if orig[i] >= 0x80 {
			orig = mime.QEncoding.Encode("utf-8", orig)
			break
		}
	}
	return s + " " + orig
}

// Lang is the language of the reply to p: the one its recipient asks for
// (check+it@), else the server's.
func (c *Planner) LangOf(p *store.Probe) i18n.Lang {
	if p.Lang != "" {
		return p.Lang
	}
	if c.Lang != "" {
		return c.Lang
	}
	return i18n.Default
}

// body is the reply text, all in the probe's language: the diagnosis,
// the verdict and link, then the full explanation and the
// Authentication-Results.
func (c *Planner) body(p *store.Probe, v *verify.Verdict, kind kind.Kind, to string) string {
	l := c.LangOf(p)
	var b strings.Builder
	if p.Kind == kindBounce {
		// The explanation first; then, as for check@, the forward's own
		// authentication, which says something of the sender too.
		s := bounce.Explain(p.Raw).In(l, "check@"+c.Domain, "")
		bounce.WriteText(&b, s, l)
		fmt.Fprintf(&b, "\n\n== %s\n\n", l.T("bounce.reply.own"))
	}
	c.writeIntro(&b, l, p, v, kind)
	b.WriteString("\n")
	explain.Diagnose(v, explain.Options{Lang: l, TesterDomain: c.Domain}).WriteText(&b)
	fmt.Fprintf(&b, "\n\n== %s\n\n", l.T("result.details"))
	v.WriteText(&b, c.Hostname, l)
	fmt.Fprintf(&b, "\n== %s\n", l.T("reply.authres"))
	b.WriteString(v.FoldedAuthResults())
	b.WriteString("\n\n-- \n")
	fmt.Fprintf(&b, "%s\n", l.T("reply.footer", to, untrusted.Clip(p.MailFrom, 200), p.ClientIP.String(), untrusted.Clip(p.Helo, 200)))
	// The hint keeps the language the probe asked for: check+it+you=….
	local := string(kind)
	if p.Address.Lang != "" {
		local += "+" + string(p.Address.Lang)
	}
	fmt.Fprintf(&b, "%s\n", l.T("reply.redirect", local+"+you=example.com@"+c.Domain))
	if l == i18n.EN {
		fmt.Fprintf(&b, "%s\n", l.T("reply.ask-it", string(kind)+"+it@"+c.Domain))
	}
	return b.String()
}

// writeIntro writes the lines every reply opens with: what was received,
// the verdict's tags and the link to the report.
func (c *Planner) writeIntro(b *strings.Builder, l i18n.Lang, p *store.Probe, v *verify.Verdict, kind kind.Kind) {
	fmt.Fprintf(b, "%s\n\n", l.T("reply.received", c.Domain, string(kind)+"@"+c.Domain))
	fmt.Fprintf(b, "%s %s\n", l.T("reply.verdict"), strings.Join(v.Tags, " "))
	if c.BaseURL != "" {
		// The link carries the probe's key: it opens the full record,
		// which the public view masks.
		fmt.Fprintf(b, "%s %s\n", l.T("reply.report"), strings.TrimSuffix(c.BaseURL, "/")+p.ResultPath())
	}
}

// bareBody is a redirected reply's text: the verdict and the link, in
// testerd's words only.
func (c *Planner) bareBody(p *store.Probe, v *verify.Verdict, kind kind.Kind) string {
	l := c.LangOf(p)
	var b strings.Builder
	c.writeIntro(&b, l, p, v, kind)
	fmt.Fprintf(&b, "\n%s\n", l.T("reply.bare"))
	return b.String()
}
