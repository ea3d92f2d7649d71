package spf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/idna"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
)

// DefaultTimeout is the overall deadline of one evaluation. RFC 7208
// §4.6.4 asks for "at least 20 seconds" before giving up with temperror.
const DefaultTimeout = 20 * time.Second

// MaxInputLen bounds the sender and HELO name CheckHost accepts, so macro
// expansions stay bounded whoever calls it: far above RFC 5321's limits
// (a path of 256 octets, a domain of 255).
const MaxInputLen = 512

// DefaultExplanation is the explanation of a fail when the record has no
// exp= (or it cannot be used), as a macro-string.
const DefaultExplanation = "%{d} does not designate %{i} as a permitted sender of mail for %{s}"

// maxAnswersKept bounds the answers one Query keeps in the trace, and
// maxExplanation the length of an explanation.
const (
	maxAnswersKept = 16
	maxExplanation = 1024
)

// Checker evaluates SPF. The zero value is not usable: Resolver is required.
type Checker struct {
	Resolver dnsx.Resolver
	// Receiver is the domain %{r} expands to (§7.2); "unknown" when empty.
	Receiver string
	// Timeout is the deadline of one evaluation; DefaultTimeout when zero.
	Timeout time.Duration
	// DefaultExplanation replaces the package's DefaultExplanation when
	// not empty.
	DefaultExplanation string
	// Now is the clock for %{t}; time.Now when nil.
	Now    func() time.Time
	Logger *slog.Logger
}

// Params is what the SMTP session tells about a message.
type Params struct {
	IP netip.Addr
	// Helo is the HELO/EHLO name.
	Helo string
	// MailFrom is the MAIL FROM address, "" for the null reverse-path.
	MailFrom string
}

// Check evaluates both identities: HELO (when a name was given) and
// MAIL FROM (when not null). Outcome.Effective is never nil.
func (c *Checker) Check(ctx context.Context, p Params) *Outcome {
	o := &Outcome{Used: IdentityHelo}
	// The two evaluations share nothing, so they run side by side.
	var wg sync.WaitGroup
	if p.Helo != "" || p.MailFrom == "" {
		wg.Go(func() { o.Helo = c.CheckHost(ctx, IdentityHelo, p.IP, p.Helo, p.Helo) })
	}
	if p.MailFrom != "" {
		o.MailFrom = c.CheckHost(ctx, IdentityMailFrom, p.IP, p.MailFrom, p.Helo)
		o.Used = IdentityMailFrom
	}
	wg.Wait()
	return o
}

// CheckHost runs check_host() (§4) for one identity. sender is the MAIL
// FROM address for IdentityMailFrom, the HELO name for IdentityHelo; the
// domain checked is its domain part, and a missing local-part becomes
// "postmaster" (§4.3).
func (c *Checker) CheckHost(ctx context.Context, id Identity, ip netip.Addr, sender, helo string) *Evaluation {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	local, domain := SplitSender(sender)
	ip = ip.Unmap() // an IPv4-mapped IPv6 client is an IPv4 client
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	receiver := c.Receiver
	if receiver == "" {
		receiver = "unknown"
	}
	e := &eval{c: c, ctx: ctx}
	e.env = macroEnv{
		sender: local + "@" + domain, local: local, domain: domain,
		ip: ip, helo: helo, receiver: receiver, now: now().Unix(),
		ptr: e.ptrMacro,
	}
	ev := &Evaluation{
		Identity: id, Domain: domain, Sender: e.env.sender, IP: ip, Helo: helo,
		DNSTermsLimit: MaxDNSTerms, VoidLookupsLimit: MaxVoidLookups,
	}
	lookupDomain, note := checkDomain(domain)
	if note.IsZero() && (len(sender) > MaxInputLen || len(helo) > MaxInputLen) {
		note = i18n.M("spf.input-long", MaxInputLen)
	}
	if !note.IsZero() {
		ev.Trace = &Node{Domain: domain, Result: None, Note: note}
		ev.Result = None
	} else {
		// checkHost gives an explanation only for fail.
		ev.Trace, ev.Result, ev.Explanation = e.checkHost(lookupDomain, "")
	}
	ev.Record = ev.Trace.Record
	ev.DNSTerms, ev.VoidLookups = e.dnsTerms, e.voids
	ev.Problem = e.problem
	if ev.Problem == nil && (ev.Result == PermError || ev.Result == TempError) {
		ev.Problem = &Problem{Reason: ev.Trace.Note, Domain: domain}
	}
	if ev.Result == TempError && ctx.Err() != nil {
		why := i18n.M("spf.deadline", timeout.String())
		if errors.Is(ctx.Err(), context.Canceled) {
			why = i18n.M("spf.cancelled")
		}
		ev.Problem = &Problem{Reason: why, Domain: domain, Err: ErrDeadline, Cause: causes[ErrDeadline]}
	}
	ev.MatchPath = matchPath(ev.Trace)
	if len(ev.MatchPath) > 0 {
		ev.Matched = ev.MatchPath[0].Term
	}
	ev.Reason = reason(ev)
	if c.Logger != nil {
		c.Logger.Debug("spf", "identity", id, "domain", domain, "ip", ip, "result", ev.Result, "dns_terms", ev.DNSTerms)
	}
	return ev
}

