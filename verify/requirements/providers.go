package requirements

import (
	"fmt"
	"slices"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/verify/dmarc"
)

// Provider is one mailbox provider's rules, as its own pages state them:
// the requirements it asks of every message, those it asks of bulk mail
// (5,000 messages a day or more), and the replies it documents. The table
// below is the one place these rules live; the README's table is
// generated from it.
type Provider struct {
	Name string
	// Source is the provider's page, and Since when the rules applied.
	Source, URL, Since string
	// All are the requirement IDs (Item.ID) every message must pass;
	// Junk those whose failure sends a message to the spam folder; Bulk
	// those a bulk message must pass besides.
	All, Junk, Bulk []string
	// Refusal is the reply it documents for a message its rules refuse;
	// %s is the From domain. "" when it documents none. Gmail's depends on
	// what failed: GmailCodes; Codes, when set, are the codes another
	// provider adds to Refusal by requirement.
	Refusal string
	Codes   map[string]string
	// Reject is its reply to a DMARC failure under p=reject, which it
	// applies to every message.
	Reject string
	// Note is the catalog key of what its pages ask that testerd cannot
	// see in one message (volumes, consent, an imprint), or where its
	// tools are; "" for nothing.
	Note string
}

// Unpublished are the mailbox providers, big where testerd's users send,
// that publish no rules for senders: the check says so rather than guess.
var Unpublished = []struct{ Name, Note string }{
	{"Libero/Virgilio (Italiaonline)", "prov.note.italiaonline"},
}

// Providers are the big mailbox providers' rules.
var Providers = []Provider{
	{
		Name: "Gmail", Source: "Google, Email sender guidelines", URL: "https://support.google.com/a/answer/81126",
		Since: "bulk rules from February 2024, refusals instead of spam-foldering from November 2025",
		// "Requirements for all senders" and "for bulk senders".
		All:    []string{"ipv6", "rdns", "tls", "spf-entries", "auth", "gmail-from", "format", "attachments"},
		Bulk:   []string{"spf", "dkim", "dmarc", "alignment", "unsubscribe"},
		Reject: "550-5.7.26 Unauthenticated email from %s is not accepted due to domain's DMARC policy",
	},
	{
		Name: "Yahoo/AOL", Source: "Yahoo, Sender Best Practices", URL: "https://senders.yahooinc.com/best-practices/",
		Since:   "February 2024",
		All:     []string{"rdns", "auth", "format"},
		Bulk:    []string{"spf", "dkim", "dmarc", "alignment", "unsubscribe"},
		Refusal: "554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes",
		Reject:  "554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes",
	},
	{
		Name: "Outlook.com", Source: "Microsoft, Strengthening Email Ecosystem: Outlook's New Requirements for High-Volume Senders",
		URL:     "https://techcommunity.microsoft.com/blog/microsoftdefenderforoffice365blog/strengthening-email-ecosystem-outlook%E2%80%99s-new-requirements-for-high%E2%80%90volume-senders/4399730",
		Since:   "May 2025; hotmail.com, live.com and outlook.com",
		Bulk:    []string{"spf", "dkim", "dmarc", "alignment"},
		Refusal: "550 5.7.515 Access denied, sending domain %s does not meet the required authentication level.",
		Reject:  "550 5.7.509 Access denied, sending domain %s does not pass DMARC verification and has a DMARC policy of reject.",
		Note:    "prov.note.outlook",
	},
	{
		Name: "iCloud Mail", Source: "Apple, Postmaster information for iCloud Mail", URL: "https://support.apple.com/en-us/102322",
		Since: "February 2024",
		Bulk:  []string{"spf", "dkim", "dmarc", "rdns", "format"},
	},
	{
		Name: "Orange", Source: "Orange, Postmaster: Email delivery guidelines and error codes", URL: "https://postmaster.orange.fr/",
		Since: "page updated 15 May 2026; orange.fr and wanadoo.fr",
		// "does now require all the following mechanism to pass": SPF,
		// DKIM and DMARC; a PTR that resolves back (error 107); a HELO
		// that resolves (errors 20x). A missing DKIM signature is
		// refused with error 535.
		All:     []string{"rdns", "helo", "spf", "dkim", "dmarc", "alignment"},
		Refusal: "550 5.7.1 Service refuse. Veuillez essayer plus tard. Service refused, please try later.",
		Codes:   map[string]string{"dkim": "OFR_535 [535]", "rdns": "OFR_107 [107]"},
		Note:    "prov.note.orange",
	},
	{
		Name: "La Poste", Source: "La Poste, Quelles sont les spécifications techniques à respecter pour émettre des emails vers laposte.net ?",
		URL:   "https://postmaster.laposte.net/contents/quelles-sont-les-specifications-techniques-a-respecter-pour-emettre-des-emails-vers-laposte-net?t=p",
		Since: "page read December 2026; laposte.net",
		// Reverse DNS; SPF: unauthorized IPs and invalid records are
		// rejected; no authentication at all lands in the spam folder
		// at best. A DMARC record with rua is asked of every domain
		// (the dmarc requirement warns without one).
		All:  []string{"rdns", "spf-authorized"},
		Junk: []string{"auth"},
		Note: "prov.note.laposte",
	},
	{
		Name: "GMX/WEB.DE", Source: "WEB.DE, Requirements and Recommendations (the same platform as GMX)",
		URL:   "https://postmaster.web.de/en/requirements-and-recommendations",
		Since: "page read December 2026; gmx.net, gmx.de, web.de",
		// A valid DKIM signature aligned with the From domain is
		// mandatory, "SPF alone is not sufficient"; an FQDN PTR, generic
		// ones "usually result in rejection"; a valid HELO/EHLO FQDN;
		// RFC 5321/5322. Bulk: one-click unsubscribe (RFC 8058).
		All:  []string{"rdns", "rdns-generic", "helo", "format", "dkim-aligned"},
		Bulk: []string{"unsubscribe"},
		Note: "prov.note.gmx",
	},
	{
		Name: "IONOS", Source: "IONOS, E-Mail-Policy and Recommendations for sending emails to IONOS mailboxes",
		URL:   "https://www.ionos.de/hilfe/e-mail/postmaster/e-mail-policy",
		Since: "page read December 2026",
		// A static IP with a correct reverse DNS, no dial-up networks;
		// a plausible HELO; RFC 5321/5322. Bulk: an easy way to object.
		All:  []string{"rdns", "rdns-generic", "helo", "format"},
		Bulk: []string{"unsubscribe"},
		Note: "prov.note.ionos",
	},
}

