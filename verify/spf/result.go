package spf

import (
	"errors"
	"net/netip"

	"github.com/testerd/testerd/i18n"
)

// Result is the outcome of check_host() (RFC 7208 §2.6).
type Result string

const (
	// None: no syntactically valid domain to check, or no SPF record (§2.6.1).
	None Result = "none"
	// Neutral: the domain owner asserts nothing about the IP (§2.6.2).
	Neutral Result = "neutral"
	// Pass: the IP is authorized to use the domain (§2.6.3).
	Pass Result = "pass"
	// Fail: the IP is explicitly not authorized (§2.6.4).
	Fail Result = "fail"
	// SoftFail: the IP is probably not authorized (§2.6.5).
	SoftFail Result = "softfail"
	// TempError: a transient DNS error, such as a timeout (§2.6.6).
	TempError Result = "temperror"
	// PermError: the records could not be interpreted (§2.6.7).
	PermError Result = "permerror"
)

// Identity says which identity was checked (§2.3, §2.4).
type Identity string

const (
	IdentityMailFrom Identity = "mailfrom"
	IdentityHelo     Identity = "helo"
)

// RFC 7208 §4.6.4 limits, shared through include and redirect.
const (
	// MaxDNSTerms: at most 10 mechanisms and modifiers that query DNS
	// (include, a, mx, ptr, exists, redirect) per evaluation.
	MaxDNSTerms = 10
	// MaxVoidLookups: at most 2 of those queries may return NXDOMAIN or
	// no answer.
	MaxVoidLookups = 2
	// MaxMXNames: an mx mechanism may look up addresses of at most 10 MX
	// names; more is a permerror.
	MaxMXNames = 10
	// MaxPTRNames: ptr and %{p} validate at most 10 PTR names; the rest
	// are ignored.
	MaxPTRNames = 10
)

// MaxQueries bounds the DNS questions one evaluation can ask, whatever the
// records say: the SPF record itself, then per DNS-querying term at most
// one lookup plus the addresses of MaxMXNames MX hosts, the client's PTR
// names validated once for all ptr terms and %{p}, and the exp= TXT.
const MaxQueries = 1 + MaxDNSTerms*(1+MaxMXNames) + (1 + MaxPTRNames) + 1

// Sentinel causes, for errors.Is on Problem.Err.
var (
	ErrMultipleRecords = errors.New("spf: more than one SPF record")
	ErrLookupLimit     = errors.New("spf: too many DNS-querying terms")
	ErrVoidLimit       = errors.New("spf: too many void lookups")
	ErrMXLimit         = errors.New("spf: too many MX names")
	ErrNoTargetRecord  = errors.New("spf: include or redirect target has no SPF record")
	ErrDNS             = errors.New("spf: DNS lookup failed")
	ErrDeadline        = errors.New("spf: evaluation deadline exceeded")
)

// Problem says what went wrong for permerror and temperror.
type Problem struct {
	Reason i18n.Msg `json:"reason"`
	// Domain whose record or lookup failed.
	Domain string `json:"domain,omitempty"`
	// Term and Column locate the offending term in Domain's record.
	Term   string `json:"term,omitempty"`
	Column int    `json:"column,omitempty"`
	Err    error  `json:"-"`
	// Cause names Err in the JSON, so a stored verdict still tells the
	// causes apart: multiple-records, lookup-limit, void-limit,
	// mx-limit, no-target-record, dns, deadline.
	Cause string `json:"cause,omitempty"`
}

var causes = map[error]string{
	ErrMultipleRecords: "multiple-records", ErrLookupLimit: "lookup-limit", ErrVoidLimit: "void-limit",
	ErrMXLimit: "mx-limit", ErrNoTargetRecord: "no-target-record", ErrDNS: "dns", ErrDeadline: "deadline",
}

// Is reports whether the problem's cause is target (one of the Err
// sentinels), also for a problem read back from JSON.
func (p *Problem) Is(target error) bool {
	if p == nil {
		return false
	}
	if p.Err != nil {
		return errors.Is(p.Err, target)
	}
	return p.Cause != "" && causes[target] == p.Cause
}