// SplitSender splits a MAIL FROM address (or a bare HELO name) into the
// local part and the domain SPF checks: the domain is what follows the
// last "@", or the whole of a string without one, and a missing local part
// is "postmaster" (§4.3).
func SplitSender(sender string) (local, domain string) {
	local, domain = "postmaster", sender
	if i := strings.LastIndexByte(sender, '@'); i >= 0 {
		domain = sender[i+1:]
		if i > 0 {
			local = sender[:i]
		}
	}
	return local, domain
}

// checkDomain applies §4.3: a malformed domain, a single label or a
// literal gives "none" without a lookup. It returns the name to look up
// (A-labels for an internationalized domain) or why there is none.
func checkDomain(domain string) (string, i18n.Msg) {
	d := strings.TrimSuffix(domain, ".")
	if d == "" {
		return "", i18n.M("spf.domain.none")
	}
	if strings.HasPrefix(d, "[") {
		return "", i18n.M("spf.domain.literal")
	}
	for i := 0; i < len(d); i++ {
		if d[i] >= 0x80 {
			a, err := idna.Lookup.ToASCII(d)
			if err != nil {
				return "", i18n.M("spf.domain.idna", err.Error())
			}
			d = a
			break
		}
	}
	if err := dnsx.CheckName(d); err != nil {
		return "", i18n.M("spf.domain.malformed", err.Error())
	}
	if !strings.Contains(d, ".") {
		return "", i18n.M("spf.domain.label")
	}
	// DNS labels may hold any octet, and a domain built by macros from a
	// local part ("%{l}" of "mary+travel") can hold "+" or "=". Only what
	// no mail domain or DNS question can carry is refused.
	for i := 0; i < len(d); i++ {
		if c := d[i]; c <= ' ' || c == 0x7f {
			return "", i18n.M("spf.domain.char", fmt.Sprintf("%q", c))
		}
	}
	return d, i18n.Msg{}
}

// eval is the state of one evaluation, shared across include and redirect.
type eval struct {
	c        *Checker
	ctx      context.Context
	env      macroEnv
	dnsTerms int
	voids    int
	problem  *Problem

	ptrDone bool
	ptrs    []string // validated PTR names, for ptr and %{p}
	ptrErr  error    // the PTR lookup's error
	ptrQ    []Query
}

// setProblem records the first problem; later ones are consequences.
func (e *eval) setProblem(p *Problem) {
	if e.problem == nil {
		p.Cause = causes[p.Err]
		e.problem = p
	}
}

