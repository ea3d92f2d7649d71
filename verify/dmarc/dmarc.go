// Package dmarc discovers and parses DMARC records and judges identifier
// alignment (RFC 7489, with RFC 9990's np=). go-msgauth's dmarc package
// only parses, without positions or np=, so discovery, the organizational
// domain fallback (§6.6.3, from the Public Suffix List in
// golang.org/x/net/publicsuffix), alignment and the result are here.
//
// Evaluate takes the SPF result and its domain and each DKIM signature's
// result and d=, and returns the DMARC result (pass, fail, none, temperror,
// permerror), the alignment of every identifier, and the policy a receiver
// would apply to the message.
package dmarc

import (
	"context"
	"fmt"
	"strings"

	"golang.org/x/net/publicsuffix"

	"github.com/testerd/testerd/dnsx"
)

// Result is the DMARC result (RFC 8601 §2.7.1 values).
type Result string

const (
	Pass      Result = "pass"
	Fail      Result = "fail"
	None      Result = "none"
	TempError Result = "temperror"
	PermError Result = "permerror"
)

// OrgDomain returns the organizational domain of a domain: the registrable
// domain under the Public Suffix List (mail.abc.it → abc.it). A public
// suffix itself, or a name the list cannot place, is its own
// organizational domain.
func OrgDomain(domain string) string {
	d := normalize(domain)
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// Aligned reports whether two domains align under mode: equal for strict,
// the same organizational domain for relaxed (RFC 7489 §3.1).
func Aligned(a, b string, mode Mode) bool {
	a, b = normalize(a), normalize(b)
	if a == "" || b == "" {
		return false
	}
	if mode == Strict {
		return a == b
	}
	return OrgDomain(a) == OrgDomain(b)
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
	// Fallback says Record came from the organizational domain.
	Fallback bool `json:"fallback,omitempty"`
	// Result is "" when a record was found, else None, TempError or
	// PermError, with Reason.
	Result Result       `json:"result,omitempty"`
	Reason string       `json:"reason,omitempty"`
	Syntax *SyntaxError `json:"syntax,omitempty"`
}

// MaxRecordsShown bounds the TXT records kept per query.
const MaxRecordsShown = 10

// Discover looks up the DMARC record for a From domain: at _dmarc.<domain>,
// then at _dmarc.<organizational domain> (§6.6.3).
func Discover(ctx context.Context, r dnsx.Resolver, fromDomain string) *Discovery {
	d := &Discovery{}
	from := normalize(fromDomain)
	org := OrgDomain(from)
	if d.lookup(ctx, r, from) || org == from {
		return d
	}
	first := d.Reason
	if !d.lookup(ctx, r, org) {
		d.Reason = first + ", nor at the organizational domain: " + d.Reason
	}
	d.Fallback = d.Record != nil
	return d
}

// lookup queries _dmarc.<domain>; it reports whether discovery is over
// (a record found, or a temporary or permanent error).
func (d *Discovery) lookup(ctx context.Context, r dnsx.Resolver, domain string) bool {
	name := "_dmarc." + domain
	q := Query{Name: name}
	txts, err := r.LookupTXT(ctx, name)
	if err != nil {
		q.Error = dnsx.KindOf(err).String()
		d.Queries = append(d.Queries, q)
		if !dnsx.IsNotFound(err) && dnsx.KindOf(err) != dnsx.BadName {
			d.Result = TempError
			d.Reason = fmt.Sprintf("the DMARC record at %s could not be fetched (%s)", name, q.Error)
			return true
		}
		d.Result, d.Reason = None, fmt.Sprintf("no DMARC record at %s (%s)", name, q.Error)
		return false
	}
	var candidates []string
	for i, t := range txts {
		if i < MaxRecordsShown {
			q.Records = append(q.Records, clip(t))
		}
		if IsDMARC(t) {
			candidates = append(candidates, t)
		}
	}
	d.Queries = append(d.Queries, q)
	switch len(candidates) {
	case 0:
		d.Result, d.Reason = None, fmt.Sprintf("no DMARC record at %s (%d TXT records, none starts with v=DMARC1)", name, len(txts))
		return false
	case 1:
	default:
		d.Domain = domain
		d.Result, d.Reason = PermError, fmt.Sprintf("%s has %d DMARC records; receivers apply none of them (RFC 7489 §6.6.3)", name, len(candidates))
		return true
	}
	d.Domain = domain
	rec, err := Parse(candidates[0])
	if err != nil {
		d.Syntax, _ = err.(*SyntaxError)
		d.Result, d.Reason = PermError, fmt.Sprintf("the DMARC record at %s cannot be used: %s", name, strings.TrimPrefix(err.Error(), "dmarc: "))
		return true
	}
	d.Record, d.Result, d.Reason = rec, "", ""
	return true
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

// ExternalDestination checks RFC 7489 §7.1: reports for domain may go to
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