// blocking reports whether some provider refuses mail for id.
func blocking(id string) bool {
	for _, p := range Providers {
		if slices.Contains(p.All, id) || slices.Contains(p.Junk, id) || slices.Contains(p.Bulk, id) {
			return true
		}
	}
	return false
}

// GmailCode is Gmail's reply for one failed requirement: the temporary
// code it gives first and the permanent one it moves to, with one text
// for both.
type GmailCode struct {
	ID                   string
	Temporary, Permanent string
	Text                 string
}

// GmailCodes are Gmail's replies by requirement, from "Gmail SMTP errors
// and codes" (https://support.google.com/a/answer/3726730), in the order a
// session meets them: the connection (reverse DNS), TLS, then the message
// (authentication, then the bulk rules). The one place testerd keeps them:
// one text per code.
var GmailCodes = []GmailCode{
	// Over IPv6 Gmail names its IPv6 rule rather than the PTR code.
	{"ipv6", "", "550-5.7.1", "Our system has detected that this message does not meet IPv6 sending guidelines regarding PTR records and authentication"},
	{"rdns", "421-4.7.23", "550-5.7.25", "The sending IP does not have valid forward and reverse DNS (PTR) records"},
	{"tls", "421-4.7.29", "", "The message was not sent over a TLS connection"},
	{"spf-entries", "421-4.7.24", "550-5.7.24", "The SPF record of the sending domain has suspicious entries"},
	{"auth", "", "550-5.7.26", "This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM"},
	{"gmail-from", "", "550-5.7.26", "Unauthenticated email from gmail.com is not accepted due to domain's DMARC policy"},
	{"format", "", "550-5.7.1", "The message is not RFC 5322 compliant"},
	{"attachments", "", "552-5.7.0", "This message was blocked because its content presents a potential security issue"},
	{"spf", "421-4.7.27", "550-5.7.27", "SPF authentication did not pass: Gmail requires bulk senders to authenticate with SPF"},
	{"dkim", "421-4.7.30", "550-5.7.30", "DKIM authentication did not pass: Gmail requires bulk senders to authenticate with DKIM"},
	{"dmarc", "421-4.7.40", "550-5.7.40", "The From domain has no DMARC record, or no DMARC policy"},
	{"alignment", "421-4.7.32", "550-5.7.32", "The From domain does not align with the SPF or DKIM domain"},
}

