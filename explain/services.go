package explain

import (
	"sort"
	"strings"

	"github.com/testerd/testerd/verify/spf"
)

// Service is a sending service whose SPF include is documented.
type Service struct {
	Name string
	// Suffix matches the HELO (or PTR) names of its servers.
	Suffix  string
	Include string
}

// Services are the sending services recognised by their server names, with
// the include each documents. A sender whose HELO names one gets that
// include proposed instead of a single IP, since such services send from
// many addresses.
var Services = []Service{
	{"Google Workspace", ".google.com", "_spf.google.com"},
	{"Microsoft 365", ".outbound.protection.outlook.com", "spf.protection.outlook.com"},
	{"Amazon SES", ".amazonses.com", "amazonses.com"},
	{"SendGrid", ".sendgrid.net", "sendgrid.net"},
	{"Mailgun", ".mailgun.net", "mailgun.org"},
	{"Mailchimp Transactional (Mandrill)", ".mandrillapp.com", "spf.mandrillapp.com"},
	{"SparkPost", ".sparkpostmail.com", "sparkpostmail.com"},
	{"Brevo", ".sendinblue.com", "spf.sendinblue.com"},
	{"Zoho Mail", ".zoho.com", "zoho.com"},
	{"Aruba", ".aruba.it", "_spf.aruba.it"},
	{"OVHcloud", ".ovh.net", "mx.ovh.com"},
}

// KnownService finds the service a server name belongs to.
func KnownService(host string) (Service, bool) {
	h := "." + strings.ToLower(strings.TrimSuffix(host, "."))
	for _, s := range Services {
		if strings.HasSuffix(h, s.Suffix) {
			return s, true
		}
	}
	return Service{}, false
}

// Cost is what one term of the top record costs in DNS-querying terms,
// with everything its include or redirect brings.
type Cost struct {
	Term    string
	Lookups int
}

// LookupCosts lists the DNS-querying terms of the evaluated record by what
// they cost, most first, from the evaluation's trace.
func LookupCosts(e *spf.Evaluation) []Cost {
	if e == nil || e.Trace == nil {
		return nil
	}
	var out []Cost
	for _, st := range e.Trace.Steps {
		if n := cost(st, 0); n > 0 {
			out = append(out, Cost{Term: st.Term, Lookups: n})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Lookups > out[j].Lookups })
	return out
}

// cost counts the DNS-querying steps under st, bounded in depth like the
// evaluation itself.
func cost(st *spf.Step, depth int) int {
	n := 0
	if st.Count > 0 {
		n++
	}
	if st.Sub != nil && depth < 2*spf.MaxDNSTerms {
		for _, s := range st.Sub.Steps {
			n += cost(s, depth+1)
		}
	}
	return n
}