// Query is one DNS question the evaluation asked and what came back.
type Query struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Answers []string `json:"answers,omitempty"`
	// More counts answers left out of Answers to keep traces bounded.
	More int `json:"more,omitempty"`
	// Error is the failure kind: NXDOMAIN, NODATA, SERVFAIL, timeout, bad name.
	Error string `json:"error,omitempty"`
	// Void reports that the query counted as a void lookup.
	Void bool `json:"void,omitempty"`
}

// Step is one term tried while evaluating a record.
type Step struct {
	Pos  int    `json:"pos"`
	Term string `json:"term"`
	// Count is this term's number among the DNS-querying terms (1..10), or 0.
	Count int `json:"count,omitempty"`
	// Target is the domain the term's domain-spec expanded to.
	Target  string   `json:"target,omitempty"`
	Queries []Query  `json:"queries,omitempty"`
	Match   bool     `json:"match"`
	Note    i18n.Msg `json:"note,omitzero"`
	// Sub is the evaluation of an include or redirect target.
	Sub *Node `json:"sub,omitempty"`
}

// Node is the evaluation of one domain's record: the top domain, or the
// target of an include or redirect.
type Node struct {
	Domain string `json:"domain"`
	// Via is "include" or "redirect" for nested nodes.
	Via    string  `json:"via,omitempty"`
	Query  *Query  `json:"query,omitempty"` // the TXT lookup
	Record string  `json:"record,omitempty"`
	Steps  []*Step `json:"steps,omitempty"`
	// Exp is the exp= lookup made for a fail.
	Exp    *Step    `json:"exp,omitempty"`
	Result Result   `json:"result"`
	Note   i18n.Msg `json:"note,omitzero"`
}

// TermRef names a term in a domain's record.
type TermRef struct {
	Domain string `json:"domain"`
	Term   string `json:"term"`
	Pos    int    `json:"pos"`
}

// Evaluation is check_host() for one identity, with everything needed to
// explain it.
type Evaluation struct {
	Result   Result     `json:"result"`
	Identity Identity   `json:"identity"`
	Domain   string     `json:"domain"`
	Sender   string     `json:"sender"`
	IP       netip.Addr `json:"ip"`
	Helo     string     `json:"helo,omitempty"`
	// Record is the SPF record of Domain, as published.
	Record string `json:"record,omitempty"`
	// Matched is the term of Domain's record that decided the result
	// ("" when none matched); MatchPath follows includes and redirects
	// down to the term that matched in the end.
	Matched   string    `json:"matched,omitempty"`
	MatchPath []TermRef `json:"match_path,omitempty"`
	// Explanation is the exp= text (or the default) for fail.
	Explanation string `json:"explanation,omitempty"`
	// Reason is one sentence on why the result is what it is.
	Reason  i18n.Msg `json:"reason"`
	Problem *Problem `json:"problem,omitempty"`

	DNSTerms         int `json:"dns_terms"`
	DNSTermsLimit    int `json:"dns_terms_limit"`
	VoidLookups      int `json:"void_lookups"`
	VoidLookupsLimit int `json:"void_lookups_limit"`

	Trace *Node `json:"trace,omitempty"`
}

// Outcome holds both identities' evaluations (RFC 7208 §2.3, §2.4).
type Outcome struct {
	// MailFrom is nil when MAIL FROM was null.
	MailFrom *Evaluation `json:"mailfrom,omitempty"`
	// Helo is nil when there was no HELO name.
	Helo *Evaluation `json:"helo,omitempty"`
	// Used names the identity whose evaluation verdicts use.
	Used Identity `json:"used"`
}

// Effective is the evaluation verdicts use: MAIL FROM's, or HELO's when
// MAIL FROM was null (§2.4). It is never nil after Checker.Check.
func (o *Outcome) Effective() *Evaluation {
	if o.MailFrom != nil {
		return o.MailFrom
	}
	return o.Helo
}