// checkHost evaluates domain's record. It returns the trace node, the
// result and, for fail, the explanation.
func (e *eval) checkHost(domain, via string) (*Node, Result, string) {
	n := &Node{Domain: domain, Via: via}
	finish := func(r Result, note i18n.Msg) (*Node, Result, string) {
		n.Result = r
		if !note.IsZero() {
			n.Note = note
		}
		return n, r, ""
	}
	if err := e.ctx.Err(); err != nil {
		e.setProblem(&Problem{Reason: i18n.M("spf.deadline-exceeded"), Domain: domain, Err: ErrDeadline})
		return finish(TempError, i18n.M("spf.deadline-exceeded"))
	}

	// §4.4: the record is the one TXT record starting with "v=spf1".
	txts, q, err := e.txt(domain)
	n.Query = &q
	if err != nil {
		if dnsx.IsNotFound(err) {
			return finish(None, i18n.M("spf.note.none", q.Error))
		}
		e.setProblem(&Problem{Reason: i18n.M("spf.problem.lookup", q.Error), Domain: domain, Err: ErrDNS})
		return finish(TempError, i18n.M("spf.note.lookup", q.Error))
	}
	spfs := Records(txts)
	switch len(spfs) {
	case 0:
		return finish(None, i18n.M("spf.note.no-spf"))
	case 1:
	default:
		// §4.5: more than one record is a permerror.
		n.Record = spfs[0]
		e.setProblem(&Problem{Reason: i18n.M("spf.problem.several", domain, len(spfs)), Domain: domain, Err: ErrMultipleRecords})
		return finish(PermError, i18n.M("lint.node.several", len(spfs)))
	}
	n.Record = spfs[0]
	rec, err := Parse(spfs[0])
	if err != nil {
		p := &Problem{Reason: i18n.Of(err), Domain: domain, Err: err}
		var se *SyntaxError
		if errors.As(err, &se) {
			p.Reason, p.Term, p.Column = se.Reason, se.Term, se.Pos
		}
		e.setProblem(p)
		return finish(PermError, i18n.M("spf.note.syntax", i18n.Of(err)))
	}

	env := e.env
	env.current = domain
	for _, t := range rec.Terms {
		if t.Mechanism == "" {
			continue // modifiers are evaluated after the mechanisms (§6)
		}
		s := &Step{Pos: t.Pos, Term: t.Raw}
		n.Steps = append(n.Steps, s)
		match, res := e.mechanism(t, &env, s)
		if res != "" {
			return finish(res, i18n.Msg{})
		}
		if match {
			r := t.Qualifier.Result()
			n.Result = r
			if r == Fail {
				return n, r, e.explain(rec, &env, n)
			}
			return n, r, ""
		}
	}
	// §6.1: redirect applies when no mechanism matched.
	if t := rec.Redirect; t != nil {
		s := &Step{Pos: t.Pos, Term: t.Raw}
		n.Steps = append(n.Steps, s)
		if res := e.countDNS(s, domain, t); res != "" {
			return finish(res, i18n.Msg{})
		}
		s.Target = e.expandDomain(t.macro, &env)
		target, note := checkDomain(s.Target)
		if !note.IsZero() {
			s.Note = note
			e.setProblem(&Problem{Reason: i18n.M("spf.problem.redirect-bad", s.Target, note), Domain: domain, Term: t.Raw, Column: t.Pos, Err: ErrNoTargetRecord})
			return finish(PermError, i18n.Msg{})
		}
		sub, r, expl := e.checkHost(target, "redirect")
		s.Sub = sub
		if r == None {
			e.setProblem(&Problem{Reason: i18n.M("spf.problem.redirect-none", target), Domain: domain, Term: t.Raw, Column: t.Pos, Err: ErrNoTargetRecord})
			return finish(PermError, i18n.Msg{})
		}
		n.Result = r
		return n, r, expl
	}
	// §4.7: no match and no redirect: neutral.
	return finish(Neutral, i18n.M("spf.note.default"))
}

// countDNS charges one DNS-querying term (§4.6.4).
func (e *eval) countDNS(s *Step, domain string, t *Term) Result {
	e.dnsTerms++
	s.Count = e.dnsTerms
	if e.dnsTerms > MaxDNSTerms {
		s.Note = i18n.M("spf.note.terms", e.dnsTerms, MaxDNSTerms)
		e.setProblem(&Problem{Reason: i18n.M("spf.problem.terms", MaxDNSTerms), Domain: domain, Term: t.Raw, Column: t.Pos, Err: ErrLookupLimit})
		return PermError
	}
	return ""
}

// void charges a void lookup (§4.6.4).
func (e *eval) void(s *Step, q *Query, t *Term) Result {
	q.Void = true
	e.voids++
	if e.voids > MaxVoidLookups {
		s.Note = i18n.M("spf.note.voids", e.voids, MaxVoidLookups)
		e.setProblem(&Problem{Reason: i18n.M("spf.problem.voids", MaxVoidLookups), Domain: e.env.current, Term: t.Raw, Column: t.Pos, Err: ErrVoidLimit})
		return PermError
	}
	return ""
}