// code is the codes of a requirement as items show them: "4.7.23/5.7.25".
func (c GmailCode) code() string {
	var parts []string
	for _, s := range []string{c.Temporary, c.Permanent} {
		if s != "" {
			parts = append(parts, s[4:])
		}
	}
	return strings.Join(parts, "/")
}

// reply is the code Gmail gives first with its text.
func (c GmailCode) reply() string {
	if c.Temporary != "" {
		return c.Temporary + " " + c.Text
	}
	return c.Permanent + " " + c.Text
}

// gmailCode returns the code entry for a requirement.
func gmailCode(id string) (GmailCode, bool) {
	i := slices.IndexFunc(GmailCodes, func(c GmailCode) bool { return c.ID == id })
	if i < 0 {
		return GmailCode{}, false
	}
	return GmailCodes[i], true
}

// Outcome is what a provider does with a message.
type Outcome string

// Outcomes, from the best to the worst.
const (
	Accept Outcome = "accept"
	// RefuseBulk: a few messages get through; sent in bulk (5,000 a day
	// or more) they are refused.
	RefuseBulk Outcome = "refuse-bulk"
	// Junk: delivered to the spam folder.
	Junk Outcome = "junk"
	// Defer: refused for now (4xx): the sending server retries, and the
	// provider refuses for good if nothing changes.
	Defer Outcome = "defer"
	// Refuse: refused (5xx).
	Refuse Outcome = "refuse"
	// Unknown: the provider publishes no rules to judge by (Unpublished).
	Unknown Outcome = "unknown"
)

// Worse reports whether o is worse than p.
func (o Outcome) Worse(p Outcome) bool { return outcomeRank[o] > outcomeRank[p] }

var outcomeRank = map[Outcome]int{Accept: 0, RefuseBulk: 1, Junk: 2, Defer: 3, Refuse: 4}

// ProviderVerdict is one provider's answer to the message.
type ProviderVerdict struct {
	Provider string  `json:"provider"`
	Outcome  Outcome `json:"outcome"`
	// Because are the failed requirements it answers so for (Item.ID), the
	// first one deciding its reply.
	Because []string `json:"because"`
	// Reply is the reply it would send first, in its own words, when it
	// documents one.
	Reply  string `json:"reply,omitempty"`
	Source string `json:"source"`
}

// DMARCPolicyID is what a DMARC failure under the domain's own policy
// counts as among Because: the alignment requirement, whose fix is the
// same.
const DMARCPolicyID = "alignment"

