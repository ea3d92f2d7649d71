package requirements

import (
	"bytes"
	"context"
	"encoding/binary"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/unsubscribe"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/spf"
)

// shown makes a stranger's string one bounded line of evidence.
func shown(s string) string { return untrusted.Line(s, 200) }

// m is i18n.M, short for the many messages here.
var m = i18n.M

// checkAuth: every sender must pass SPF or DKIM (Gmail 5.7.26).
func checkAuth(spfPass, dkimPass bool) Item {
	it := Item{ID: "auth", Evidence: []i18n.Msg{m("ev.auth", yesNo(spfPass), yesNo(dkimPass))}}
	if spfPass || dkimPass {
		it.Status = Pass
		return it
	}
	it.Status, it.Problem, it.Fix = Fail, m("req.auth.problem"), m("req.auth.fix")
	return it
}

func checkSPF(in Input, pass bool) Item {
	it := Item{ID: "spf"}
	var e *spf.Evaluation
	if in.SPF != nil {
		e = in.SPF.Effective()
	}
	if e == nil {
		it.Status, it.Problem, it.Fix = Fail, m("req.spf.no-identity"), m("req.spf.fix-identity")
		return it
	}
	it.Evidence = append(it.Evidence, m("ev.spf", string(e.Result), shown(e.Domain), string(e.Identity), in.IP.String()))
	if e.Record != "" {
		it.Evidence = append(it.Evidence, m("ev.record", shown(e.Record)))
	}
	if pass {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	switch e.Result {
	case spf.None:
		it.Problem, it.Fix = m("req.spf.none", shown(e.Domain)), m("req.spf.fix-publish", shown(e.Domain), e.IP.String())
	case spf.PermError:
		it.Problem, it.Fix = m("req.spf.permerror", shown(e.Domain)), m("req.spf.fix-record", shown(e.Domain))
	case spf.TempError:
		it.Problem, it.Fix = m("req.spf.temperror", shown(e.Domain)), m("req.spf.fix-record", shown(e.Domain))
	default:
		it.Problem = m("req.spf.problem", string(e.Result), shown(e.Domain), e.IP.String())
		it.Fix = m("req.spf.fix-authorize", e.IP.String(), shown(e.Domain))
	}
	return it
}

func checkDKIM(in Input, pass bool) Item {
	it := Item{ID: "dkim"}
	if in.DKIM == nil || len(in.DKIM.Signatures) == 0 {
		it.Status, it.Problem, it.Fix = Fail, m("req.dkim.none"), m("req.dkim.fix-sign", shown(in.From.Domain))
		it.Evidence = append(it.Evidence, m("ev.dkim.none"))
		return it
	}
	var warns []i18n.Msg
	for _, s := range in.DKIM.Signatures {
		key := m("ev.dkim.key-unknown")
		switch {
		case s.Key != nil && s.Key.Type == "ed25519":
			key = m("ev.dkim.key-ed25519")
		case s.Key != nil && s.Key.Bits > 0:
			key = m("ev.dkim.key-rsa", strconv.Itoa(s.Key.Bits))
		}
		it.Evidence = append(it.Evidence, m("ev.dkim.sig", shown(s.Domain), shown(s.Selector), shown(s.Algorithm), string(s.Result), key))
		if s.Algorithm == "rsa-sha1" {
			warns = append(warns, m("ev.dkim.sha1"))
		}
		if s.Key != nil && s.Key.Type != "ed25519" && s.Key.Bits > 0 {
			switch {
			case s.Key.Bits < dkim.MinRSABits:
				warns = append(warns, m("ev.dkim.key-refused", shown(s.Selector), strconv.Itoa(s.Key.Bits)))
			case s.Key.Bits < 2048:
				warns = append(warns, m("ev.dkim.key-short", shown(s.Selector), strconv.Itoa(s.Key.Bits)))
			}
		}
		if s.BodyLength != nil {
			warns = append(warns, m("ev.dkim.l", shown(s.Selector)))
		}
	}
	it.Evidence = append(it.Evidence, warns...)
	switch {
	case !pass:
		s := in.DKIM.Signatures[0]
		it.Status, it.Problem, it.Fix = Fail, m("req.dkim.problem", len(in.DKIM.Signatures)), m("req.dkim.fix-pass", shown(s.Selector), shown(s.Domain))
	case len(warns) > 0:
		it.Status, it.Problem, it.Fix = Warn, warns[0], m("req.dkim.fix-rotate")
	default:
		it.Status = Pass
	}
	return it
}

func yesNo(b bool) i18n.Msg {
	if b {
		return m("word.yes")
	}
	return m("word.no")
}

func checkAlignment(in Input) Item {
	it := Item{ID: "alignment"}
	d := in.DMARC
	if d == nil || d.FromDomain == "" {
		it.Status, it.Problem, it.Fix = Fail, m("req.alignment.no-from"), m("req.alignment.fix-from")
		if !in.From.Problem.IsZero() {
			it.Evidence = append(it.Evidence, m("ev.from-problem", in.From.Problem))
		}
		return it
	}
	it.Evidence = append(it.Evidence, m("ev.alignment", shown(d.FromDomain), shown(d.SPF.Domain), yesNo(d.SPFAligned), yesNo(d.DKIMAligned)))
	if d.Result == dmarc.TempError {
		it.Status, it.Problem, it.Fix = Warn, m("req.alignment.temperror", shown(d.FromDomain)), m("req.alignment.fix-temperror")
		return it
	}
	if d.SPFAligned || d.DKIMAligned {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	switch d.Disposition {
	case dmarc.PolicyReject:
		it.Problem = m("req.alignment.reject", shown(d.FromDomain), d.PolicyTag)
	case dmarc.PolicyQuarantine:
		it.Problem = m("req.alignment.quarantine", shown(d.FromDomain), d.PolicyTag)
	default:
		it.Problem = m("req.alignment.problem", shown(d.FromDomain))
	}
	it.Fix = m("req.alignment.fix", shown(d.OrgDomain))
	return it
}

// checkDMARC checks the From domain's record. r may be nil (Auth): the
// external report destinations are then not looked up.
func checkDMARC(ctx context.Context, r dnsx.Resolver, in Input) Item {
	it := Item{ID: "dmarc"}
	d := in.DMARC
	if d == nil || d.Discovery == nil {
		it.Status, it.Problem, it.Fix = Fail, m("req.alignment.no-from"), m("req.alignment.fix-from")
		return it
	}
	disc := d.Discovery
	if disc.Record == nil {
		it.Evidence = append(it.Evidence, m("ev.text", disc.Reason))
		switch {
		case disc.Result == dmarc.TempError:
			it.Status, it.Problem = Warn, m("req.dmarc.temperror", shown(d.FromDomain))
		case disc.Syntax != nil:
			it.Status, it.Problem, it.Fix = Fail, m("req.dmarc.unusable", "_dmarc."+shown(disc.Domain), disc.Syntax.Reason), m("req.dmarc.fix-correct", "_dmarc."+shown(disc.Domain))
		default:
			it.Status, it.Problem, it.Fix = Fail, m("req.dmarc.none", shown(d.FromDomain)), m("req.dmarc.fix-publish", "_dmarc."+shown(d.OrgDomain))
		}
		return it
	}
	rec := disc.Record
	it.Evidence = append(it.Evidence, m("ev.dmarc.record", "_dmarc."+shown(disc.Domain), shown(rec.Raw)))
	it.Status = Pass
	var fixes []i18n.Msg
	for _, is := range rec.Issues {
		it.Evidence = append(it.Evidence, m("ev.dmarc.issue", is.Tag, is.Message))
		if is.Severity == dmarc.SeverityError {
			it.Status = Warn
			fixes = append(fixes, m("req.dmarc.fix-tag", is.Tag))
		}
	}
	if len(rec.RUA) == 0 {
		it.Status = Warn
		fixes = append(fixes, m("req.dmarc.fix-rua"))
	}
	for i, uri := range rec.RUA {
		if i == MaxRUA || r == nil {
			break
		}
		host, ok := dmarc.ReportHost(uri)
		if !ok || dmarc.PSLOrgDomain(host) == dmarc.PSLOrgDomain(disc.Domain) {
			continue
		}
		name, ok := dmarc.ExternalDestination(ctx, r, disc.Domain, host)
		if ok {
			it.Evidence = append(it.Evidence, m("ev.dmarc.external-ok", shown(uri), shown(name)))
			continue
		}
		it.Status = Warn
		it.Evidence = append(it.Evidence, m("ev.dmarc.external-missing", shown(uri), shown(name)))
		fixes = append(fixes, m("req.dmarc.fix-external", shown(host), shown(name)))
	}
	if len(fixes) > 0 {
		it.Problem, it.Fix = m("req.dmarc.issues", "_dmarc."+shown(disc.Domain)), m("fixes", fixes)
	}
	return it
}

// checkReverseDNS checks the client's PTR names resolve back to it, and
// returns the first that does ("" for none).
func checkReverseDNS(ctx context.Context, r dnsx.Resolver, ip netip.Addr) (Item, string) {
	it := Item{ID: "rdns"}
	if !ip.IsValid() {
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.no-ip")}
		return it, ""
	}
	names, more, err := dnsx.ReverseConfirm(ctx, r, ip, MaxPTRNames)
	if err != nil {
		k := dnsx.KindOf(err)
		it.Evidence = append(it.Evidence, m("ev.ptr.error", ip.String(), k.String()))
		if k == dnsx.ServFail || k == dnsx.Timeout || k == dnsx.Unreachable || k == dnsx.Refused {
			it.Status, it.Problem = Warn, m("req.rdns.unsure", ip.String())
			return it, ""
		}
		it.Status, it.Problem, it.Fix = Fail, m("req.rdns.none", ip.String()), m("req.rdns.fix-ptr", ip.String())
		return it, ""
	}
	confirmed := ""
	for _, n := range names {
		switch {
		case n.Confirmed:
			it.Evidence = append(it.Evidence, m("ev.ptr.confirmed", ip.String(), shown(n.Name)))
			if confirmed == "" {
				confirmed = n.Name
			}
		case n.Err != nil:
			it.Evidence = append(it.Evidence, m("ev.ptr.no-address", ip.String(), shown(n.Name), dnsx.KindOf(n.Err).String()))
		default:
			it.Evidence = append(it.Evidence, m("ev.ptr.other", ip.String(), shown(n.Name), addrList(n.Addrs)))
		}
	}
	if more > 0 {
		it.Evidence = append(it.Evidence, m("ev.ptr.more", more))
	}
	if confirmed == "" {
		name := ""
		if len(names) > 0 {
			name = shown(names[0].Name)
		}
		it.Status, it.Problem, it.Fix = Fail, m("req.rdns.unconfirmed", ip.String(), name), m("req.rdns.fix-forward", name, ip.String())
		return it, ""
	}
	it.Status = Pass
	return it, confirmed
}

func addrList(as []netip.Addr) string {
	var s []string
	for i, a := range as {
		if i == 5 {
			s = append(s, "…")
			break
		}
		s = append(s, a.String())
	}
	return strings.Join(s, ", ")
}

// generic says why a PTR name looks assigned by an access provider: it
// holds the address's digits, or words such as dynamic or dsl.
func generic(name string, ip netip.Addr) i18n.Msg {
	n := strings.ToLower(name)
	if ip.Is4() || ip.Is4In6() {
		b := ip.Unmap().As4()
		d := [4]string{strconv.Itoa(int(b[0])), strconv.Itoa(int(b[1])), strconv.Itoa(int(b[2])), strconv.Itoa(int(b[3]))}
		for _, sep := range []string{"-", ".", "x", "_"} {
			if strings.Contains(n, strings.Join(d[:], sep)) || strings.Contains(n, d[3]+sep+d[2]+sep+d[1]+sep+d[0]) {
				return m("why.generic-ip")
			}
		}
	}
	labels := strings.FieldsFunc(n, func(r rune) bool { return r == '.' || r == '-' || ('0' <= r && r <= '9') })
	for _, l := range labels {
		switch l {
		case "dynamic", "dyn", "dhcp", "dsl", "adsl", "xdsl", "pool", "cable", "ppp", "pppoe", "dial", "dialup",
			"client", "customer", "cust", "broadband", "ip", "host", "unassigned", "static":
			return m("why.generic-word", l)
		}
	}
	return i18n.Msg{}
}

func checkTLS(tls *string) Item {
	it := Item{ID: "tls"}
	switch {
	case tls == nil:
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.tls.offline")}
	case *tls == "":
		it.Status, it.Evidence = Fail, []i18n.Msg{m("ev.tls.none")}
		it.Problem, it.Fix = m("req.tls.none"), m("req.tls.fix-starttls")
	case *tls == "TLS 1.0" || *tls == "TLS 1.1" || strings.HasPrefix(*tls, "SSL"):
		it.Status, it.Evidence = Fail, []i18n.Msg{m("ev.tls.used", *tls)}
		it.Problem, it.Fix = m("req.tls.old", *tls), m("req.tls.fix-version")
	default:
		it.Status, it.Evidence = Pass, []i18n.Msg{m("ev.tls.used", *tls)}
	}
	return it
}

// singles are the fields RFC 5322 §3.6 allows at most once.
var singles = []string{"Subject", "To", "Cc", "Bcc", "Sender", "Reply-To", "In-Reply-To", "References"}

func checkFormat(in Input) Item {
	it := Item{ID: "format"}
	msg := in.Message
	var fails, warns []i18n.Msg
	count := func(name string) int { return len(msg.Get(name)) }
	if n := count("From"); n != 1 {
		fails = append(fails, m("ev.format.count", n, "From"))
	}
	switch n := count("Date"); {
	case n != 1:
		fails = append(fails, m("ev.format.count", n, "Date"))
	default:
		t, err := mail.ParseDate(msg.First("Date"))
		switch {
		case err != nil:
			fails = append(fails, m("ev.format.date", shown(msg.First("Date"))))
		case !in.Now.IsZero() && t.After(in.Now.Add(24*time.Hour)):
			warns = append(warns, m("ev.format.future", t.Sub(in.Now).Round(time.Hour).String()))
		case !in.Now.IsZero() && t.Before(in.Now.Add(-7*24*time.Hour)):
			warns = append(warns, m("ev.format.past", in.Now.Sub(t).Round(time.Hour).String()))
		}
	}
	switch n := count("Message-ID"); {
	case n != 1:
		fails = append(fails, m("ev.format.count", n, "Message-ID"))
	case message.MsgID(msg.First("Message-ID")) == "":
		fails = append(fails, m("ev.format.msgid", shown(msg.First("Message-ID"))))
	}
	for _, name := range singles {
		if n := count(name); n > 1 {
			fails = append(fails, m("ev.format.repeated", n, name))
		}
	}
	for _, f := range msg.Fields {
		if f.Malformed {
			fails = append(fails, m("ev.format.malformed", shown(f.Raw)))
			break
		}
	}
	if msg.BareLF {
		fails = append(fails, m("ev.format.bare-lf"))
	}
	if bareCR(msg.Raw) {
		fails = append(fails, m("ev.format.bare-cr"))
	}
	switch {
	case msg.LongestLine > MaxLine:
		fails = append(fails, m("ev.format.line", msg.LongestLine))
	case msg.LongestLine > DKIMBreakLine:
		warns = append(warns, m("ev.format.line-dkim", msg.LongestLine))
	}
	if has8bit(msg.Header) {
		warns = append(warns, m("ev.format.8bit"))
	}
	if strings.Contains(in.From.Address, "=?") {
		fails = append(fails, m("ev.format.encoded-address"))
	}
	if len(msg.Header) > MaxHeaderBytes {
		warns = append(warns, m("ev.format.header-size", len(msg.Header)>>10, MaxHeaderBytes>>10))
	}
	fails = append(fails, in.mime.undeclared...)
	it.Evidence = append(fails, warns...)
	switch {
	case len(fails) > 0:
		it.Status, it.Problem, it.Fix = Fail, m("req.format.problem", fails[0]), m("req.format.fix")
	case len(warns) > 0:
		it.Status, it.Problem, it.Fix = Warn, warns[0], m("req.format.fix-warn")
	default:
		it.Status = Pass
		it.Evidence = []i18n.Msg{m("ev.format.ok")}
	}
	return it
}

func bareCR(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\r')
		if i < 0 {
			return false
		}
		if i+1 == len(b) || b[i+1] != '\n' {
			return true
		}
		b = b[i+2:]
	}
}

// has8bit looks at eight octets at a time.
func has8bit(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b)&0x8080808080808080 != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

func checkUnsubscribe(in Input) Item {
	it := Item{ID: "unsubscribe"}
	msg := in.Message
	lu := msg.Get("List-Unsubscribe")
	if len(lu) == 0 {
		it.Status = NA
		it.Evidence = []i18n.Msg{m("ev.unsub.none")}
		return it
	}
	var fails []i18n.Msg
	https := ""
	for _, u := range strings.Split(lu[0].Value(), ",") {
		u = strings.TrimSpace(u)
		if !strings.HasPrefix(u, "<") || !strings.HasSuffix(u, ">") {
			fails = append(fails, m("ev.unsub.brackets", shown(u)))
			continue
		}
		p, err := url.Parse(u[1 : len(u)-1])
		if err == nil && p.Scheme == "https" && p.Host != "" && https == "" {
			https = u[1 : len(u)-1]
		}
	}
	if https == "" {
		fails = append(fails, m("ev.unsub.no-https"))
	} else {
		it.Evidence = append(it.Evidence, m("ev.unsub.https", shown(https)))
	}
	if len(lu) > 1 {
		fails = append(fails, m("ev.unsub.repeated", len(lu)))
	}
	post := msg.Get("List-Unsubscribe-Post")
	if len(post) != 1 || strings.TrimSpace(post[0].Value()) != "List-Unsubscribe=One-Click" {
		fails = append(fails, m("ev.unsub.post"))
	}
	signed := false
	if in.DKIM != nil {
		for _, s := range in.DKIM.Signatures {
			if s.Result == dkim.Pass && s.Signed.ListUnsubscribe && s.Signed.ListUnsubscribePost {
				signed = true
				it.Evidence = append(it.Evidence, m("ev.unsub.signed", shown(s.Domain), shown(s.Selector)))
				break
			}
		}
	}
	if !signed {
		fails = append(fails, m("ev.unsub.unsigned"))
	}
	if len(fails) > 0 {
		it.Status, it.Evidence = Fail, append(it.Evidence, fails...)
		it.Problem, it.Fix = m("req.unsubscribe.problem", fails[0]), m("req.unsubscribe.fix")
		return it
	}
	it.Status = Pass
	return it
}

// oneClickURL is the https URL of List-Unsubscribe, "" for none.
func oneClickURL(msg *message.Message) string {
	lu := msg.Get("List-Unsubscribe")
	if len(lu) == 0 {
		return ""
	}
	for _, u := range strings.Split(lu[0].Value(), ",") {
		u = strings.TrimSpace(u)
		if strings.HasPrefix(u, "<") && strings.HasSuffix(u, ">") {
			if p, err := url.Parse(u[1 : len(u)-1]); err == nil && p.Scheme == "https" && p.Host != "" {
				return u[1 : len(u)-1]
			}
		}
	}
	return ""
}

// checkUnsubscribeTry tries the one-click unsubscription for real, when
// the operator turned it on and the message offers it as RFC 8058 asks
// (the unsubscribe requirement passes).
func checkUnsubscribeTry(ctx context.Context, in Input, unsub Item) Item {
	it := Item{ID: "unsubscribe-try"}
	switch {
	case in.Unsubscribe == nil:
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.unsub-try.off")}
		return it
	case unsub.Status != Pass:
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.unsub-try.not-offered")}
		return it
	}
	r := in.Unsubscribe.Try(ctx, oneClickURL(in.Message))
	it.Evidence = []i18n.Msg{m("ev.unsub-try.tried", shown(r.URL), r.Milliseconds), m("ev.unsub-try.whose")}
	switch r.Outcome {
	case unsubscribe.Works:
		it.Status = Pass
		it.Evidence = append(it.Evidence, m("ev.unsub-try.works", r.Status))
	case unsubscribe.Redirect:
		it.Status, it.Problem, it.Fix = Fail, m("req.unsubscribe-try.redirect", r.Status, shown(r.Location)), m("req.unsubscribe-try.fix-answer")
	case unsubscribe.NoPost:
		it.Status, it.Problem, it.Fix = Fail, m("req.unsubscribe-try.no-post", r.Status), m("req.unsubscribe-try.fix-post")
	case unsubscribe.Refused:
		it.Status, it.Problem, it.Fix = Fail, m("req.unsubscribe-try.refused", r.Status), m("req.unsubscribe-try.fix-answer")
	case unsubscribe.Timeout:
		it.Status, it.Problem, it.Fix = Fail, m("req.unsubscribe-try.timeout", int(unsubscribe.DefaultTimeout/time.Second)), m("req.unsubscribe-try.fix-fast")
	case unsubscribe.NotPublic:
		it.Status, it.Problem, it.Fix = Warn, m("req.unsubscribe-try.not-public", shown(r.Error)), m("req.unsubscribe-try.fix-public")
	default:
		it.Status, it.Problem, it.Fix = Fail, m("req.unsubscribe-try.unreachable", shown(r.Error)), m("req.unsubscribe-try.fix-reach")
	}
	return it
}

func checkGmailFrom(ctx context.Context, r dnsx.Resolver, in Input) Item {
	it := Item{ID: "gmail-from"}
	d := in.From.Domain
	if d != "gmail.com" && d != "googlemail.com" {
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.gmail-from.other")}
		return it
	}
	c := &spf.Checker{Resolver: r}
	out := c.Check(ctx, spf.Params{IP: in.IP, Helo: in.Helo, MailFrom: in.From.Address})
	res := out.Effective().Result
	it.Evidence = []i18n.Msg{m("ev.gmail-from.spf", d, in.IP.String(), string(res))}
	if res == spf.Pass {
		it.Status = Pass
		return it
	}
	it.Status, it.Problem, it.Fix = Fail, m("req.gmail-from.problem", d, in.IP.String()), m("req.gmail-from.fix")
	return it
}

func checkSize(in Input) Item {
	it := Item{ID: "size", Status: Pass}
	it.Evidence = []i18n.Msg{m("ev.size", in.Size)}
	var fixes []i18n.Msg
	if in.Size > GmailClipBytes {
		it.Status, it.Problem = Warn, m("req.size.clipped", in.Size>>10)
		fixes = append(fixes, m("req.size.fix-clip"))
	}
	mm := in.mime
	it.Evidence = append(it.Evidence, mm.summary)
	if len(mm.problems) > 0 {
		it.Status = Warn
		if it.Problem.IsZero() {
			it.Problem = mm.problems[0]
		}
		it.Evidence = append(it.Evidence, mm.problems...)
		fixes = append(fixes, m("req.size.fix-mime"))
	}
	if len(fixes) > 0 {
		it.Fix = m("fixes", fixes)
	}
	return it
}
