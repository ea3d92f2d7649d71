// Package bounce explains a bounce: a delivery status notification (RFC
// 3464, also forwarded inside another message) or pasted text that quotes
// an SMTP reply. It reads the reply's code, enhanced code and text and the
// servers that sent it, finds the provider (by the remote or reporting
// MTA and the text's marks: Gmail's gsmtp, protection.outlook.com,
// Orange's OFR codes …), and explains it with one table: what it means,
// whose side must act (the sender's DNS, the sending server, the content,
// the recipient's address or mailbox, or nobody: a temporary deferral),
// what to do, and whether authentication is involved, when a probe to the
// tester shows the rest. The Gmail codes are requirements'. A bounce the
// table does not know is said so, with what could be read.
package bounce

import (
	"slices"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/verify/requirements"
)

// Category is what kind of problem a bounce reports.
type Category string

// Categories.
const (
	Auth        Category = "authentication"
	ReverseDNS  Category = "reverse-dns"
	HELO        Category = "helo"
	TLS         Category = "tls"
	Reputation  Category = "reputation"
	Rate        Category = "rate"
	Format      Category = "format"
	Content     Category = "content"
	Recipient   Category = "recipient"
	MailboxFull Category = "mailbox-full"
	Greylist    Category = "greylisting"
	Size        Category = "size"
	Relay       Category = "relay"
	Policy      Category = "policy"
	Unknown     Category = "unknown"
)

// Side is whose side must act.
type Side string

// Sides.
const (
	SenderDNS        Side = "sender-dns"
	SendingServer    Side = "sending-server"
	SenderContent    Side = "content"
	RecipientAddress Side = "recipient-address"
	RecipientMailbox Side = "recipient-mailbox"
	Temporary        Side = "temporary"
	UnknownSide      Side = "unknown"
)

// Explanation is a bounce, read and explained. Meaning and Steps are
// kept unsaid (In says them).
type Explanation struct {
	Recognised   bool       `json:"recognised"`
	Provider     string     `json:"provider,omitempty"`
	Code         string     `json:"code,omitempty"`
	EnhancedCode string     `json:"enhanced_code,omitempty"`
	Category     Category   `json:"category"`
	WhoseSide    Side       `json:"whose_side"`
	Temporary    bool       `json:"temporary"`
	Meaning      i18n.Msg   `json:"-"`
	Steps        []i18n.Msg `json:"-"`
	// Auth: authentication is involved; a probe to the tester (a
	// private test, ProbeAddress when the caller makes one) shows what
	// failed.
	Auth bool `json:"authentication"`
	// Source is the provider's page the explanation follows.
	Source string `json:"source,omitempty"`
	// Diagnostic is the reply as read; RemoteMTA, ReportingMTA and
	// Recipient what the DSN said; DSN whether it was one.
	Diagnostic   string `json:"diagnostic,omitempty"`
	RemoteMTA    string `json:"remote_mta,omitempty"`
	ReportingMTA string `json:"reporting_mta,omitempty"`
	Recipient    string `json:"recipient,omitempty"`
	DSN          bool   `json:"dsn"`
}

// Said is an Explanation in a reader's words: what the API, the page, the
// CLI and the MCP tool give.
type Said struct {
	*Explanation
	MeaningText  string   `json:"meaning"`
	StepsText    []string `json:"steps"`
	SideText     string   `json:"whose_side_text"`
	ProbeAddress string   `json:"probe_address,omitempty"`
	ProbePage    string   `json:"probe_page,omitempty"`
}

// In says e in l; probe, if set, is the private test address offered when
// authentication is involved, and page its page.
func (e *Explanation) In(l i18n.Lang, probe, page string) *Said {
	s := &Said{Explanation: e, MeaningText: l.Say(e.Meaning), SideText: l.T("bounce.side." + string(e.WhoseSide)), StepsText: []string{}}
	for _, st := range e.Steps {
		s.StepsText = append(s.StepsText, l.Say(st))
	}
	if e.Auth && probe != "" {
		s.ProbeAddress, s.ProbePage = probe, page
		s.StepsText = append(s.StepsText, l.T("bounce.step.probe", probe))
	}
	return s
}

