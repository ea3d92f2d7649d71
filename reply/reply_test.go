package reply

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/rcpt"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

var cfg = &Planner{Domain: "tester.example", Hostname: "mx.tester.example", BaseURL: "http://tester.example",
	Mode: Always, Limits: DefaultLimits}

var resolver = func() dnsx.Resolver {
	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ip4:192.0.2.0/24 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(dkimtest.Ed25519("reply").Public()))
	return dnsx.NewFake(z)
}()

// probe judges a message as the server would, from 192.0.2.1 (in abc.it's
// SPF) or from ip.
type probe struct {
	kind, ext, mailFrom, ip string
	headers                 string // extra header lines, CRLF-ended
	subject                 string
	sign                    bool
}

func (p probe) judge(t testing.TB) (*store.Probe, *verify.Verdict) {
	t.Helper()
	if p.kind == "" {
		p.kind = "spf"
	}
	if p.ip == "" {
		p.ip = "192.0.2.1"
	}
	if p.subject == "" {
		p.subject = "Test 1"
	}
	msg := "From: Joe <joe@abc.it>\r\nTo: " + p.kind + "@tester.example\r\nSubject: " + p.subject +
		"\r\nMessage-ID: <m1@abc.it>\r\nReferences: <m0@abc.it> bogus <x y>\r\n" + p.headers + "\r\nHello.\r\n"
	if p.sign {
		sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: dkimtest.Ed25519("reply")})
		if err != nil {
			t.Fatal(err)
		}
		msg = sig + msg
	}
	r := &store.Probe{Address: rcpt.Parse(kind.Kind(p.kind), p.ext), ID: store.NewID(), MailFrom: p.mailFrom,
		ClientIP: netip.MustParseAddr(p.ip), Helo: "mail.abc.it", Raw: []byte(msg), Received: time.Now()}
	k := kind.Kind(p.kind).Judged()
	j := &verify.Judge{Resolver: resolver, Receiver: "mx.tester.example"}
	v := j.Judge(context.Background(), verify.Probe{Kind: k, IP: r.ClientIP, Helo: r.Helo, MailFrom: r.MailFrom, Raw: r.Raw})
	return r, v
}

