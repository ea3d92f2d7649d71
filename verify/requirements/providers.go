package requirements

import (
	"fmt"
	"slices"
	"strings"

	"github.com/testerd/testerd/verify/dmarc"
)

// Provider is one mailbox provider's rules for bulk senders, as its own
// page states them: the requirements whose failure it refuses bulk mail
// for, and the refusal it sends. The table below is the one place these
// rules live; the README's table is generated from it.
type Provider struct {
	Name string
	// Source is the provider's page, and Since when the rules applied.
	Source, URL, Since string
	// Blocking are the requirement IDs (Item.ID) a bulk message must pass.
	Blocking []string
	// Bounce is the refusal the provider documents for a failing bulk
	// message; %s is the From domain. "" when the provider documents none.
	Bounce string
	// RejectBounce, if set, is the refusal for a DMARC failure under
	// p=reject, which the provider applies to every message.
	RejectBounce string
}

// Providers are the big mailbox providers' bulk-sender rules.
var Providers = []Provider{
	{
		Name: "Gmail", Source: "Google, Email sender guidelines", URL: "https://support.google.com/a/answer/81126",
		Since:    "bulk rules from February 2024, refusals instead of spam-foldering from November 2025",
		Blocking: []string{"spf", "dkim", "spf-and-dkim", "alignment", "dmarc", "rdns", "ipv6", "tls", "format", "gmail-from", "spf-entries"},
		// The bounce depends on what failed: GmailCodes.
		RejectBounce: "550-5.7.26 Unauthenticated email from %s is not accepted due to domain's DMARC policy",
	},
	{
		Name: "Yahoo/AOL", Source: "Yahoo, Sender Best Practices", URL: "https://senders.yahooinc.com/best-practices/",
		Since:        "February 2024",
		Blocking:     []string{"spf", "dkim", "spf-and-dkim", "alignment", "dmarc", "rdns", "format"},
		Bounce:       "554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes",
		RejectBounce: "554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes",
	},
	{
		Name: "Outlook.com", Source: "Microsoft, Strengthening Email Ecosystem: Outlook's New Requirements for High-Volume Senders",
		URL:          "https://techcommunity.microsoft.com/blog/microsoftdefenderforoffice365blog/strengthening-email-ecosystem-outlook%E2%80%99s-new-requirements-for-high%E2%80%90volume-senders/4399730",
		Since:        "May 2025; hotmail.com, live.com and outlook.com",
		Blocking:     []string{"spf", "dkim", "spf-and-dkim", "alignment", "dmarc"},
		Bounce:       "550 5.7.515 Access denied, sending domain %s does not meet the required authentication level.",
		RejectBounce: "550 5.7.509 Access denied, sending domain %s does not pass DMARC verification and has a DMARC policy of reject.",
	},
	{
		Name: "iCloud Mail", Source: "Apple, Postmaster information for iCloud Mail", URL: "https://support.apple.com/en-us/102322",
		Since:    "February 2024",
		Blocking: []string{"spf", "dkim", "spf-and-dkim", "dmarc", "rdns", "format"},
	},
}

// GmailCode is Gmail's reply for one failed requirement: the temporary
// code it gives first and the permanent one it moves to.
type GmailCode struct {
	ID                   string
	Temporary, Permanent string
	// Text is the reply as testerd quotes it as the likely first error.
	Text string
}

// GmailCodes are Gmail's replies by requirement, from "Gmail SMTP errors
// and codes" (https://support.google.com/a/answer/3726730), in the order
// a session meets them. The one place testerd keeps them.
var GmailCodes = []GmailCode{
	// Over IPv6 Gmail names its IPv6 rule rather than the PTR code.
	{"ipv6", "", "550-5.7.1", "Our system has detected that this message does not meet IPv6 sending guidelines regarding PTR records and authentication"},
	{"rdns", "421-4.7.23", "550-5.7.25", "The sending IP does not have valid forward and reverse DNS (PTR) records"},
	{"tls", "421-4.7.29", "", "The message was not sent over a TLS connection"},
	{"spf-entries", "421-4.7.24", "550-5.7.24", "The SPF record of the sending domain has suspicious entries"},
	{"spf", "421-4.7.27", "550-5.7.27", "SPF is not set up for the sending domain or IP"},
	{"dkim", "421-4.7.30", "550-5.7.30", "DKIM is not set up for the sending domain"},
	{"spf-and-dkim", "421-4.7.27", "550-5.7.27", "Bulk senders must pass both SPF and DKIM"},
	{"dmarc", "421-4.7.40", "550-5.7.40", "The From domain has no DMARC record, or no DMARC policy"},
	{"alignment", "421-4.7.32", "550-5.7.32", "The From domain does not align with the SPF or DKIM domain"},
	{"gmail-from", "", "550-5.7.26", "Unauthenticated email from gmail.com is not accepted due to domain's DMARC policy"},
	{"format", "", "550-5.7.1", "The message is not RFC 5322 compliant"},
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

// ProviderVerdict is one provider's answer to the message, were it sent in
// bulk.
type ProviderVerdict struct {
	Provider string `json:"provider"`
	Accepted bool   `json:"accepted"`
	// Blocking are the failed requirements this provider refuses bulk mail
	// for (Item.ID).
	Blocking []string `json:"blocking"`
	// Bounce is the refusal it would most likely send first, when it
	// documents one.
	Bounce string `json:"bounce,omitempty"`
	Source string `json:"source"`
}

// providerVerdicts judges the report's items by each provider's rules.
func providerVerdicts(rep *Report, in Input, spfPass, dkimPass bool) []ProviderVerdict {
	failed := map[string]bool{}
	for _, it := range rep.Items {
		if it.Status == Fail {
			failed[it.ID] = true
		}
	}
	from := "-"
	if in.DMARC != nil && in.DMARC.FromDomain != "" {
		from = in.DMARC.FromDomain
	}
	rejected := in.DMARC != nil && in.DMARC.Result == dmarc.Fail && in.DMARC.Disposition == dmarc.PolicyReject
	out := make([]ProviderVerdict, 0, len(Providers))
	for _, p := range Providers {
		v := ProviderVerdict{Provider: p.Name, Blocking: []string{}, Source: p.Source + " (" + p.Since + "), " + p.URL}
		for _, id := range p.Blocking {
			if failed[id] {
				v.Blocking = append(v.Blocking, id)
			}
		}
		if rejected && !slices.Contains(v.Blocking, "alignment") {
			v.Blocking = append(v.Blocking, "alignment") // DMARC fails: nothing aligned passed
		}
		v.Accepted = len(v.Blocking) == 0
		switch {
		case rejected && p.RejectBounce != "":
			v.Bounce = strings.ReplaceAll(p.RejectBounce, "%s", from)
		case v.Accepted:
		case p.Name == "Gmail":
			v.Bounce = rep.FirstError
		case p.Bounce != "":
			v.Bounce = strings.ReplaceAll(p.Bounce, "%s", from)
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
	b.WriteString("| provider | a bulk message must pass | refusal | source |\n| --- | --- | --- | --- |\n")
	for _, p := range Providers {
		bounce := p.Bounce
		if p.Name == "Gmail" {
			bounce = "by requirement: the codes below"
		}
		if bounce == "" {
			bounce = "no documented code"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | [%s](%s), %s |\n", p.Name, strings.Join(p.Blocking, ", "), strings.ReplaceAll(bounce, "%s", "DOMAIN"), p.Source, p.URL, p.Since)
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