// providerVerdicts judges the items by each provider's rules: a DMARC
// failure under p=reject or p=quarantine first, then the requirements of
// every message in the order a session meets them, then those of bulk
// mail.
func providerVerdicts(items []Item, d *dmarc.Evaluation) []ProviderVerdict {
	failed := map[string]bool{}
	for _, it := range items {
		if it.Status == Fail {
			failed[it.ID] = true
		}
	}
	from := "-"
	if d != nil && d.FromDomain != "" {
		from = d.FromDomain
	}
	order := func(ids []string) []string {
		var out []string
		for _, c := range GmailCodes {
			if slices.Contains(ids, c.ID) && failed[c.ID] {
				out = append(out, c.ID)
			}
		}
		for _, id := range ids {
			if failed[id] && !slices.Contains(out, id) {
				out = append(out, id)
			}
		}
		return out
	}
	fill := func(f string) string { return strings.ReplaceAll(f, "%s", from) }
	out := make([]ProviderVerdict, 0, len(Providers))
	for _, p := range Providers {
		v := ProviderVerdict{Provider: p.Name, Outcome: Accept, Because: []string{}, Source: p.Source + " (" + p.Since + "), " + p.URL}
		all, junk, bulk := order(p.All), order(p.Junk), order(p.Bulk)
		switch {
		case d != nil && d.Result == dmarc.Fail && d.Disposition == dmarc.PolicyReject:
			v.Outcome, v.Because, v.Reply = Refuse, []string{DMARCPolicyID}, fill(p.Reject)
		case d != nil && d.Result == dmarc.Fail && d.Disposition == dmarc.PolicyQuarantine:
			v.Outcome, v.Because = Junk, []string{DMARCPolicyID}
		case d != nil && d.Result == dmarc.TempError:
			// Receivers defer what DMARC cannot conclude (RFC 9989).
			v.Outcome, v.Because = Defer, []string{DMARCPolicyID}
		case len(all) > 0:
			v.Outcome, v.Because = Refuse, all
			if p.Name == "Gmail" {
				c, _ := gmailCode(all[0]) // every requirement of All has one
				v.Reply = c.reply()
				if c.Temporary != "" {
					v.Outcome = Defer
				}
			} else {
				v.Reply = fill(p.Refusal)
				if c := p.Codes[all[0]]; c != "" && v.Reply != "" {
					v.Reply += " " + c
				}
			}
		case len(junk) > 0:
			v.Outcome, v.Because = Junk, junk
		case len(bulk) > 0:
			v.Outcome, v.Because = RefuseBulk, bulk
			if p.Name != "Gmail" {
				v.Reply = fill(p.Refusal)
			} else if c, ok := gmailCode(bulk[0]); ok {
				v.Reply = c.reply()
			}
		}
		if v.Outcome != Accept {
			// Every failed requirement the provider asks for, the deciding
			// one first.
			for _, id := range slices.Concat(all, junk, bulk) {
				if !slices.Contains(v.Because, id) {
					v.Because = append(v.Because, id)
				}
			}
		}
		out = append(out, v)
	}
	return out
}

// ProvidersMarkdown is the README's table of the providers' rules and
// Gmail's codes, generated from Providers and GmailCodes (a test keeps the
// README equal to it).
func ProvidersMarkdown() string {
	var b strings.Builder
	b.WriteString("| provider | every message must pass | or it goes to spam | a bulk message must pass too | refusal | source |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, p := range Providers {
		bounce := p.Refusal
		if p.Name == "Gmail" {
			bounce = "by requirement: the codes below"
		}
		if bounce == "" {
			bounce = "no documented code"
		}
		var codes []string
		for _, id := range p.All {
			if c := p.Codes[id]; c != "" {
				codes = append(codes, id+": "+c)
			}
		}
		if len(codes) > 0 {
			bounce += " (" + strings.Join(codes, "; ") + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | [%s](%s), %s |\n", p.Name, orDash(strings.Join(p.All, ", ")), orDash(strings.Join(p.Junk, ", ")),
			orDash(strings.Join(p.Bulk, ", ")), strings.ReplaceAll(bounce, "%s", "DOMAIN"), p.Source, p.URL, p.Since)
	}
	b.WriteString("\n")
	for _, p := range Providers {
		if p.Note != "" {
			fmt.Fprintf(&b, "- %s: %s\n", p.Name, i18n.EN.T(p.Note))
		}
	}
	for _, u := range Unpublished {
		fmt.Fprintf(&b, "- %s: %s\n", u.Name, i18n.EN.T(u.Note))
	}
	b.WriteString("\n| requirement | Gmail first | then | reply |\n| --- | --- | --- | --- |\n")
	for _, c := range GmailCodes {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", c.ID, orDash(c.Temporary), orDash(c.Permanent), c.Text)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