func TestPlanWritesTheReply(t *testing.T) {
	r, v := probe{mailFrom: "joe@abc.it", sign: true}.judge(t)
	o := cfg.Plan(r, v)
	if o.State != store.Queued || !o.Reason.IsZero() || o.Rcpt != "joe@abc.it" || o.RcptDomain != "abc.it" || o.MailFrom != "" ||
		o.ClientIP != "192.0.2.1" {
		t.Fatalf("planned %+v", o)
	}
	m := message.Parse(o.Data)
	for name, want := range map[string]string{
		"From":                      `"testerd" <spf@tester.example>`,
		"To":                        "<joe@abc.it>",
		"Subject":                   "|OK| spf-pass Test 1",
		"Message-ID":                "<" + o.ID + "@mx.tester.example>",
		"In-Reply-To":               "<m1@abc.it>",
		"References":                "<m0@abc.it> <m1@abc.it>",
		"Auto-Submitted":            "auto-replied",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "quoted-printable",
	} {
		if got := m.First(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if _, err := time.Parse(time.RFC1123Z, m.First("Date")); err != nil {
		t.Errorf("Date: %v", err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(m.Body))))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Verdict: |OK| spf-pass\r\n",
		"Full report: http://tester.example/r/" + r.ID + "\r\n",
		"== SPF: pass",
		"Authentication-Results: mx.tester.example;",
		"dkim=pass",
		"spf+you=example.com@tester.example",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if m.LongestLine > 78 {
		t.Errorf("a line of %d octets", m.LongestLine)
	}
}

func TestSuppressions(t *testing.T) {
	authenticated := *cfg
	authenticated.Mode = Authenticated
	off := *cfg
	off.Mode = Off
	for _, c := range []struct {
		name string
		cfg  *Planner
		p    probe
		want string // "" for queued
	}{
		{"plain", cfg, probe{mailFrom: "joe@abc.it"}, ""},
		{"null sender", cfg, probe{}, "MAIL FROM is null"},
		{"null sender with a redirect", cfg, probe{ext: "joe=abc.it"}, "MAIL FROM is null"},
		{"auto-generated", cfg, probe{mailFrom: "joe@abc.it", headers: "Auto-Submitted: auto-generated\r\n"}, "Auto-Submitted: auto-generated"},
		{"auto-replied with a comment", cfg, probe{mailFrom: "joe@abc.it", headers: "Auto-Submitted: (vacation) Auto-Replied; x=1\r\n"}, "Auto-Submitted: auto-replied"},
		{"Auto-Submitted: no", cfg, probe{mailFrom: "joe@abc.it", headers: "Auto-Submitted: No (a person)\r\n"}, ""},
		{"bulk", cfg, probe{mailFrom: "joe@abc.it", headers: "Precedence: BULK\r\n"}, "Precedence: bulk"},
		{"junk", cfg, probe{mailFrom: "joe@abc.it", headers: "Precedence: junk\r\n"}, "Precedence: junk"},
		{"list", cfg, probe{mailFrom: "joe@abc.it", headers: "Precedence: list\r\n"}, "Precedence: list"},
		{"first-class", cfg, probe{mailFrom: "joe@abc.it", headers: "Precedence: first-class\r\n"}, ""},
		{"List-Id", cfg, probe{mailFrom: "joe@abc.it", headers: "List-Id: <l.abc.it>\r\n"}, "List-Id header"},
		{"List-Unsubscribe", cfg, probe{mailFrom: "joe@abc.it", headers: "List-Unsubscribe: <https://abc.it/u>\r\n"}, "List-Unsubscribe header"},
		{"X-Auto-Response-Suppress", cfg, probe{mailFrom: "joe@abc.it", headers: "X-Auto-Response-Suppress: OOF, AutoReply\r\n"}, "asks for no automatic replies"},
		{"postmaster", cfg, probe{mailFrom: "Postmaster@abc.it"}, "system or list address"},
		{"mailer-daemon", cfg, probe{mailFrom: "MAILER-DAEMON@abc.it"}, "system or list address"},
		{"-request", cfg, probe{mailFrom: "list-request@abc.it"}, "system or list address"},
		{"owner-", cfg, probe{mailFrom: "owner-list@abc.it"}, "system or list address"},
		{"redirect to postmaster", cfg, probe{mailFrom: "joe@abc.it", ext: "postmaster=abc.it"}, "system or list address"},
		{"own address", cfg, probe{mailFrom: "spf@tester.example"}, "tester's own address"},
		{"own host", cfg, probe{mailFrom: "x@mx.tester.example"}, "tester's own address"},
		{"redirect to self", cfg, probe{mailFrom: "joe@abc.it", ext: "dkim=tester.example"}, "tester's own address"},
		{"off: no reply row at all", &off, probe{mailFrom: "joe@abc.it"}, "no reply"},
		{"authenticated by SPF", &authenticated, probe{mailFrom: "joe@abc.it"}, ""},
		{"authenticated by DKIM", &authenticated, probe{mailFrom: "joe@abc.it", ip: "198.51.100.1", sign: true}, ""},
		{"SPF for a subdomain counts (relaxed)", &authenticated, probe{mailFrom: "joe@abc.it", ext: "jo=news.abc.it"}, ""},
		{"not authenticated", &authenticated, probe{mailFrom: "joe@abc.it", ip: "198.51.100.1"}, "neither SPF nor DKIM passed for a domain aligned with abc.it"},
		{"redirect elsewhere", &authenticated, probe{mailFrom: "joe@abc.it", sign: true, ext: "victim=example.org"}, "aligned with example.org"},
		{"postmaster@ mail", cfg, probe{kind: "postmaster", mailFrom: "joe@abc.it"}, "no reply"},
		{"second Auto-Submitted field", cfg, probe{mailFrom: "joe@abc.it", headers: "Auto-Submitted: no\r\nAuto-Submitted: auto-replied\r\n"}, "Auto-Submitted: auto-replied"},
		{"Precedence: auto_reply", cfg, probe{mailFrom: "joe@abc.it", headers: "Precedence: auto_reply\r\n"}, "Precedence: auto_reply"},
		{"X-Autoreply", cfg, probe{mailFrom: "joe@abc.it", headers: "X-Autoreply: yes\r\n"}, "X-Autoreply header"},
		{"X-Autorespond", cfg, probe{mailFrom: "joe@abc.it", headers: "X-Autorespond: yes\r\n"}, "X-Autorespond header"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, v := c.p.judge(t)
			o := c.cfg.Plan(r, v)
			switch {
			case c.want == "no reply":
				if o != nil {
					t.Fatalf("got a reply: %+v", o)
				}
			case c.want == "":
				if o.State != store.Queued || len(o.Data) == 0 {
					t.Fatalf("state %s (%s), want queued", o.State, i18n.EN.Say(o.Reason))
				}
			default:
				if why := i18n.EN.Say(o.Reason); o.State != store.Suppressed || !strings.Contains(why, c.want) || o.Data != nil {
					t.Fatalf("state %s, reason %q; want suppressed with %q", o.State, why, c.want)
				}
			}
		})
	}
}

