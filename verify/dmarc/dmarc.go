// Package dmarc discovers and parses DMARC records and judges identifier
// alignment by RFC 9989 (May 2026, which obsoletes RFC 7489). Policy
// discovery and the organizational domain come from the DNS Tree Walk
// (§4.10: at most eight _dmarc queries, psd= deciding where an
// organization ends); where the walk meets no record, the organizational
// domain is the Public Suffix List's (golang.org/x/net/publicsuffix), as
// ../shared/docs/verdicts.md says. Every evaluation also works out what a
// receiver still on RFC 7489 would conclude, and says where the two differ.
// go-msgauth's dmarc package only parses, without positions, np= or psd=,
// so all of this is here.
//
// Evaluate takes the SPF result and its domain and each DKIM signature's
// result and d=, and returns the DMARC result (pass, fail, none or
// temperror: RFC 9989 leaves no permerror, since a record that cannot be
// used means no DMARC processing), the alignment of every identifier, and the policy a receiver
// would apply to the message.
package dmarc

import (
	"context"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
)

// Result is the DMARC result (RFC 8601 §2.7.1 values).
type Result string

const (
	Pass      Result = "pass"
	Fail      Result = "fail"
	None      Result = "none"
	TempError Result = "temperror"
)

// PSLOrgDomain returns the organizational domain by the Public Suffix List
// (RFC 7489 §3.2): the registrable domain (mail.abc.it → abc.it). A public
// suffix itself, or a name the list cannot place, is its own. RFC 9989
// finds the organizational domain by the DNS Tree Walk instead (OrgDomain
// on a Walker); verdicts.md keeps this one where the walk meets no record.
func PSLOrgDomain(domain string) string {
	d := normalize(domain)
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// PSLAligned reports whether two domains align under mode as a receiver
// still on RFC 7489 judges it: equal for strict, the same Public Suffix
// List organizational domain for relaxed.
func PSLAligned(a, b string, mode Mode) bool {
	a, b = normalize(a), normalize(b)
	if a == "" || b == "" {
		return false
	}
	if mode == Strict || a == b {
		return a == b
	}
	return PSLOrgDomain(a) == PSLOrgDomain(b)
}

func normalize(d string) string { return strings.ToLower(strings.TrimSuffix(d, ".")) }

// Query is one DNS question of discovery.
type Query struct {
	Name    string   `json:"name"`
	Records []string `json:"records,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Discovery is where the record was looked for and what was found.
type Discovery struct {
	Queries []Query `json:"queries"`
	// Domain is where Record was found.
	Domain string  `json:"domain,omitempty"`
	Record *Record `json:"record,omitempty"`
	// Inherited says Record came from a parent of the domain, found by
	// the Tree Walk: sp= (or np=) applies instead of p=.
	Inherited bool `json:"inherited,omitempty"`
	// Discarded says which TXT records the walk met and set aside, and
	// why (two records at one name, v=dmarc1 in the wrong case).
	Discarded []i18n.Msg `json:"discarded,omitempty"`
	// Result is "" when a record was found, else None or TempError, with
	// Reason. Syntax is set when the walk ended at a record that cannot
	// be used (None: no DMARC processing).
	Result Result       `json:"result,omitempty"`
	Reason i18n.Msg     `json:"reason,omitzero"`
	Syntax *SyntaxError `json:"syntax,omitempty"`
}

// MaxRecordsShown bounds the TXT records kept per query.
const MaxRecordsShown = 10

// Discover finds the DMARC record that applies to a domain by the DNS Tree
// Walk of RFC 9989 §4.10.1, with its own Walker.
func Discover(ctx context.Context, r dnsx.Resolver, domain string) *Discovery {
	return NewWalker(r).Discover(ctx, domain)
}

// ReportHost is the domain of a mailto: report URI (with or without a
// !size suffix).
func ReportHost(uri string) (string, bool) {
	rest, ok := strings.CutPrefix(strings.ToLower(strings.TrimSpace(uri)), "mailto:")
	if !ok {
		return "", false
	}
	if i := strings.IndexByte(rest, '!'); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return "", false
	}
	host := normalize(rest[at+1:])
	return host, host != ""
}

// ExternalDestination checks the external destination verification of
// RFC 9990 (RFC 7489 §7.1): reports for domain may go to
// a host in another organizational domain only if that host publishes
// <domain>._report._dmarc.<host> TXT "v=DMARC1". It returns the name
// asked and whether the authorization is there.
func ExternalDestination(ctx context.Context, r dnsx.Resolver, domain, host string) (string, bool) {
	name := domain + "._report._dmarc." + host
	txts, err := r.LookupTXT(ctx, name)
	if err != nil {
		return name, false
	}
	for _, t := range txts {
		if IsDMARC(t) {
			return name, true
		}
	}
	return name, false
}
