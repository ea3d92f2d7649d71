package bounce

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/testerd/testerd/i18n"
)

// cases are the corpus: bounces written after each provider's documented
// texts, with what each must be read as.
var cases = []struct {
	file, remote    string
	provider, code  string
	category        Category
	side            Side
	auth, temporary bool
}{
	{"gmail-5.7.26-pasted.txt", "gmail-smtp-in.l.google.com", "Gmail", "5.7.26", Auth, SenderDNS, true, false},
	{"gmail-5.7.27.txt", "gmail-smtp-in.l.google.com", "Gmail", "5.7.27", Auth, SenderDNS, true, false},
	{"gmail-5.7.30.txt", "gmail-smtp-in.l.google.com", "Gmail", "5.7.30", Auth, SenderDNS, true, false},
	{"gmail-5.7.40.txt", "gmail-smtp-in.l.google.com", "Gmail", "4.7.40", Auth, SenderDNS, true, true},
	{"gmail-5.7.25.txt", "gmail-smtp-in.l.google.com", "Gmail", "5.7.25", ReverseDNS, SendingServer, false, false},
	{"gmail-4.7.23.txt", "gmail-smtp-in.l.google.com", "Gmail", "4.7.23", ReverseDNS, SendingServer, false, true},
	{"gmail-5.7.1-format.txt", "gmail-smtp-in.l.google.com", "Gmail", "5.7.1", Format, SenderContent, false, false},
	{"outlook-515.txt", "outlook-com.olc.protection.outlook.com", "Outlook.com", "5.7.515", Auth, SenderDNS, true, false},
	{"outlook-708.txt", "outlook-com.olc.protection.outlook.com", "Outlook.com", "5.7.708", Reputation, SendingServer, false, false},
	{"yahoo-tss04.txt", "mta7.am0.yahoodns.net", "Yahoo/AOL", "4.7.0", Rate, Temporary, false, true},
	{"yahoo-5.7.9.txt", "mta5.am0.yahoodns.net", "Yahoo/AOL", "5.7.9", Auth, SenderDNS, true, false},
	{"icloud.txt", "mx01.mail.icloud.com", "iCloud Mail", "5.7.1", Policy, UnknownSide, false, false},
	{"orange-535.txt", "smtp-in.orange.fr", "Orange", "5.7.1", Auth, SenderDNS, true, false},
	{"laposte-spf.txt", "smtpz4.laposte.net", "La Poste", "5.7.1", Auth, SenderDNS, true, false},
	{"gmx-dkim.txt", "mx00.emig.gmx.net", "GMX/WEB.DE", "", Auth, SenderDNS, true, false},
	{"mailbox-full.txt", "smtp-in.libero.it", "Libero/Virgilio", "5.2.2", MailboxFull, RecipientMailbox, false, false},
	{"unknown-user.txt", "mx.aruba.it", "Aruba", "5.1.1", Recipient, RecipientAddress, false, false},
	{"greylist.txt", "mx.example.de", "", "4.7.1", Greylist, Temporary, false, true},
}

// dsn wraps a reply as the delivery status notification a sending MTA
// writes (RFC 3464).
func dsn(remote, status, diagnostic string) []byte {
	return []byte("From: MAILER-DAEMON@mail.forno-anna.it\r\nSubject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.forno-anna.it\r\n\r\nFinal-Recipient: rfc822; someone@example.net\r\n" +
		"Action: failed\r\nStatus: " + status + "\r\nRemote-MTA: dns; " + remote + "\r\nDiagnostic-Code: smtp; " + strings.ReplaceAll(diagnostic, "\n", "\r\n    ") + "\r\n\r\n--b--\r\n")
}