func TestRedirect(t *testing.T) {
	for ext, want := range map[string]string{
		"":                      "joe@abc.it",
		"newsletter":            "joe@abc.it", // an extension without '=' is not a redirect
		"jsmith=example.com":    "jsmith@example.com",
		"J.Smith=Example.COM.":  "J.Smith@example.com",
		"a=b=example.com":       "a=b@example.com",
		"jo=bücher.example":     "jo@xn--bcher-kva.example",
		"=example.com":          "!the local part must be 1 to 64 octets",
		"jsmith=":               "!empty domain",
		"j..smith=example.com":  "!empty dot-atom",
		"j(s)=example.com":      "!needs quoting",
		"jsmith=[192.0.2.1]":    "!address literal",
		"jsmith=ex ample.com":   "!not a valid domain name",
		"jsmith=a_b.example":    "jsmith@a_b.example",
		"jsmith=-.example\r\nX": "!not a valid domain name",
	} {
		r, v := probe{mailFrom: "joe@abc.it", ext: ext}.judge(t)
		o := cfg.Plan(r, v)
		if strings.HasPrefix(want, "!") {
			if why := i18n.EN.Say(o.Reason); o.State != store.Suppressed || !strings.Contains(why, "the redirect in the recipient") || !strings.Contains(why, want[1:]) {
				t.Errorf("%q: %s %q, want suppressed for %q", ext, o.State, why, want[1:])
			}
			continue
		}
		if o.State != store.Queued || o.Rcpt != want {
			t.Errorf("%q: %s to %q (%s), want queued to %q", ext, o.State, o.Rcpt, o.Reason, want)
		}
	}
}

func TestSubject(t *testing.T) {
	r, v := probe{mailFrom: "joe@abc.it", subject: "Prova è già"}.judge(t)
	m := message.Parse(cfg.Plan(r, v).Data)
	raw := m.First("Subject")
	if !strings.HasPrefix(raw, "|OK| spf-pass =?utf-8?q?") {
		t.Fatalf("Subject %q: the tags stay plain, the original is encoded", raw)
	}
	if dec, err := new(mime.WordDecoder).DecodeHeader(raw); err != nil || dec != "|OK| spf-pass Prova è già" {
		t.Errorf("decoded %q, %v", dec, err)
	}

	// Control characters of the original never reach the header.
	v.Message.Subject = "a\r\nBcc: victim@example.org\x00"
	m = message.Parse(cfg.Plan(r, v).Data)
	if len(m.Get("Bcc")) != 0 || m.First("Subject") != "|OK| spf-pass a  Bcc: victim@example.org" {
		t.Errorf("Subject %q, Bcc %v", m.First("Subject"), m.Get("Bcc"))
	}
	v.Message.Subject = ""
	if s := message.Parse(cfg.Plan(r, v).Data).First("Subject"); s != "|OK| spf-pass" {
		t.Errorf("no original Subject: %q", s)
	}
	// A long one is folded, and clipped.
	v.Message.Subject = strings.Repeat("word ", 200)
	m = message.Parse(cfg.Plan(r, v).Data)
	if m.LongestLine > 78 || len(m.First("Subject")) > maxSubject+40 {
		t.Errorf("longest line %d, Subject %d octets", m.LongestLine, len(m.First("Subject")))
	}
}

func TestMsgID(t *testing.T) {
	for in, want := range map[string]string{
		"<a@b>":                                "<a@b>",
		" <a.b@c.d> ":                          "<a.b@c.d>",
		"<a b@c>":                              "",
		"a@b":                                  "",
		"<ab>":                                 "",
		"<a@b>\r\nX: y":                        "",
		"<a@b><c@d>":                           "",
		"<\x01@b>":                             "",
		"<a@" + strings.Repeat("b", 260) + ">": "",
	} {
		if got := message.MsgID(in); got != want {
			t.Errorf("MsgID(%q) = %q, want %q", in, got, want)
		}
	}
}