// provider is one mailbox provider as bounces show it.
type provider struct {
	name string
	// marks are lower-case strings of its servers' names and texts.
	marks  []string
	source string
}

var providers = []provider{
	{"Gmail", []string{"gsmtp", "google.com", "googlemail.com", "gmail.com", "gmail requires"}, "https://support.google.com/a/answer/3726730"},
	{"Outlook.com", []string{"protection.outlook.com", "outlook.com", "hotmail.com", "live.com", "outlook.office365.com"}, "https://learn.microsoft.com/en-us/exchange/mail-flow-best-practices/non-delivery-reports-in-exchange-online/non-delivery-reports-in-exchange-online"},
	{"Yahoo/AOL", []string{"yahoodns.net", "yahoo.com", "aol.com", "[tss", "senders.yahooinc.com"}, "https://senders.yahooinc.com/smtp-error-codes/"},
	{"iCloud Mail", []string{"icloud.com", "me.com", "mac.com", "mail.icloud"}, "https://support.apple.com/en-us/102322"},
	{"Orange", []string{"orange.fr", "wanadoo.fr", "ofr_", "ofr0"}, "https://postmaster.orange.fr"},
	{"La Poste", []string{"laposte.net", "laposte.fr"}, "https://postmaster.laposte.net"},
	{"GMX/WEB.DE", []string{"gmx.net", "gmx.de", "gmx.com", "web.de", "ui-portal.de", "kundenserver.de"}, "https://postmaster.web.de/en/requirements-and-recommendations"},
	{"Libero/Virgilio", []string{"libero.it", "iol.it", "virgilio.it", "italiaonline"}, ""},
	{"Aruba", []string{"aruba.it", "arubapec.it"}, ""},
}

// rule is one row of the table: a provider ("" for any), the enhanced
// codes it matches (any when none), the words of the reply (any of them,
// lower case; any reply when none); the first that matches explains.
type rule struct {
	provider string
	codes    []string
	words    []string
	id       string // bounce.ID.meaning and bounce.ID.step1…stepN
	steps    int
	category Category
	side     Side
	auth     bool
}

