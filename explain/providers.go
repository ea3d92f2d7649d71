package explain

import (
	"strings"

	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/spf"
)

// The providers' rules, as their sender pages state them (the dates are
// those of the rules applied here):
//   - Gmail, "Email sender guidelines" (bulk rules enforced from February
//     2024, rejections from November 2025): every sender needs SPF or
//     DKIM; bulk senders (5,000+ a day) need both, a DMARC record and
//     DMARC alignment. An unauthenticated message or a DMARC failure under
//     p=reject is refused with 550-5.7.26.
//   - Yahoo Mail, "Sender Best Practices" (February 2024): the same bulk
//     rules; refusals read 554 5.7.9.
//   - Outlook.com, "Strengthening Email Ecosystem" (May 2025): senders of
//     over 5,000 messages a day need SPF pass, DKIM pass and DMARC pass,
//     else 550 5.7.515; a DMARC failure under p=reject is 550 5.7.509.

// The bounces, word for word as the providers send them; %s is the From
// domain.
const (
	gmailUnauthenticated = "550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM."
	gmailDMARCReject     = "550-5.7.26 Unauthenticated email from %s is not accepted due to domain's DMARC policy. Please contact the administrator of %s domain if this was a legitimate mail."
	yahooPolicy          = "554 5.7.9 Message not accepted for policy reasons. See https://senders.yahooinc.com/error-codes"
	outlookDMARCReject   = "550 5.7.509 Access denied, sending domain %s does not pass DMARC verification and has a DMARC policy of reject."
	outlookAuthLevel     = "550 5.7.515 Access denied, sending domain %s does not meet the required authentication level."
)

func (x *explainer) providers() {
	v, d := x.v, x.v.DMARC
	spfPass := v.SPF.Effective().Result == spf.Pass
	dkimPass := len(x.passing()) > 0
	auth := spfPass || dkimPass
	failReject := d.Result == dmarc.Fail && d.Disposition == dmarc.PolicyReject
	failQuarantine := d.Result == dmarc.Fail && d.Disposition == dmarc.PolicyQuarantine
	from := d.FromDomain
	p := func(name string, st Status, outcome, bounce string) {
		x.s.Providers = append(x.s.Providers, Provider{Name: name, Status: st, Outcome: outcome, Bounce: bounce})
	}
	sprintf := func(f string) string { return sprintfFrom(f, from) }

	switch {
	case !auth:
		p("Gmail", Bad, x.t("prov.rejected"), gmailUnauthenticated)
	case failReject:
		p("Gmail", Bad, x.t("prov.rejected"), sprintf(gmailDMARCReject))
	case failQuarantine:
		p("Gmail", Bad, x.t("prov.spam"), "")
	case d.Result != dmarc.Pass:
		p("Gmail", Soso, x.t("prov.gmail.bulk-dmarc"), "")
	case !spfPass || !dkimPass:
		p("Gmail", Soso, x.t("prov.gmail.bulk-both"), "")
	default:
		p("Gmail", OK, x.t("prov.accepted"), "")
	}

	switch {
	case !auth || failReject:
		p("Yahoo/AOL", Bad, x.t("prov.rejected"), yahooPolicy)
	case failQuarantine:
		p("Yahoo/AOL", Bad, x.t("prov.spam"), "")
	case d.Result != dmarc.Pass:
		p("Yahoo/AOL", Soso, x.t("prov.yahoo.bulk"), "")
	default:
		p("Yahoo/AOL", OK, x.t("prov.accepted"), "")
	}

	switch {
	case failReject:
		p("Outlook.com", Bad, x.t("prov.rejected"), sprintf(outlookDMARCReject))
	case failQuarantine:
		p("Outlook.com", Bad, x.t("prov.junk"), "")
	case !(spfPass && dkimPass && d.Result == dmarc.Pass):
		p("Outlook.com", Soso, x.t("prov.outlook.bulk"), sprintf(outlookAuthLevel))
	default:
		p("Outlook.com", OK, x.t("prov.accepted"), "")
	}
}

// sprintfFrom fills the From domain into a bounce text.
func sprintfFrom(f, from string) string {
	if from == "" {
		from = "-"
	}
	return strings.ReplaceAll(f, "%s", from)
}
