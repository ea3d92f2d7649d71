package requirements

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/spf"
)

// shown makes a stranger's string one bounded line of evidence.
func shown(s string) string { return untrusted.Line(s, 200) }

func checkSPF(in Input, pass bool) Item {
	it := Item{ID: "spf", Title: "SPF passes for the envelope sender", Code: "4.7.27", Blocking: true}
	var e *spf.Evaluation
	if in.SPF != nil {
		e = in.SPF.Effective()
	}
	if e == nil {
		it.Status, it.Fix = Fail, "send with a MAIL FROM address whose domain publishes SPF"
		return it
	}
	it.Evidence = append(it.Evidence, fmt.Sprintf("SPF %s for %s (%s identity) from %s", e.Result, shown(e.Domain), e.Identity, in.IP))
	if e.Record != "" {
		it.Evidence = append(it.Evidence, "record: "+shown(e.Record))
	}
	if pass {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	switch e.Result {
	case spf.None:
		it.Fix = fmt.Sprintf("publish an SPF record at %s that includes %s", shown(e.Domain), in.IP)
	case spf.PermError, spf.TempError:
		it.Fix = fmt.Sprintf("fix the SPF record of %s (see the SPF trace) so that it evaluates", shown(e.Domain))
	default:
		it.Fix = fmt.Sprintf("add %s (or the include of the service that sends for you) to the SPF record of %s", in.IP, shown(e.Domain))
	}
	return it
}

func checkDKIM(in Input, pass bool) Item {
	it := Item{ID: "dkim", Title: "DKIM: a signature passes, with a strong key", Code: "4.7.30", Blocking: true}
	if in.DKIM == nil || len(in.DKIM.Signatures) == 0 {
		it.Status, it.Fix = Fail, "sign outgoing mail with DKIM (an RSA-2048 or Ed25519 key) for the From domain"
		it.Evidence = append(it.Evidence, "no DKIM-Signature header")
		return it
	}
	var warns []string
	for _, s := range in.DKIM.Signatures {
		line := fmt.Sprintf("d=%s s=%s a=%s: %s", shown(s.Domain), shown(s.Selector), shown(s.Algorithm), s.Result)
		switch {
		case s.Key != nil && s.Key.Type == "ed25519":
			line += ", Ed25519 key"
		case s.Key != nil && s.Key.Bits > 0:
			line += fmt.Sprintf(", %d-bit RSA key", s.Key.Bits)
		}
		it.Evidence = append(it.Evidence, line)
		if s.Algorithm == "rsa-sha1" {
			warns = append(warns, "rsa-sha1 is not accepted (RFC 8301): sign with rsa-sha256")
		}
		if s.Key != nil && s.Key.Type != "ed25519" && s.Key.Bits > 0 {
			switch {
			case s.Key.Bits < dkim.MinRSABits:
				warns = append(warns, fmt.Sprintf("the key of s=%s has %d bits: below 1024 it is not accepted", shown(s.Selector), s.Key.Bits))
			case s.Key.Bits < 2048:
				warns = append(warns, fmt.Sprintf("the key of s=%s has %d bits: 2048 is recommended", shown(s.Selector), s.Key.Bits))
			}
		}
		if s.BodyLength != nil {
			warns = append(warns, fmt.Sprintf("s=%s uses l=: anyone can append content below the signed part", shown(s.Selector)))
		}
	}
	it.Evidence = append(it.Evidence, warns...)
	switch {
	case !pass:
		it.Status, it.Fix = Fail, "make a signature pass: publish the key, sign after the last change to the message (see each signature's reason)"
	case len(warns) > 0:
		it.Status, it.Fix = Warn, "rotate to a 2048-bit RSA (or Ed25519) key with rsa-sha256, and sign without l="
	default:
		it.Status = Pass
	}
	return it
}

func checkBoth(spfPass, dkimPass bool) Item {
	it := Item{ID: "spf-and-dkim", Title: "Both SPF and DKIM pass (required of bulk senders)", Code: "4.7.27", Blocking: true}
	it.Evidence = []string{fmt.Sprintf("SPF passes: %s; DKIM passes: %s", yesNo(spfPass), yesNo(dkimPass))}
	if spfPass && dkimPass {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	if !spfPass {
		it.Fix = "bulk senders need SPF as well as DKIM: fix SPF first"
	} else {
		it.Fix = "bulk senders need DKIM as well as SPF: sign the mail"
	}
	return it
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func checkAlignment(in Input) Item {
	it := Item{ID: "alignment", Title: "The From domain aligns with SPF or DKIM (DMARC passes)", Code: "4.7.32", Blocking: true}
	d := in.DMARC
	if d == nil || d.FromDomain == "" {
		it.Status, it.Fix = Fail, "send with exactly one From address at a domain you control"
		if in.From.Problem != "" {
			it.Evidence = append(it.Evidence, "From: "+shown(in.From.Problem))
		}
		return it
	}
	it.Evidence = append(it.Evidence, fmt.Sprintf("From domain %s; SPF domain %s aligned: %s; DKIM aligned: %s",
		shown(d.FromDomain), shown(d.SPF.Domain), yesNo(d.SPFAligned), yesNo(d.DKIMAligned)))
	if d.SPFAligned || d.DKIMAligned {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	it.Fix = fmt.Sprintf("sign with d=%s (or a parent), or send with a MAIL FROM under %s that passes SPF", shown(d.OrgDomain), shown(d.OrgDomain))
	return it
}

func checkDMARC(ctx context.Context, r dnsx.Resolver, in Input) Item {
	it := Item{ID: "dmarc", Title: "The From domain publishes a DMARC record (p=none or stricter)", Blocking: true}
	d := in.DMARC
	if d == nil || d.Discovery == nil {
		it.Status, it.Fix = Fail, "fix the From header first: DMARC is looked up for its domain"
		return it
	}
	disc := d.Discovery
	if disc.Record == nil {
		it.Evidence = append(it.Evidence, shown(disc.Reason))
		if disc.Syntax != nil {
			it.Evidence = append(it.Evidence, "syntax: "+shown(disc.Syntax.Error()))
		}
		switch {
		case disc.Result == dmarc.TempError:
			it.Status, it.Fix, it.Blocking = Warn, "the DNS lookup failed: check the domain's name servers and try again", false
		case disc.Syntax != nil:
			it.Status, it.Fix = Fail, fmt.Sprintf("correct the record at _dmarc.%s: v=DMARC1; p=none; rua=mailto:<your reports address>", shown(disc.Domain))
		default:
			it.Status, it.Fix = Fail, fmt.Sprintf("publish at _dmarc.%s: v=DMARC1; p=none; rua=mailto:<your reports address>", shown(d.OrgDomain))
		}
		return it
	}
	rec := disc.Record
	it.Evidence = append(it.Evidence, fmt.Sprintf("_dmarc.%s: %s", shown(disc.Domain), shown(rec.Raw)))
	it.Status = Pass
	var fixes []string
	for _, is := range rec.Issues {
		it.Evidence = append(it.Evidence, fmt.Sprintf("%s: %s=: %s", is.Severity, is.Tag, shown(is.Message)))
		if is.Severity == dmarc.SeverityError {
			it.Status = Warn
			fixes = append(fixes, "correct "+is.Tag+"=")
		}
	}
	if len(rec.RUA) == 0 {
		it.Status = Warn
		fixes = append(fixes, "add rua=mailto:... to receive aggregate reports")
	}
	for i, uri := range rec.RUA {
		if i == MaxRUA {
			break
		}
		host, ok := dmarc.ReportHost(uri)
		if !ok || dmarc.PSLOrgDomain(host) == dmarc.PSLOrgDomain(disc.Domain) {
			continue
		}
		name, ok := dmarc.ExternalDestination(ctx, r, disc.Domain, host)
		if ok {
			it.Evidence = append(it.Evidence, fmt.Sprintf("external rua %s is authorized (%s)", shown(uri), shown(name)))
			continue
		}
		it.Status = Warn
		it.Evidence = append(it.Evidence, fmt.Sprintf("external rua %s: %s has no v=DMARC1 record, so reports to it are not sent (RFC 7489 §7.1)", shown(uri), shown(name)))
		fixes = append(fixes, fmt.Sprintf("ask %s to publish %s TXT \"v=DMARC1\"", shown(host), shown(name)))
	}
	if len(fixes) > 0 {
		it.Fix = strings.Join(fixes, "; ")
	}
	return it
}

func checkReverseDNS(ctx context.Context, r dnsx.Resolver, ip netip.Addr) Item {
	it := Item{ID: "rdns", Title: "Reverse DNS of the sending IP is forward-confirmed", Code: "4.7.23", Blocking: true}
	if !ip.IsValid() {
		it.Status, it.Evidence = NA, []string{"no client IP"}
		return it
	}
	names, more, err := dnsx.ReverseConfirm(ctx, r, ip, MaxPTRNames)
	if err != nil {
		it.Status = Fail
		it.Evidence = append(it.Evidence, fmt.Sprintf("PTR of %s: %v", ip, err))
		it.Fix = fmt.Sprintf("ask whoever hosts %s to set its PTR to your mail server's name, and give that name an A/AAAA record of %s", ip, ip)
		if k := dnsx.KindOf(err); k == dnsx.ServFail || k == dnsx.Timeout || k == dnsx.Unreachable || k == dnsx.Refused {
			it.Status, it.Blocking = Warn, false
			it.Fix = "the reverse lookup failed temporarily: try again"
		}
		return it
	}
	confirmed := ""
	for _, n := range names {
		switch {
		case n.Confirmed:
			it.Evidence = append(it.Evidence, fmt.Sprintf("PTR %s → %s, which resolves back to %s", ip, shown(n.Name), ip))
			if confirmed == "" {
				confirmed = n.Name
			}
		case n.Err != nil:
			it.Evidence = append(it.Evidence, fmt.Sprintf("PTR %s → %s, which does not resolve (%v)", ip, shown(n.Name), n.Err))
		default:
			it.Evidence = append(it.Evidence, fmt.Sprintf("PTR %s → %s, which resolves to %s, not %s", ip, shown(n.Name), addrList(n.Addrs), ip))
		}
	}
	if more > 0 {
		it.Evidence = append(it.Evidence, fmt.Sprintf("%d more PTR names not checked", more))
	}
	if confirmed == "" {
		it.Status = Fail
		it.Fix = fmt.Sprintf("give the PTR name of %s an A/AAAA record pointing back to %s", ip, ip)
		return it
	}
	if why := generic(confirmed, ip); why != "" {
		it.Status = Warn
		it.Evidence = append(it.Evidence, fmt.Sprintf("%s looks generic (%s): receivers treat such names as home or dynamic connections", shown(confirmed), why))
		it.Fix = "set the PTR to a name of your own, such as mail.example.com"
		return it
	}
	it.Status = Pass
	return it
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
func generic(name string, ip netip.Addr) string {
	n := strings.ToLower(name)
	if ip.Is4() || ip.Is4In6() {
		b := ip.Unmap().As4()
		d := [4]string{strconv.Itoa(int(b[0])), strconv.Itoa(int(b[1])), strconv.Itoa(int(b[2])), strconv.Itoa(int(b[3]))}
		for _, sep := range []string{"-", ".", "x", "_"} {
			if strings.Contains(n, strings.Join(d[:], sep)) || strings.Contains(n, d[3]+sep+d[2]+sep+d[1]+sep+d[0]) {
				return "it contains the IP address"
			}
		}
	}
	labels := strings.FieldsFunc(n, func(r rune) bool { return r == '.' || r == '-' || ('0' <= r && r <= '9') })
	for _, l := range labels {
		switch l {
		case "dynamic", "dyn", "dhcp", "dsl", "adsl", "xdsl", "pool", "cable", "ppp", "pppoe", "dial", "dialup",
			"client", "customer", "cust", "broadband", "ip", "host", "unassigned", "static":
			return "the word " + strconv.Quote(l)
		}
	}
	return ""
}

func checkTLS(tls *string) Item {
	it := Item{ID: "tls", Title: "The message came over TLS 1.2 or newer", Code: "4.7.29", Blocking: true}
	switch {
	case tls == nil:
		it.Status, it.Evidence = NA, []string{"offline check: the SMTP session is not known"}
	case *tls == "":
		it.Status, it.Evidence = Fail, []string{"the SMTP session did not use STARTTLS"}
		it.Fix = "enable STARTTLS for outgoing mail on your server (opportunistic TLS is enough)"
	case *tls == "TLS 1.0" || *tls == "TLS 1.1" || strings.HasPrefix(*tls, "SSL"):
		it.Status, it.Evidence = Fail, []string{"the session used " + *tls}
		it.Fix = "allow TLS 1.2 and 1.3 on your server"
	default:
		it.Status, it.Evidence = Pass, []string{"the session used " + *tls}
	}
	return it
}

// singles are the fields RFC 5322 §3.6 allows at most once.
var singles = []string{"Subject", "To", "Cc", "Bcc", "Sender", "Reply-To", "In-Reply-To", "References"}

func checkFormat(in Input) Item {
	it := Item{ID: "format", Title: "The message follows RFC 5322", Code: "5.7.1", Blocking: true}
	m := in.Message
	var fails, warns []string
	count := func(name string) int { return len(m.Get(name)) }
	if n := count("From"); n != 1 {
		fails = append(fails, fmt.Sprintf("%d From fields, not one", n))
	}
	switch n := count("Date"); {
	case n != 1:
		fails = append(fails, fmt.Sprintf("%d Date fields, not one", n))
	default:
		t, err := mail.ParseDate(m.First("Date"))
		switch {
		case err != nil:
			fails = append(fails, "Date does not parse: "+shown(m.First("Date")))
		case !in.Now.IsZero() && t.After(in.Now.Add(24*time.Hour)):
			warns = append(warns, fmt.Sprintf("Date is %s in the future", t.Sub(in.Now).Round(time.Hour)))
		case !in.Now.IsZero() && t.Before(in.Now.Add(-7*24*time.Hour)):
			warns = append(warns, fmt.Sprintf("Date is %s in the past", in.Now.Sub(t).Round(time.Hour)))
		}
	}
	switch n := count("Message-ID"); {
	case n != 1:
		fails = append(fails, fmt.Sprintf("%d Message-ID fields, not one", n))
	case message.MsgID(m.First("Message-ID")) == "":
		fails = append(fails, "Message-ID is not <left@right>: "+shown(m.First("Message-ID")))
	}
	for _, name := range singles {
		if n := count(name); n > 1 {
			fails = append(fails, fmt.Sprintf("%d %s fields, at most one", n, name))
		}
	}
	for _, f := range m.Fields {
		if f.Malformed {
			fails = append(fails, "malformed header line: "+shown(f.Raw))
			break
		}
	}
	if m.BareLF {
		fails = append(fails, "bare LF line ends (lines must end in CRLF)")
	}
	if bareCR(m.Raw) {
		fails = append(fails, "a bare CR (not followed by LF)")
	}
	switch {
	case m.LongestLine > MaxLine:
		fails = append(fails, fmt.Sprintf("a line of %d octets; the limit is 998", m.LongestLine))
	case m.LongestLine > DKIMBreakLine:
		warns = append(warns, fmt.Sprintf("a line of %d octets: relays fold lines over 990, which breaks DKIM (reference 002)", m.LongestLine))
	}
	if has8bit(m.Header) {
		warns = append(warns, "8-bit bytes in the header: they need SMTPUTF8 (RFC 6532); encode them as RFC 2047 words otherwise")
	}
	if strings.Contains(in.From.Address, "=?") {
		fails = append(fails, "the From address holds an RFC 2047 encoded-word, which RFC 2047 §5 forbids in an address (only the display name may be encoded)")
	}
	if len(m.Header) > MaxHeaderBytes {
		warns = append(warns, fmt.Sprintf("the header is %d KB: Gmail refuses headers over its size limit (552-5.3.4); testerd warns above %d KB", len(m.Header)>>10, MaxHeaderBytes>>10))
	}
	fails = append(fails, in.mime.undeclared...)
	it.Evidence = append(fails, warns...)
	switch {
	case len(fails) > 0:
		it.Status, it.Fix = Fail, "fix the header fields listed; most mail libraries produce them right when left to it"
	case len(warns) > 0:
		it.Status, it.Fix, it.Code = Warn, "see the warnings; none blocks delivery alone", ""
	default:
		it.Status, it.Code = Pass, ""
		it.Evidence = []string{"one From, one Date, one Message-ID, no repeated fields, CRLF line ends, lines under 990 octets"}
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
	it := Item{ID: "unsubscribe", Title: "One-click unsubscribe (RFC 8058) for marketing mail"}
	m := in.Message
	lu := m.Get("List-Unsubscribe")
	if len(lu) == 0 {
		it.Status = NA
		it.Evidence = []string{"no List-Unsubscribe: fine for transactional mail; marketing and subscribed mail to Gmail and Yahoo must have one-click unsubscribe"}
		return it
	}
	it.Blocking = true // the sender says this is list mail: it must work
	var fails []string
	https := ""
	for _, u := range strings.Split(lu[0].Value(), ",") {
		u = strings.TrimSpace(u)
		if !strings.HasPrefix(u, "<") || !strings.HasSuffix(u, ">") {
			fails = append(fails, "List-Unsubscribe entry not in <…>: "+shown(u))
			continue
		}
		p, err := url.Parse(u[1 : len(u)-1])
		if err == nil && p.Scheme == "https" && p.Host != "" && https == "" {
			https = u[1 : len(u)-1]
		}
	}
	if https == "" {
		fails = append(fails, "List-Unsubscribe has no https URI (one-click needs one; testerd never fetches it)")
	} else {
		it.Evidence = append(it.Evidence, "List-Unsubscribe https URI: "+shown(https)+
			" (not fetched: it must take the one-click POST of RFC 8058 and unsubscribe at once, not show a landing page)")
	}
	if len(lu) > 1 {
		fails = append(fails, fmt.Sprintf("%d List-Unsubscribe fields", len(lu)))
	}
	post := m.Get("List-Unsubscribe-Post")
	if len(post) != 1 || strings.TrimSpace(post[0].Value()) != "List-Unsubscribe=One-Click" {
		fails = append(fails, "List-Unsubscribe-Post: List-Unsubscribe=One-Click is missing or different")
	}
	signed := false
	if in.DKIM != nil {
		for _, s := range in.DKIM.Signatures {
			if s.Result == dkim.Pass && s.Signed.ListUnsubscribe && s.Signed.ListUnsubscribePost {
				signed = true
				it.Evidence = append(it.Evidence, fmt.Sprintf("both fields are signed by d=%s s=%s", shown(s.Domain), shown(s.Selector)))
				break
			}
		}
	}
	if !signed {
		fails = append(fails, "no passing DKIM signature covers both List-Unsubscribe and List-Unsubscribe-Post in h=")
	}
	if len(fails) > 0 {
		it.Status, it.Evidence = Fail, append(it.Evidence, fails...)
		it.Fix = "send List-Unsubscribe: <https://…>, List-Unsubscribe-Post: List-Unsubscribe=One-Click, and sign both with DKIM"
		return it
	}
	it.Status = Pass
	return it
}

func checkGmailFrom(ctx context.Context, r dnsx.Resolver, in Input) Item {
	it := Item{ID: "gmail-from", Title: "No gmail.com From sent from outside Google", Code: "5.7.26", Blocking: true}
	d := in.From.Domain
	if d != "gmail.com" && d != "googlemail.com" {
		it.Status, it.Evidence = NA, []string{"the From domain is not gmail.com or googlemail.com"}
		return it
	}
	c := &spf.Checker{Resolver: r}
	out := c.Check(ctx, spf.Params{IP: in.IP, Helo: in.Helo, MailFrom: in.From.Address})
	res := out.Effective().Result
	it.Evidence = []string{fmt.Sprintf("SPF of %s for %s: %s", d, in.IP, res)}
	if res == spf.Pass {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	it.Fix = "send From an address at your own domain; Gmail rejects gmail.com From addresses sent from other servers"
	return it
}

func checkSize(in Input) Item {
	it := Item{ID: "size", Title: "Size and MIME structure"}
	it.Evidence = []string{fmt.Sprintf("%d octets", in.Size)}
	it.Status = Pass
	var fixes []string
	if in.Size > GmailClipBytes {
		it.Status = Warn
		it.Evidence = append(it.Evidence, "above 102 KB: Gmail clips the message and hides the rest behind a link")
		fixes = append(fixes, "keep messages under 102 KB (inline CSS, fewer tracking links)")
	}
	mm := in.mime
	it.Evidence = append(it.Evidence, mm.summary)
	if len(mm.problems) > 0 {
		it.Status = Warn
		it.Evidence = append(it.Evidence, mm.problems...)
		fixes = append(fixes, "fix the MIME structure listed")
	}
	it.Fix = strings.Join(fixes, "; ")
	return it
}