// storeReplies returns a send that judges a probe, plans its reply with c and
// stores both in a fresh store, as the worker does; it returns the stored
// reply with its message.
func storeReplies(t *testing.T, c *Planner) func(probe) *store.Outgoing {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return func(p probe) *store.Outgoing {
		r, v := p.judge(t)
		if err := st.SaveProbe(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		o := c.Plan(r, v)
		if err := st.SaveVerdict(context.Background(), &store.Verdict{ProbeID: r.ID, Judged: time.Now(), JSON: []byte("{}"), Reply: o}); err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(context.Background(), r.ID)
		if err != nil || got.Reply == nil {
			t.Fatalf("stored reply: %v", err)
		}
		got.Reply.Data = o.Data
		return got.Reply
	}
}

// The limits are applied by the store, in the transaction that enqueues
// the reply: over one, the reply is stored suppressed with the reason.
func TestRateLimits(t *testing.T) {
	c := *cfg
	c.Limits = Limits{PerAddress: 2, PerDomain: 3, PerClientIP: 4}
	send := storeReplies(t, &c)
	states := func(ps ...probe) []string {
		var out []string
		for _, p := range ps {
			o := send(p)
			out = append(out, string(o.State)+" "+i18n.EN.Say(o.Reason))
		}
		return out
	}
	joe := probe{mailFrom: "joe@abc.it"}
	joeUpper := probe{mailFrom: "JOE@ABC.IT"}
	ann := probe{mailFrom: "ann@abc.it"}
	bob := probe{mailFrom: "bob@abc.it"}
	other := probe{mailFrom: "x@example.org", ip: "192.0.2.9"}
	// The third to joe comes as JOE@ABC.IT: the same address.
	got := states(joe, joe, joeUpper, ann, bob, other, other, other)
	want := []string{
		"queued ", "queued ", "suppressed rate limit: 2 replies to this address in the last hour",
		"queued ", "suppressed rate limit: 3 replies to this domain in the last hour",
		"queued ", "queued ", "suppressed rate limit: 2 replies to this address in the last hour",
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("probe %d: %q, want %q", i+1, got[i], want[i])
		}
	}
	// From 192.0.2.1, four replies are queued: the fifth is over the
	// per-IP limit whatever its address.
	if o := send(probe{mailFrom: "joe@example.net"}); o.State != store.Queued {
		t.Fatalf("fourth from 192.0.2.1: %s %s", o.State, o.Reason)
	}
	if o := send(probe{mailFrom: "kim@example.net"}); o.State != store.Suppressed || !strings.Contains(i18n.EN.Say(o.Reason), "4 replies for probes from this client IP") {
		t.Fatalf("fifth from 192.0.2.1: %s %s", o.State, o.Reason)
	}
}

// TestBareRedirect: a redirect to an address the probe did not
// authenticate for carries no stranger text (Subject, explanation) and has
// a lower limit of its own; spoofed probes do not use up the domain limit
// of authenticated ones.
func TestBareRedirect(t *testing.T) {
	c := *cfg
	c.Limits = Limits{PerAddress: 10, PerDomain: 3, PerClientIP: 50, PerRedirect: 2}
	send := storeReplies(t, &c)
	victim := probe{mailFrom: "joe@abc.it", ext: "victim=example.org", subject: "BUY CHEAP PILLS at evil.example"}
	o := send(victim)
	text := decodeReply(t, o.Data)
	if o.State != store.Queued || strings.Contains(text, "PILLS") || strings.Contains(text, "evil.example") || !strings.Contains(text, "ignore it") {
		t.Errorf("bare redirect: %s %s\n%s", o.State, o.Reason, text)
	}
	send(victim)
	if o := send(victim); o.State != store.Suppressed || !strings.Contains(i18n.EN.Say(o.Reason), "2 redirected replies") {
		t.Errorf("third redirect: %s %q", o.State, o.Reason)
	}
	// Spoofed senders at abc.it (from an address its SPF refuses) use up
	// the unauthenticated count of abc.it, not the authenticated one.
	for i := range 3 {
		if o := send(probe{mailFrom: fmt.Sprintf("spoof%d@abc.it", i), ip: "198.51.100.9"}); o.State != store.Queued {
			t.Fatalf("spoof %d: %s %s", i, o.State, o.Reason)
		}
	}
	if o := send(probe{mailFrom: "spoof9@abc.it", ip: "198.51.100.9"}); o.State != store.Suppressed {
		t.Errorf("a fourth unauthenticated reply to abc.it: %s", o.State)
	}
	if o := send(probe{mailFrom: "ann@abc.it"}); o.State != store.Queued {
		t.Errorf("an authenticated reply after the spoofs: %s %s", o.State, o.Reason)
	}
}

// decodeReply returns a reply's Subject and decoded body.
func decodeReply(t *testing.T, data []byte) string {
	t.Helper()
	m := message.Parse(data)
	body, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(string(m.Body))))
	if err != nil {
		t.Fatal(err)
	}
	return m.First("Subject") + "\n" + string(body)
}