// answered records a term's lookup in its step and classifies err: ok
// when there are answers; otherwise a void answer (charged against the
// void limit, §4.6.4) or a DNS error (temperror), and the mechanism does
// not match. A non-empty Result ends the evaluation.
func (e *eval) answered(s *Step, q Query, err error, t *Term, domain string) (ok bool, r Result) {
	s.Queries = append(s.Queries, q)
	if err == nil {
		return true, ""
	}
	qp := &s.Queries[len(s.Queries)-1]
	if isVoid(err) {
		return false, e.void(s, qp, t)
	}
	return false, e.dnsError(s, qp, t, domain)
}

// isVoid reports an answer with no records: NXDOMAIN, NODATA, or a name
// that cannot exist (a macro expanded into an empty or overlong label).
func isVoid(err error) bool {
	return dnsx.IsNotFound(err) || dnsx.KindOf(err) == dnsx.BadName
}

// dnsError turns a failed lookup into temperror (§5: a DNS error other
// than NXDOMAIN ends the evaluation with temperror).
func (e *eval) dnsError(s *Step, q *Query, t *Term, domain string) Result {
	s.Note = i18n.M("spf.note.dns", q.Error)
	err := ErrDNS
	if e.ctx.Err() != nil {
		err = ErrDeadline
	}
	e.setProblem(&Problem{Reason: i18n.M("spf.problem.dns", q.Type, q.Name, q.Error), Domain: domain, Term: t.Raw, Column: t.Pos, Err: err})
	return TempError
}

// mechanism evaluates one mechanism. A non-empty Result ends the
// evaluation (permerror or temperror).
func (e *eval) mechanism(t *Term, env *macroEnv, s *Step) (bool, Result) {
	domain := env.current
	if t.IsDNS() {
		if r := e.countDNS(s, domain, t); r != "" {
			return false, r
		}
	}
	ip := e.env.ip
	switch t.Mechanism {
	case MAll:
		s.Match = true
		return true, ""
	case MIP4, MIP6:
		s.Match = t.Network.Contains(ip)
		switch {
		case s.Match:
			s.Note = i18n.M("spf.note.in", ip.String(), t.Network.String())
		case ip.Is4() != t.Network.Addr().Is4():
			s.Note = i18n.M("spf.note.family")
		}
		return s.Match, ""
	}

	target := domain
	if t.DomainSpec != "" {
		target = e.expandDomain(t.macro, env)
	}
	s.Target = target

	switch t.Mechanism {
	case MInclude:
		name, note := checkDomain(target)
		if !note.IsZero() {
			s.Note = note
			e.setProblem(&Problem{Reason: i18n.M("spf.problem.include-bad", target, note), Domain: domain, Term: t.Raw, Column: t.Pos, Err: ErrNoTargetRecord})
			return false, PermError
		}
		sub, r, _ := e.checkHost(name, "include")
		s.Sub = sub
		// §5.2: the include's result maps to match, no match or an error.
		switch r {
		case Pass:
			s.Match = true
			return true, ""
		case Fail, SoftFail, Neutral:
			s.Note = i18n.M("spf.note.included", string(r))
			return false, ""
		case TempError:
			return false, TempError
		case None:
			e.setProblem(&Problem{Reason: i18n.M("spf.problem.include-none", name), Domain: domain, Term: t.Raw, Column: t.Pos, Err: ErrNoTargetRecord})
			return false, PermError
		}
		return false, PermError

	case MA, MExists:
		network := "ip4" // §5.7: exists always asks for A records
		if t.Mechanism == MA {
			network = family(ip)
		}
		ips, q, err := e.ips(network, target)
		if ok, r := e.answered(s, q, err, t, domain); !ok {
			return false, r
		}
		if t.Mechanism == MExists {
			// §5.7: any A record matches, whatever the address.
			s.Match = true
			return true, ""
		}
		s.Match = matchAny(ips, ip, t)
		return s.Match, ""

	case MMX:
		mxs, q, err := e.mx(target)
		if ok, r := e.answered(s, q, err, t, domain); !ok {
			return false, r
		}
		// §4.6.4: at most 10 MX names may be looked up; more is permerror.
		if len(mxs) > MaxMXNames {
			s.Note = i18n.M("spf.note.mx", len(mxs), MaxMXNames)
			e.setProblem(&Problem{Reason: i18n.M("spf.problem.mx", target, len(mxs), MaxMXNames), Domain: domain, Term: t.Raw, Column: t.Pos, Err: ErrMXLimit})
			return false, PermError
		}
		network := family(ip)
		for _, host := range mxs {
			ips, q, err := e.ips(network, host)
			s.Queries = append(s.Queries, q)
			if err != nil {
				// An MX host without addresses is skipped, and is not a
				// void lookup of the term (only the MX query is).
				if !isVoid(err) {
					return false, e.dnsError(s, &s.Queries[len(s.Queries)-1], t, domain)
				}
				continue
			}
			if matchAny(ips, ip, t) {
				s.Match = true
				s.Note = i18n.M("spf.note.mx-address", host)
				return true, ""
			}
		}
		return false, ""

	case MPTR:
		names := e.validatedPTR(s)
		// A PTR lookup that found nothing is a void lookup for this term.
		if dnsx.IsNotFound(e.ptrErr) {
			if r := e.void(s, &s.Queries[len(s.Queries)-len(e.ptrQ)], t); r != "" {
				return false, r
			}
		}
		for _, name := range names {
			if isSubdomain(name, target) {
				s.Match = true
				s.Note = i18n.M("spf.note.ptr", name)
				return true, ""
			}
		}
		if len(names) == 0 {
			s.Note = i18n.M("spf.note.no-ptr")
		}
		return false, ""
	}
	return false, PermError // unreachable: Parse knows only these mechanisms
}