var rules = []rule{
	// Gmail, by its codes (requirements.GmailCodes has their texts).
	{"Gmail", []string{"5.7.26"}, []string{"dmarc"}, "gmail-dmarc", 2, Auth, SenderDNS, true},
	{"Gmail", []string{"5.7.26"}, nil, "gmail-unauthenticated", 2, Auth, SenderDNS, true},
	{"Gmail", []string{"4.7.27", "5.7.27"}, nil, "gmail-spf", 1, Auth, SenderDNS, true},
	{"Gmail", []string{"4.7.30", "5.7.30"}, nil, "gmail-dkim", 1, Auth, SenderDNS, true},
	{"Gmail", []string{"4.7.40", "5.7.40"}, nil, "gmail-dmarc-record", 1, Auth, SenderDNS, true},
	{"Gmail", []string{"4.7.32", "5.7.32"}, nil, "gmail-alignment", 1, Auth, SenderDNS, true},
	{"Gmail", []string{"4.7.23", "5.7.25"}, nil, "rdns", 2, ReverseDNS, SendingServer, false},
	{"Gmail", []string{"4.7.29"}, nil, "tls", 1, TLS, SendingServer, false},
	{"Gmail", []string{"4.7.24", "5.7.24"}, nil, "gmail-spf-entries", 1, Auth, SenderDNS, true},
	{"Gmail", []string{"5.7.1"}, []string{"ipv6"}, "gmail-ipv6", 1, ReverseDNS, SendingServer, true},
	{"Gmail", []string{"5.7.1"}, []string{"rfc 5322"}, "format", 1, Format, SenderContent, false},
	{"Gmail", []string{"4.7.28", "4.7.0"}, []string{"unusual rate", "rate limited", "rate limit"}, "rate", 2, Rate, Temporary, false},
	{"Gmail", []string{"5.7.1"}, []string{"unsolicited", "spam"}, "spam", 2, Reputation, SenderContent, false},
	// Microsoft.
	{"Outlook.com", []string{"5.7.515"}, nil, "outlook-515", 2, Auth, SenderDNS, true},
	{"Outlook.com", []string{"5.7.509"}, nil, "outlook-509", 2, Auth, SenderDNS, true},
	{"Outlook.com", []string{"5.7.708"}, nil, "outlook-708", 1, Reputation, SendingServer, false},
	{"Outlook.com", nil, []string{"s3150", "s3140", "banned sending ip", "block list"}, "outlook-blocked", 1, Reputation, SendingServer, false},
	// Yahoo.
	{"Yahoo/AOL", nil, []string{"tss04", "tss09", "temporarily deferred"}, "yahoo-deferred", 2, Rate, Temporary, false},
	{"Yahoo/AOL", []string{"5.7.9"}, nil, "yahoo-policy", 2, Auth, SenderDNS, true},
	// Orange: its OFR codes.
	{"Orange", nil, []string{"ofr_535", "ofr535"}, "orange-dkim", 2, Auth, SenderDNS, true},
	{"Orange", nil, []string{"ofr_107", "ofr107"}, "rdns", 2, ReverseDNS, SendingServer, false},
	{"Orange", nil, []string{"ofr_20", "ofr20"}, "helo", 1, HELO, SendingServer, false},
	{"Orange", nil, []string{"ofr004_104", "ofr004_105", "too many connections"}, "connections", 1, Rate, Temporary, false},
	// GMX and WEB.DE: aligned DKIM is their floor.
	{"GMX/WEB.DE", nil, []string{"dkim"}, "gmx-dkim", 2, Auth, SenderDNS, true},
	// Any provider: by the enhanced code and the words of the reply.
	{"", []string{"5.1.1", "5.1.0", "5.1.10", "5.1.6"}, nil, "recipient", 2, Recipient, RecipientAddress, false},
	{"", nil, []string{"user unknown", "no such user", "unknown user", "does not exist", "invalid recipient", "recipient address rejected", "no mailbox", "mailbox unavailable"}, "recipient", 2, Recipient, RecipientAddress, false},
	{"", []string{"5.2.2", "4.2.2"}, nil, "mailbox-full", 1, MailboxFull, RecipientMailbox, false},
	{"", nil, []string{"mailbox full", "over quota", "quota exceeded", "insufficient storage", "mailbox is full"}, "mailbox-full", 1, MailboxFull, RecipientMailbox, false},
	{"", nil, []string{"greylist", "graylist", "grey-list", "gray-list", "greylisted"}, "greylist", 1, Greylist, Temporary, false},
	{"", []string{"5.3.4", "5.2.3", "5.3.2"}, nil, "size", 1, Size, SenderContent, false},
	{"", nil, []string{"too large", "too big", "size limit", "exceeds the maximum size"}, "size", 1, Size, SenderContent, false},
	{"", nil, []string{"relay access denied", "relaying denied", "not permitted to relay", "relay not permitted", "unable to relay"}, "relay", 1, Relay, SendingServer, false},
	{"", nil, []string{"spamhaus", "blocklist", "blacklist", "block list", "black list", "dnsbl", "rbl", "listed at", "listed on"}, "blocklist", 2, Reputation, SendingServer, false},
	{"", nil, []string{"dmarc"}, "dmarc", 2, Auth, SenderDNS, true},
	// RFC 7372's 5.7.26, and its words: no check passed, not only SPF.
	{"", []string{"5.7.26"}, nil, "unauthenticated", 2, Auth, SenderDNS, true},
	{"", nil, []string{"unauthenticated", "not authenticated", "authenticate with either"}, "unauthenticated", 2, Auth, SenderDNS, true},
	{"", nil, []string{"spf"}, "spf", 1, Auth, SenderDNS, true},
	{"", nil, []string{"dkim"}, "dkim", 1, Auth, SenderDNS, true},
	{"", nil, []string{"reverse dns", "rdns", "ptr record", "ptr", "reverse lookup"}, "rdns", 2, ReverseDNS, SendingServer, false},
	{"", nil, []string{"helo", "ehlo"}, "helo", 1, HELO, SendingServer, false},
	{"", nil, []string{"tls required", "must issue a starttls", "starttls required", "encryption required"}, "tls", 1, TLS, SendingServer, false},
	{"", []string{"5.7.23"}, nil, "spf", 1, Auth, SenderDNS, true},
	{"", []string{"5.7.20", "5.7.21", "5.7.22"}, nil, "dkim", 1, Auth, SenderDNS, true},
	{"", nil, []string{"spam", "unsolicited", "content rejected", "message content"}, "spam", 2, Reputation, SenderContent, false},
	{"", []string{"5.7.1", "5.7.0"}, []string{"policy"}, "policy", 2, Policy, UnknownSide, false},
}