// TestCorpus: every bounce of the corpus, pasted and as a DSN, is read
// as its provider's, with its code, category, side and whether
// authentication is involved, and says so in both languages.
func TestCorpus(t *testing.T) {
	for _, tc := range cases {
		raw, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		status := tc.code
		if status == "" {
			status = "5.0.0"
		}
		for _, form := range []struct {
			name string
			raw  []byte
		}{{"pasted", raw}, {"dsn", dsn(tc.remote, status, strings.TrimSpace(string(raw)))}} {
			e := Explain(form.raw)
			code := e.EnhancedCode
			if tc.code == "" && form.name == "dsn" {
				code = ""
			}
			if !e.Recognised || e.Provider != tc.provider || code != tc.code || e.Category != tc.category || e.WhoseSide != tc.side ||
				e.Auth != tc.auth || e.Temporary != tc.temporary {
				t.Errorf("%s (%s): %+v", tc.file, form.name, e)
				continue
			}
			for _, l := range i18n.Langs {
				s := e.In(l, "check+t-x@tester.example", "/new/t-x")
				if s.MeaningText == "" || strings.HasPrefix(s.MeaningText, "[") || len(s.StepsText) == 0 || strings.HasPrefix(s.StepsText[0], "[") {
					t.Errorf("%s in %s: %+v", tc.file, l, s)
				}
				if tc.auth && !strings.Contains(strings.Join(s.StepsText, " "), "check+t-x@tester.example") {
					t.Errorf("%s: authentication, and no probe address offered", tc.file)
				}
			}
		}
	}
}

// TestForwarded: a bounce forwarded inside another message (as people
// send it to bounce@) is read from the DSN it holds.
func TestForwarded(t *testing.T) {
	raw, _ := os.ReadFile("testdata/forwarded.eml")
	e := Explain(raw)
	if !e.DSN || e.Provider != "Outlook.com" || e.EnhancedCode != "5.7.509" || e.Recipient != "chef@outlook.com" || !e.Auth {
		t.Errorf("%+v", e)
	}
	raw, _ = os.ReadFile("testdata/gmail-5.7.26-dsn.eml")
	if e := Explain(raw); !e.DSN || e.Provider != "Gmail" || e.EnhancedCode != "5.7.26" || e.Category != Auth || !strings.Contains(e.Diagnostic, "Gmail requires all senders") {
		t.Errorf("Gmail DSN: %+v", e)
	}
}

// TestNotRecognised: text with no reply in it is said so, honestly.
func TestNotRecognised(t *testing.T) {
	raw, _ := os.ReadFile("testdata/nothing.txt")
	e := Explain(raw)
	if e.Recognised || e.Category != Unknown || e.Meaning.Key != "bounce.none.meaning" {
		t.Errorf("%+v", e)
	}
	if e := Explain([]byte("550 5.9.99 something nobody documents")); e.Recognised || e.Meaning.Key != "bounce.unknown.meaning" {
		t.Errorf("an unknown permanent code: %+v", e)
	}
}

// TestRulesHaveWords: every rule's meaning and steps are in the catalog.
func TestRulesHaveWords(t *testing.T) {
	for _, r := range rules {
		for _, key := range append([]string{"bounce." + r.id + ".meaning"}, steps(r)...) {
			if !i18n.Has(key) {
				t.Errorf("%s is not in the catalog", key)
			}
		}
	}
}

func steps(r rule) []string {
	var out []string
	for i := 1; i <= r.steps; i++ {
		out = append(out, "bounce."+r.id+".step"+string(rune('0'+i)))
	}
	return out
}

// FuzzRead: any input is read without a panic, within the bounds.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"gmail-5.7.26-dsn.eml", "forwarded.eml", "gmail-5.7.26-pasted.txt"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		r := Read(raw)
		if len(r.Diagnostic) > 2100 || len(r.Recipient) > 210 {
			t.Fatalf("unbounded: %d, %d", len(r.Diagnostic), len(r.Recipient))
		}
		Explain(raw)
	})
}

// TestUnauthenticated: a refusal for no authentication at all is not
// called an SPF failure, whoever sends it and whichever check it names.
func TestUnauthenticated(t *testing.T) {
	for _, in := range []string{
		"550 5.7.26 Multiple authentication checks failed",
		"550 5.7.1 Unauthenticated mail is not accepted here",
		"550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM.",
	} {
		e := Explain([]byte(in))
		if !e.Recognised || !e.Auth || !strings.Contains(e.Meaning.Key, "unauthenticated") {
			t.Errorf("%q: %s (%+v)", in, e.Meaning.Key, e)
		}
	}
}