// family is the LookupIP network for the client's addresses.
func family(ip netip.Addr) string {
	if ip.Is6() {
		return "ip6"
	}
	return "ip4"
}

// matchAny reports whether ip is within the a/mx CIDR of any address.
func matchAny(ips []netip.Addr, ip netip.Addr, t *Term) bool {
	bits := ip.BitLen()
	if ip.Is4() && t.CIDR4 >= 0 {
		bits = t.CIDR4
	}
	if ip.Is6() && t.CIDR6 >= 0 {
		bits = t.CIDR6
	}
	for _, a := range ips {
		if a.Is4() != ip.Is4() {
			continue
		}
		p, err := a.Prefix(bits)
		if err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// isSubdomain reports whether name equals domain or is under it,
// case-insensitively and ignoring trailing dots.
func isSubdomain(name, domain string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	return name == domain || strings.HasSuffix(name, "."+domain)
}

// validatedPTR returns the client's forward-confirmed PTR names (§5.5),
// looked up once per evaluation and shared by ptr and %{p}. DNS errors
// make a name unvalidated rather than failing the evaluation.
func (e *eval) validatedPTR(s *Step) []string {
	if !e.ptrDone {
		e.ptrDone = true
		ip := e.env.ip
		names, q, err := e.ptr(ip)
		e.ptrErr = err
		e.ptrQ = append(e.ptrQ, q)
		if err == nil {
			// §4.6.4: "all records other than the first 10 MUST be ignored".
			if len(names) > MaxPTRNames {
				names = names[:MaxPTRNames]
			}
			network := family(ip)
			for _, name := range names {
				ips, q, err := e.ips(network, name)
				e.ptrQ = append(e.ptrQ, q)
				if err == nil && slices.Contains(ips, ip) {
					e.ptrs = append(e.ptrs, strings.TrimSuffix(name, "."))
				}
			}
		}
	}
	if s != nil {
		s.Queries = append(s.Queries, e.ptrQ...)
	}
	return e.ptrs
}

// ptrMacro is %{p} (§7.3): a validated name of the client, preferring the
// current domain or a subdomain of it, else "unknown".
func (e *eval) ptrMacro(cur string) string {
	names := e.validatedPTR(nil)
	for _, n := range names {
		if strings.EqualFold(n, strings.TrimSuffix(cur, ".")) {
			return n
		}
	}
	for _, n := range names {
		if isSubdomain(n, cur) {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return "unknown"
}

// expandDomain expands a domain-spec and shortens the result to 253
// octets by dropping labels from the left (§7.3).
func (e *eval) expandDomain(m macroString, env *macroEnv) string {
	d := m.expand(env)
	for len(strings.TrimSuffix(d, ".")) > dnsx.MaxNameLen {
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	return d
}

// explain computes the explanation of a fail (§6.2): the TXT record at
// the exp= domain, macro-expanded. Any problem with it (DNS error, no or
// several records, bad syntax, non-ASCII) falls back to the default. The
// exp lookup does not count against the limits.
func (e *eval) explain(rec *Record, env *macroEnv, n *Node) string {
	def := func() string {
		d := e.c.DefaultExplanation
		if d == "" {
			d = DefaultExplanation
		}
		m, _ := parseMacroString(d, true, true)
		return clip(m.expand(env))
	}
	if rec.Exp == nil {
		return def()
	}
	target := e.expandDomain(rec.Exp.macro, env)
	s := &Step{Pos: rec.Exp.Pos, Term: rec.Exp.Raw, Target: target}
	n.Exp = s
	if _, note := checkDomain(target); !note.IsZero() {
		s.Note = i18n.M("spf.exp.default", note)
		return def()
	}
	txts, q, err := e.txt(target)
	s.Queries = append(s.Queries, q)
	switch {
	case err != nil:
		s.Note = i18n.M("spf.exp.default", i18n.M("spf.exp.lookup"))
		return def()
	case len(txts) != 1:
		s.Note = i18n.M("spf.exp.default", i18n.M("spf.exp.records", len(txts)))
		return def()
	}
	for i := 0; i < len(txts[0]); i++ {
		if txts[0][i] >= 0x80 {
			s.Note = i18n.M("spf.exp.default", i18n.M("spf.exp.ascii"))
			return def()
		}
	}
	m, reason := parseMacroString(txts[0], true, true)
	if !reason.IsZero() {
		s.Note = i18n.M("spf.exp.default", i18n.M("spf.exp.syntax", reason))
		return def()
	}
	return clip(m.expand(env))
}

func clip(s string) string {
	if len(s) > maxExplanation {
		return s[:maxExplanation]
	}
	return s
}

// The lookups, each returning its trace record.

func (e *eval) txt(name string) ([]string, Query, error) {
	txts, err := e.c.Resolver.LookupTXT(e.ctx, name)
	q := newQuery(name, "TXT", err)
	for _, t := range txts {
		q.add(t)
	}
	return txts, q, err
}

func (e *eval) ips(network, name string) ([]netip.Addr, Query, error) {
	typ := "A"
	if network == "ip6" {
		typ = "AAAA"
	}
	ips, err := e.c.Resolver.LookupIP(e.ctx, network, name)
	q := newQuery(name, typ, err)
	for _, a := range ips {
		q.add(a.String())
	}
	return ips, q, err
}

func (e *eval) mx(name string) ([]string, Query, error) {
	mxs, err := e.c.Resolver.LookupMX(e.ctx, name)
	q := newQuery(name, "MX", err)
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		q.add(fmt.Sprintf("%d %s", mx.Pref, mx.Host))
		hosts = append(hosts, mx.Host)
	}
	return hosts, q, err
}

func (e *eval) ptr(ip netip.Addr) ([]string, Query, error) {
	names, err := e.c.Resolver.LookupAddr(e.ctx, ip)
	q := newQuery(ip.String(), "PTR", err)
	for _, n := range names {
		q.add(n)
	}
	return names, q, err
}

func newQuery(name, typ string, err error) Query {
	q := Query{Name: name, Type: typ}
	var de *dnsx.Error
	switch {
	case err == nil:
	case errors.As(err, &de):
		q.Error = de.Kind.String()
		if de.Detail != "" {
			q.Error += " (" + de.Detail + ")"
		}
	case dnsx.KindOf(err) != 0:
		q.Error = dnsx.KindOf(err).String()
	default:
		q.Error = err.Error()
	}
	return q
}

func (q *Query) add(answer string) {
	if len(q.Answers) >= maxAnswersKept {
		q.More++
		return
	}
	q.Answers = append(q.Answers, answer)
}

// matchPath follows the trace from the top record down through the
// include or redirect that decided the result to the term that matched.
func matchPath(n *Node) []TermRef {
	var path []TermRef
	for depth := 0; n != nil && len(n.Steps) > 0 && depth <= MaxDNSTerms+1; depth++ {
		last := n.Steps[len(n.Steps)-1]
		isRedirect := last.Sub != nil && last.Sub.Via == "redirect"
		if !last.Match && !isRedirect {
			break
		}
		path = append(path, TermRef{Domain: n.Domain, Term: last.Term, Pos: last.Pos})
		n = last.Sub
	}
	return path
}