// Explain reads raw and explains it.
func Explain(raw []byte) *Explanation {
	r := Read(raw)
	e := &Explanation{Code: r.Code, EnhancedCode: r.EnhancedCode, Diagnostic: r.Diagnostic, RemoteMTA: r.RemoteMTA,
		ReportingMTA: r.ReportingMTA, Recipient: r.Recipient, DSN: r.DSN, Category: Unknown, WhoseSide: UnknownSide}
	e.Temporary = strings.HasPrefix(e.Code, "4") || strings.HasPrefix(e.EnhancedCode, "4.")
	p := findProvider(r)
	e.Provider, e.Source = p.name, p.source
	// The words are looked for in the reply; in pasted text, which is
	// all about the bounce, in the whole of it too (an MTA's quote may be
	// cut from its code by wrapping).
	diag := strings.ToLower(r.Diagnostic)
	if !r.DSN {
		diag += "\n" + r.text
	}
	for _, ru := range rules {
		if ru.provider != "" && ru.provider != p.name {
			continue
		}
		if len(ru.codes) > 0 && !slices.Contains(ru.codes, e.EnhancedCode) {
			continue
		}
		if len(ru.words) > 0 && !slices.ContainsFunc(ru.words, func(w string) bool { return strings.Contains(diag, w) }) {
			continue
		}
		e.explain(ru)
		return e
	}
	switch {
	case e.Code == "" && e.EnhancedCode == "":
		e.Meaning, e.Steps = i18n.M("bounce.none.meaning"), []i18n.Msg{i18n.M("bounce.none.step1")}
	case e.Temporary:
		e.Recognised, e.Category, e.WhoseSide = true, Policy, Temporary
		e.Meaning, e.Steps = i18n.M("bounce.temporary.meaning"), []i18n.Msg{i18n.M("bounce.temporary.step1")}
	default:
		e.Meaning, e.Steps = i18n.M("bounce.unknown.meaning", orDash(e.Code+" "+e.EnhancedCode)), []i18n.Msg{i18n.M("bounce.unknown.step1")}
	}
	return e
}

func (e *Explanation) explain(ru rule) {
	e.Recognised, e.Category, e.WhoseSide, e.Auth = true, ru.category, ru.side, ru.auth
	if ru.side == Temporary {
		e.Temporary = true
	}
	e.Meaning = i18n.M("bounce." + ru.id + ".meaning")
	for i := 1; i <= ru.steps; i++ {
		e.Steps = append(e.Steps, i18n.M("bounce."+ru.id+".step"+string(rune('0'+i))))
	}
	if e.Provider == "Gmail" {
		// Gmail's own words for the code, as requirements quotes them.
		for _, c := range requirements.GmailCodes {
			if e.EnhancedCode != "" && (strings.HasSuffix(c.Temporary, e.EnhancedCode) || strings.HasSuffix(c.Permanent, e.EnhancedCode)) && e.Diagnostic == "" {
				e.Diagnostic = c.Text
			}
		}
	}
}

// findProvider finds the provider by the servers named, then by the
// text's marks.
func findProvider(r *Reading) provider {
	for _, where := range []string{strings.ToLower(r.RemoteMTA + " " + r.ReportingMTA), strings.ToLower(r.Diagnostic), r.text} {
		for _, p := range providers {
			if slices.ContainsFunc(p.marks, func(m string) bool { return strings.Contains(where, m) }) {
				return p
			}
		}
	}
	return provider{}
}

func orDash(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return "-"
	}
	return s
}
