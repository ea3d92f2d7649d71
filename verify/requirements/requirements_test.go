package requirements

import (
	"context"
	"crypto/tls"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/unsubscribe"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
)

func TestOctetScans(t *testing.T) {
	for in, want := range map[string]bool{"": false, "a\r\nb": false, "a\rb": true, "abc\r": true, "\r\n\r\n\r": true, "\r\r\n": true} {
		if got := bareCR([]byte(in)); got != want {
			t.Errorf("bareCR(%q) = %v", in, got)
		}
	}
	for in, want := range map[string]bool{"": false, "plain ascii text, long enough": false, "1234567è": true, "è": true, "12345678901234567\x80": true} {
		if got := has8bit([]byte(in)); got != want {
			t.Errorf("has8bit(%q) = %v", in, got)
		}
	}
}

func TestGenericPTR(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	for name, generic_ := range map[string]bool{
		"mail.abc.it":                 false,
		"mailhost.abc.it":             false,
		"192-0-2-10.dsl.isp.example":  true,
		"10.2.0.192.in-addr.isp.test": true,
		"host-10.pool.isp.example":    true,
		"dynamic.isp.example":         true,
		"smtp2.example.com":           false,
	} {
		if got := !generic(name, ip).IsZero(); got != generic_ {
			t.Errorf("generic(%q) = %v", name, got)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the README's generated providers table")

// TestREADMEProviders: the README's table of providers and codes is the
// one ProvidersMarkdown generates from the code's table.
func TestREADMEProviders(t *testing.T) {
	const path = "../../README.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- providers: generated -->\n", "<!-- end providers -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", begin, end)
	}
	want := s[:i+len(begin)] + ProvidersMarkdown() + s[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != s {
		t.Error("README.md's providers table differs from verify/requirements/providers.go: go test ./verify/requirements -run README -update")
	}
}

// TestProviders: each provider's answer follows its own rules, on items
// made to fail: refused for what it asks of every message (deferred first
// where Gmail's code is temporary), refused in bulk for the bulk rules,
// and the DMARC policy first of all.
func TestProviders(t *testing.T) {
	for _, c := range []struct {
		failed                        []string
		dmarc                         *dmarc.Evaluation
		gmail, yahoo, outlook, icloud Outcome
		gmailReply                    string
	}{
		{nil, nil, Accept, Accept, Accept, Accept, ""},
		{[]string{"tls"}, nil, Defer, Accept, Accept, Accept, "421-4.7.29"},
		{[]string{"rdns", "tls"}, nil, Defer, Refuse, Accept, RefuseBulk, "421-4.7.23"},
		{[]string{"dmarc"}, nil, RefuseBulk, RefuseBulk, RefuseBulk, RefuseBulk, "421-4.7.40"},
		{[]string{"alignment"}, nil, RefuseBulk, RefuseBulk, RefuseBulk, Accept, "421-4.7.32"},
		{[]string{"auth", "spf", "dkim"}, nil, Refuse, Refuse, RefuseBulk, RefuseBulk, "550-5.7.26 This mail has been blocked"},
		{[]string{"alignment"}, &dmarc.Evaluation{FromDomain: "abc.it", Result: dmarc.Fail, Disposition: dmarc.PolicyReject}, Refuse, Refuse, Refuse, Refuse, "550-5.7.26 Unauthenticated email from abc.it"},
		{[]string{"alignment"}, &dmarc.Evaluation{FromDomain: "abc.it", Result: dmarc.Fail, Disposition: dmarc.PolicyQuarantine}, Junk, Junk, Junk, Junk, ""},
	} {
		var items []Item
		for _, id := range []string{"auth", "spf", "dkim", "alignment", "dmarc", "rdns", "tls", "format", "gmail-from"} {
			st := Pass
			if slices.Contains(c.failed, id) {
				st = Fail
			}
			items = append(items, Item{ID: id, Status: st})
		}
		rep := report(items, c.dmarc)
		got := map[string]Outcome{}
		for _, v := range rep.Providers {
			got[v.Provider] = v.Outcome
			if (v.Outcome == Accept) != (len(v.Because) == 0) || !strings.Contains(v.Source, "https://") {
				t.Errorf("%v: %+v", c.failed, v)
			}
			if v.Outcome == RefuseBulk && v.Provider == "Outlook.com" && !strings.HasPrefix(v.Reply, "550 5.7.515") {
				t.Errorf("%v: Outlook's reply %q", c.failed, v.Reply)
			}
		}
		want := map[string]Outcome{"Gmail": c.gmail, "Yahoo/AOL": c.yahoo, "Outlook.com": c.outlook, "iCloud Mail": c.icloud}
		for p, w := range want {
			if got[p] != w {
				t.Errorf("with %v failing, %s: %s, want %s", c.failed, p, got[p], w)
			}
		}
		if !strings.HasPrefix(rep.FirstError, c.gmailReply) || (c.gmailReply == "") != (rep.FirstError == "") {
			t.Errorf("with %v failing, Gmail's first reply %q, want %q", c.failed, rep.FirstError, c.gmailReply)
		}
		if rep.Ready != (len(c.failed) == 0) {
			t.Errorf("with %v failing, ready %v", c.failed, rep.Ready)
		}
	}
}

// TestOneTextPerCode: every Gmail code has one text.
func TestOneTextPerCode(t *testing.T) {
	texts := map[string]string{}
	for _, c := range GmailCodes {
		for _, code := range []string{c.Temporary, c.Permanent} {
			if code == "" || code == "550-5.7.26" || code == "550-5.7.1" {
				continue // one reply code, several documented causes: a page shows one (Gmail's first)
			}
			if t0, ok := texts[code]; ok && t0 != c.Text {
				t.Errorf("%s has two texts: %q and %q", code, t0, c.Text)
			}
			texts[code] = c.Text
		}
	}
}

// TestReputation: listings, allow lists, information-only lists and
// refusals, from a fake DNS that plays the list operators.
func TestReputation(t *testing.T) {
	ip := netip.MustParseAddr("192.0.2.10")
	run := func(z *dnsx.Zone, rep *Reputation) Item {
		in := Input{IP: ip, Message: message.Parse([]byte("From: a@abc.it\r\n\r\n")), From: message.From{Domain: "abc.it"}, Reputation: rep}
		return checkReputation(context.Background(), dnsx.NewFake(z), in)
	}
	if it := run(dnsx.NewZone(), nil); it.Status != NA {
		t.Errorf("off: %s", it.Status)
	}
	if it := run(dnsx.NewZone(), &Reputation{}); it.Status != Pass {
		t.Errorf("on no list: %s %v", it.Status, it.Evidence)
	}
	z := dnsx.NewZone()
	z.AddIP("10.2.0.192.zen.spamhaus.org", netip.MustParseAddr("127.0.0.2"))
	z.AddIP("10.2.0.192.dnsbl-1.uceprotect.net", netip.MustParseAddr("127.0.0.2"))
	z.AddIP("10.2.0.192.list.dnswl.org", netip.MustParseAddr("127.0.15.1"))
	it := run(z, &Reputation{})
	ev := say(it.Evidence)
	if it.Status != Fail || !strings.Contains(ev, "Spamhaus ZEN lists 192.0.2.10") || !strings.Contains(ev, "information only") ||
		!strings.Contains(ev, "DNSWL: 192.0.2.10 is on this allow list") {
		t.Errorf("listed: %s\n%s", it.Status, ev)
	}
	z = dnsx.NewZone()
	z.AddIP("10.2.0.192.zen.spamhaus.org", netip.MustParseAddr("127.255.255.254"))
	z.AddIP("abc.it.dbl.spamhaus.org", netip.MustParseAddr("127.255.255.254"))
	it = run(z, &Reputation{})
	ev = say(it.Evidence)
	if it.Status != Warn || strings.Contains(ev, " lists ") || !strings.Contains(ev, "not a listing") {
		t.Errorf("a refusal shown as a listing: %s\n%s", it.Status, ev)
	}
	z = dnsx.NewZone()
	z.AddIP("10.2.0.192.k3y.zen.dq.spamhaus.net", netip.MustParseAddr("127.0.0.4"))
	if it := run(z, &Reputation{SpamhausDQSKey: "k3y"}); it.Status != Fail {
		t.Errorf("through DQS: %s %v", it.Status, it.Evidence)
	}
	if got := reverseIP(netip.MustParseAddr("2001:db8::1")); got != "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2" {
		t.Errorf("IPv6 nibbles: %s", got)
	}
}

// TestFormatHeaderRules: an encoded-word in the From address fails; an
// oversized header warns.
func TestFormatHeaderRules(t *testing.T) {
	format := func(raw string) Item {
		m := message.Parse([]byte(raw))
		rep := Check(context.Background(), dnsx.NewFake(dnsx.NewZone()), Input{IP: netip.MustParseAddr("192.0.2.1"), Message: m, From: m.From(), Size: len(raw)})
		for _, it := range rep.Items {
			if it.ID == "format" {
				return it
			}
		}
		t.Fatal("no format item")
		return Item{}
	}
	head := "Date: Mon, 23 Nov 2026 11:59:00 +0000\r\nMessage-ID: <a@abc.it>\r\n"
	it := format("From: <=?utf-8?q?joe?=@abc.it>\r\n" + head + "\r\nhi\r\n")
	if it.Status != Fail || !strings.Contains(say(it.Evidence), "encoded-word") {
		t.Errorf("encoded-word in the address: %s %v", it.Status, it.Evidence)
	}
	it = format("From: Joe <joe@abc.it>\r\n" + head + strings.Repeat("X-Pad: "+strings.Repeat("p", 900)+"\r\n", 80) + "\r\nhi\r\n")
	if it.Status != Warn || !strings.Contains(say(it.Evidence), "552-5.3.4") {
		t.Errorf("a 70 KB header: %s %v", it.Status, it.Evidence)
	}
}

// TestDisplayName: each way a display name poses as someone else.
func TestDisplayName(t *testing.T) {
	for raw, want := range map[string]Status{
		"From: Joe Example <joe@abc.it>\r\nTo: Mario <check@t>\r\nSubject: hello there\r\n": Pass,
		"From: \"joe@abc.it\" <joe@abc.it>\r\nSubject: x\r\n":                               Pass,
		"From: \"PayPal service@paypal.com\" <joe@abc.it>\r\nSubject: x\r\n":                Warn,
		"From: =?utf-8?q?Bank_=E2=9C=85?= <joe@abc.it>\r\nSubject: x\r\n":                   Warn,
		"From: Verified Support <joe@abc.it>\r\nSubject: x\r\n":                             Warn,
		"From: Your invoice is ready <joe@abc.it>\r\nSubject: Your invoice is ready\r\n":    Warn,
		"From: Mario Rossi <joe@abc.it>\r\nTo: \"Mario Rossi\" <check@t>\r\nSubject: x\r\n": Warn,
		"From: joe@abc.it\r\nSubject: x\r\n":                                                NA,
	} {
		m := message.Parse([]byte(raw + "\r\nhi\r\n"))
		if it := checkDisplayName(Input{Message: m, From: m.From()}); it.Status != want {
			t.Errorf("%q: %s, want %s (%v)", raw, it.Status, want, it.Evidence)
		}
	}
}

// say is evidence in English words, a line each.
func say(ms []i18n.Msg) string {
	var lines []string
	for _, m := range ms {
		lines = append(lines, i18n.EN.Say(m))
	}
	return strings.Join(lines, "\n")
}

// TestLinkReputation: the links' domains, not the sender's own, are
// looked up in the domain block lists; a listing fails, a refusal warns.
func TestLinkReputation(t *testing.T) {
	raw := "From: a@abc.it\r\nContent-Type: text/html\r\n\r\n<a href=\"https://abc.it/x\">us</a> <a href=\"https://www.spammy.example/y\">them</a>\r\n"
	run := func(z *dnsx.Zone, rep *Reputation) Item {
		msg := message.Parse([]byte(raw))
		in := Input{Message: msg, From: message.From{Domain: "abc.it"}, Reputation: rep}
		in.mime = walkMIME(msg)
		in.body = readContent(in.mime)
		return checkLinkReputation(context.Background(), dnsx.NewFake(z), in)
	}
	if it := run(dnsx.NewZone(), nil); it.Status != NA {
		t.Errorf("off: %s", it.Status)
	}
	if it := run(dnsx.NewZone(), &Reputation{}); it.Status != Pass || !strings.Contains(say(it.Evidence), "spammy.example") {
		t.Errorf("clean: %s %s", it.Status, say(it.Evidence))
	}
	z := dnsx.NewZone()
	z.AddIP("spammy.example.dbl.spamhaus.org", netip.MustParseAddr("127.0.1.2"))
	z.AddIP("abc.it.dbl.spamhaus.org", netip.MustParseAddr("127.0.1.2")) // the sender's: reputation's, not this item's
	if it := run(z, &Reputation{}); it.Status != Fail || !strings.Contains(say(it.Evidence), "spammy.example") || strings.Contains(say(it.Evidence), "abc.it") {
		t.Errorf("listed: %s %s", it.Status, say(it.Evidence))
	}
	z = dnsx.NewZone()
	z.AddIP("spammy.example.dbl.spamhaus.org", netip.MustParseAddr("127.255.255.254"))
	if it := run(z, &Reputation{}); it.Status != Warn {
		t.Errorf("refused: %s %s", it.Status, say(it.Evidence))
	}
}

// FuzzContent: any body is read within the bounds, without a panic.
func FuzzContent(f *testing.F) {
	f.Add([]byte("Content-Type: text/html\r\n\r\n<a href=\"https://x.example\">https://y.example</a><img src=a>"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/zip; name=a.zip\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n--b--\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c := readContent(walkMIME(message.Parse(raw)))
		if len(c.links) > MaxLinks {
			t.Fatalf("%d links", len(c.links))
		}
	})
}

// TestUnsubscribeTry: the try runs only when it is on and the message
// offers one-click unsubscribe as RFC 8058 asks, and says what happened.
func TestUnsubscribeTry(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.WriteHeader(http.StatusMethodNotAllowed)
		}
	}))
	defer srv.Close()
	trier := &unsubscribe.Trier{AllowPrivate: true, TLS: &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}}
	raw := "From: a@abc.it\r\nList-Unsubscribe: <" + srv.URL + "/u/1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nHi\r\n"
	signed := &dkim.Outcome{Signatures: []*dkim.Signature{{Result: dkim.Pass, Domain: "abc.it", Selector: "s1",
		Signed: dkim.Signed{ListUnsubscribe: true, ListUnsubscribePost: true}}}}
	run := func(tr *unsubscribe.Trier, d *dkim.Outcome) Item {
		in := Input{Message: message.Parse([]byte(raw)), From: message.From{Domain: "abc.it"}, DKIM: d, Unsubscribe: tr}
		return checkUnsubscribeTry(context.Background(), in, checkUnsubscribe(in))
	}
	if it := run(nil, signed); it.Status != NA || it.Evidence[0].Key != "ev.unsub-try.off" {
		t.Errorf("off: %+v", it)
	}
	if it := run(trier, &dkim.Outcome{}); it.Status != NA || it.Evidence[0].Key != "ev.unsub-try.not-offered" {
		t.Errorf("unsigned: %+v", it)
	}
	if it := run(trier, signed); it.Status != Pass || !strings.Contains(say(it.Evidence), "tester's own address") {
		t.Errorf("works: %+v %s", it, say(it.Evidence))
	}
	if it := run(&unsubscribe.Trier{}, signed); it.Status != Warn || it.Problem.Key != "req.unsubscribe-try.not-public" {
		t.Errorf("loopback without AllowPrivate: %+v", it)
	}
}
