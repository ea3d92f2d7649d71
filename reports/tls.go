package reports

import (
	"slices"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/reports/tlsrpt"
	"github.com/testerd/testerd/store"
)

// tlsRows is a parsed TLS report as the store keeps it, with data, the
// JSON it was read from.
func tlsRows(r *tlsrpt.Report) *store.TLSReport {
	out := &store.TLSReport{Organization: r.Organization, ReportID: r.ReportID, Contact: r.Contact, Start: r.Start, End: r.End}
	for _, p := range r.Policies {
		sp := &store.TLSPolicy{Domain: p.Domain, Type: p.Type, Success: p.Success, Failure: p.Failure}
		for _, f := range p.Failures {
			sp.Failures = append(sp.Failures, &store.TLSFailureDetail{Type: f.Type, ReceivingMX: f.ReceivingMX, SendingIP: f.SendingIP, Sessions: f.Sessions})
		}
		out.Policies = append(out.Policies, sp)
	}
	return out
}

// TLSFailure is a failure type at one receiving MX, summed, with what it
// means and what fixes it.
type TLSFailure struct {
	Type        string   `json:"type"`
	Meaning     i18n.Msg `json:"meaning"`
	Fix         i18n.Msg `json:"fix"`
	ReceivingMX string   `json:"receiving_mx"`
	Sessions    int64    `json:"sessions"`
}

// TLSSummary is a domain's TLS reports summed (store.TLSSummaryOf), each
// failure with what it means and what fixes it.
type TLSSummary struct {
	Domain   string         `json:"domain"`
	Since    time.Time      `json:"since"`
	Reports  int            `json:"reports"`
	Days     []store.TLSDay `json:"days"`
	Failures []TLSFailure   `json:"failures"`
}

// ExplainTLS adds to the store's sums what each failure type means (RFC
// 8460 §4.3) and what fixes it.
func ExplainTLS(s *store.TLSSummary) *TLSSummary {
	out := &TLSSummary{Domain: s.Domain, Since: s.Since, Reports: s.Reports, Days: s.Days, Failures: []TLSFailure{}}
	for _, f := range s.Failures {
		meaning, fix := tlsWords(f.Type, s.Domain)
		out.Failures = append(out.Failures, TLSFailure{Type: f.Type, Meaning: meaning, Fix: fix, ReceivingMX: f.ReceivingMX, Sessions: f.Sessions})
	}
	return out
}

// tlsWords says what a failure type means and what fixes it; the words of
// the MTA-STS types name the policy domain.
func tlsWords(typ, domain string) (meaning, fix i18n.Msg) {
	if !slices.Contains(tlsrpt.ResultTypes, typ) {
		return i18n.M("tlsrpt.meaning.unknown"), i18n.M("tlsrpt.fix.unknown")
	}
	meaning, fix = i18n.M("tlsrpt.meaning."+typ), i18n.M("tlsrpt.fix."+typ)
	switch typ {
	case "sts-webpki-invalid":
		meaning, fix = i18n.M("tlsrpt.meaning."+typ, domain), i18n.M("tlsrpt.fix."+typ, domain)
	case "sts-policy-fetch-error", "sts-policy-invalid":
		fix = i18n.M("tlsrpt.fix."+typ, domain)
	}
	return meaning, fix
}
