package explain

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/requirements"
	"github.com/testerd/testerd/verify/spf"
)

// StepOrder is the order steps come in: what the receivers refuse every
// message for, in the order a session meets it (the connection, TLS, the
// message), then the bulk senders' rules, then the rest.
var StepOrder = []string{
	"ipv6", "rdns", "rdns-generic", "helo", "tls", "spf-entries", "auth", "gmail-from", "format",
	"spf-authorized", "spf", "dkim", "dkim-aligned", "alignment", "dmarc", "unsubscribe", "unsubscribe-try",
	"attachments", "reputation", "link-reputation", "receiving-domains", "idn-scripts", "display-name", "reply-prefix", "both-aligned",
	"link-text", "html-clip", "links", "body-unsubscribe", "text-part", "images", "size", "arc",
}

// steps turns the findings into steps, in StepOrder; a step that fixes
// several findings (SPF fixes auth, and alignment when its domain aligns)
// comes where the first of them does.
func (x *explainer) steps() {
	ids := make([]string, 0, len(x.d.Findings))
	for _, f := range x.d.Findings {
		ids = append(ids, f.ID)
	}
	slices.SortStableFunc(ids, func(a, b string) int { return rank(a) - rank(b) })
	for _, id := range ids {
		if x.fixed(id) {
			continue
		}
		switch id {
		case "auth":
			x.spfSteps(true)
			x.dkimSteps(true)
		case "spf", "spf-authorized":
			x.spfSteps(false)
		case "dkim":
			x.dkimSteps(false)
		case "alignment":
			x.alignSteps()
		case "dmarc":
			x.dmarcSteps()
		case "rdns":
			x.rdnsStep()
		case "dkim-aligned":
			// Signing for the From domain makes both SPF and DKIM align
			// when SPF already does.
			if it, ok := x.rep.Item(id); ok && !it.Fix.IsZero() {
				x.step(x.say(it.Fix), nil, "dkim-aligned", "both-aligned")
			}
		default:
			if it, ok := x.rep.Item(id); ok && !it.Fix.IsZero() {
				x.step(x.say(it.Fix), nil, id)
			}
		}
	}
	if d := x.v.DMARC; d != nil && d.Result == dmarc.Pass && d.Policy == dmarc.PolicyNone && x.v.Kind == kind.Check {
		x.step(x.t("step.dmarc.later"), nil)
	}
	x.externalRUA()
	x.gains()
}

func rank(id string) int {
	if i := slices.Index(StepOrder, id); i >= 0 {
		return i
	}
	return len(StepOrder)
}

// fixed reports whether a step already fixes finding id.
func (x *explainer) fixed(id string) bool {
	for _, st := range x.d.Steps {
		if slices.Contains(st.Fixes, id) {
			return true
		}
	}
	return false
}

// failing reports whether finding id is among the findings.
func (x *explainer) failing(id string) bool {
	_, ok := x.finding(id)
	return ok
}

// step adds a step fixing the findings of fixes that are failing.
func (x *explainer) step(text string, r *Record, fixes ...string) {
	st := Step{Text: text, Record: r, Fixes: []string{}, Unblocks: []string{}}
	for _, id := range fixes {
		if x.failing(id) && !slices.Contains(st.Fixes, id) {
			st.Fixes = append(st.Fixes, id)
		}
	}
	x.d.Steps = append(x.d.Steps, st)
}

// gains fills each step's providers and points: a finding's points go to
// the first step that fixes it.
func (x *explainer) gains() {
	counted := map[string]bool{}
	for i := range x.d.Steps {
		st := &x.d.Steps[i]
		for _, id := range st.Fixes {
			f, _ := x.finding(id)
			for _, p := range f.Providers {
				if !slices.Contains(st.Unblocks, p) {
					st.Unblocks = append(st.Unblocks, p)
				}
			}
			if !counted[id] {
				counted[id] = true
				st.Points += f.Points
			}
		}
		slices.SortFunc(st.Unblocks, func(a, b string) int { return x.providerIndex(a) - x.providerIndex(b) })
	}
}

func (x *explainer) providerIndex(name string) int {
	for i, p := range x.d.Providers {
		if p.Name == name {
			return i
		}
	}
	return len(x.d.Providers)
}

// SPF.

// spfSteps proposes the SPF record that makes SPF pass. It fixes spf,
// auth (either SPF or DKIM is enough), and alignment when the SPF domain
// aligns with From.
func (x *explainer) spfSteps(forAuth bool) {
	e := x.spfEval()
	if e == nil {
		return
	}
	fixes := []string{"spf", "spf-authorized", "auth"}
	if x.v.DMARC.SPF.DomainAligned {
		fixes = append(fixes, "alignment")
	}
	ip := x.v.Envelope.IP
	switch e.Result {
	case spf.Fail, spf.SoftFail, spf.Neutral:
		rec, err := spf.Parse(e.Record)
		if err != nil {
			x.step(x.t("step.spf.fix", e.Domain, err.Error()), nil, fixes...)
			return
		}
		x.authorize(e, rec, ip, "step.spf.authorize", fixes)
	case spf.None:
		rec, _ := spf.Parse("v=spf1 ~all")
		x.authorize(e, rec, ip, "step.spf.publish", fixes)
	case spf.PermError:
		x.spfPermError(e, fixes)
	case spf.TempError:
		x.step(x.t("step.spf.temperror", e.Domain), nil, fixes...)
	}
}

// authorize proposes rec with the sending service's include (when the HELO
// name says which one) or the sending IP added.
func (x *explainer) authorize(e *spf.Evaluation, rec *spf.Record, ip netip.Addr, key string, fixes []string) {
	term, service := "", ""
	if sv, ok := KnownService(x.v.Envelope.Helo); ok {
		term, service = "include:"+sv.Include, sv.Name
	}
	var out *spf.Record
	var err error
	if term != "" {
		out, _, err = rec.Authorize(term)
	} else {
		out, _, err = rec.AuthorizeIP(ip)
	}
	if err != nil || out == nil {
		x.step(x.t("step.spf.fix", e.Domain, fmt.Sprint(err)), nil, fixes...)
		return
	}
	who := ip.String()
	if service != "" {
		who = service
	}
	x.step(x.t(key, who, e.Domain), &Record{Name: e.Domain, Type: "TXT", Value: out.String()}, fixes...)
	if n := e.DNSTerms + 1; service != "" && n > spf.MaxDNSTerms {
		x.step(x.t("step.spf.over-limit", n, spf.MaxDNSTerms), nil)
	}
}

func (x *explainer) spfPermError(e *spf.Evaluation, fixes []string) {
	p := e.Problem
	switch {
	case p.Is(spf.ErrMultipleRecords):
		var recs []*spf.Record
		if e.Trace != nil && e.Trace.Query != nil {
			for _, a := range e.Trace.Query.Answers {
				if r, err := spf.Parse(a); err == nil {
					recs = append(recs, r)
				}
			}
		}
		if len(recs) < 2 {
			x.step(x.t("step.spf.multiple", e.Domain), nil, fixes...)
			return
		}
		m := spf.Merge(recs)
		x.step(x.t("step.spf.merge", len(recs), e.Domain), &Record{Name: e.Domain, Type: "TXT", Value: m.String()}, fixes...)
		if m.DNSTerms() > spf.MaxDNSTerms {
			x.step(x.t("step.spf.over-limit", m.DNSTerms(), spf.MaxDNSTerms), nil)
		}
	case p.Is(spf.ErrLookupLimit):
		var costs []string
		for _, c := range LookupCosts(e) {
			costs = append(costs, fmt.Sprintf("%s (%d)", c.Term, c.Lookups))
		}
		x.step(x.t("step.spf.lookups", spf.MaxDNSTerms, strings.Join(costs, ", ")), nil, fixes...)
	case p.Is(spf.ErrVoidLimit):
		x.step(x.t("step.spf.void", e.Domain), nil, fixes...)
	case p != nil:
		where := p.Domain
		if p.Term != "" {
			where = fmt.Sprintf("%s (%s)", p.Term, p.Domain)
		}
		x.step(x.t("step.spf.fix", where, p.Reason), nil, fixes...)
	default:
		x.step(x.t("step.spf.fix", e.Domain, e.Reason), nil, fixes...)
	}
}

// DKIM.

// dkimSteps makes a signature pass. Signing for the From domain fixes
// dkim, auth and alignment; repairing a signature fixes alignment when its
// d= aligns.
func (x *explainer) dkimSteps(forAuth bool) {
	d := x.v.DMARC
	from := x.from()
	if len(x.v.DKIM.Signatures) == 0 {
		x.step(x.t("step.dkim.sign", from, suggestedSelector+"._domainkey."+orgOr(d, from)), nil, "dkim", "auth", "alignment", "dkim-aligned")
		return
	}
	if len(x.passing()) > 0 {
		if it, ok := x.rep.Item("dkim"); ok && it.Status == requirements.Warn && !it.Fix.IsZero() {
			x.step(x.say(it.Fix), nil, "dkim")
		}
		return
	}
	s := x.best()
	fixes := []string{"dkim", "auth"}
	for i, sig := range x.v.DKIM.Signatures {
		if sig == s && i < len(d.DKIM) && d.DKIM[i].DomainAligned {
			fixes = append(fixes, "alignment", "dkim-aligned")
		}
	}
	switch {
	case s.Result == dkim.Fail && failed(s, dkim.CheckBodyHash):
		x.step(x.t("step.dkim.body"), nil, fixes...)
	case s.Result == dkim.Fail:
		key := s.Selector + "._domainkey." + s.Domain
		if s.Key != nil && s.Key.Name != "" {
			key = s.Key.Name
		}
		x.step(x.t("step.dkim.header", key), nil, fixes...)
	case s.Result == dkim.TempError:
		x.step(x.t("step.dkim.temperror", s.Domain), nil, fixes...)
	case s.Problem != nil && s.Problem.In == "dns" && s.Selector != "" && s.Domain != "":
		x.step(x.t("step.dkim.publish", s.Selector+"._domainkey."+s.Domain), nil, fixes...)
	default:
		x.step(x.t("step.dkim.invalid", s.Reason), nil, fixes...)
	}
}

// suggestedSelector is the selector a step names when the sender has no
// signature yet: any name works, and the step says so.
const suggestedSelector = "s1"

// orgOr is the From domain's organizational domain, or from.
func orgOr(d *dmarc.Evaluation, from string) string {
	if d != nil && d.FromDomain != "" {
		return d.FromDomain
	}
	return from
}

// Alignment.

// alignSteps fixes a pass that does not count for DMARC: the SPF or DKIM
// domain is another organization's.
func (x *explainer) alignSteps() {
	d := x.v.DMARC
	if d.FromDomain == "" {
		x.step(x.t("step.from", x.v.From.Problem), nil, "alignment", "dmarc")
		return
	}
	if e := x.spfEval(); e.Result == spf.Pass && !d.SPF.DomainAligned {
		x.step(x.t("step.align.spf", e.Domain, d.FromDomain), nil, "alignment")
	}
	for _, s := range x.passing() {
		x.step(x.t("step.align.dkim", s.Domain, d.FromDomain), nil, "alignment")
		break
	}
	if !x.fixed("alignment") {
		if d.Result == dmarc.TempError {
			x.step(x.t("step.dmarc.temperror-check", x.tempVia()), nil, "alignment")
			return
		}
		// Nothing passes: signing for the From domain aligns.
		x.step(x.t("step.dkim.sign", x.from(), suggestedSelector+"._domainkey."+d.FromDomain), nil, "alignment", "dkim", "auth")
	}
}

// DMARC.

func (x *explainer) dmarcSteps() {
	d := x.v.DMARC
	if d.FromDomain == "" {
		x.step(x.t("step.from", x.v.From.Problem), nil, "dmarc", "alignment")
		return
	}
	rua := "rua@" + x.o.TesterDomain
	switch {
	case d.Discovery != nil && d.Discovery.Syntax != nil:
		x.step(x.t("step.dmarc.fix", d.Discovery.Syntax.Reason, rua), &Record{Name: "_dmarc." + d.Discovery.Domain, Type: "TXT", Value: "v=DMARC1; p=none; rua=mailto:" + rua}, "dmarc")
	case d.Discovery != nil && d.Discovery.Result == dmarc.TempError:
		x.step(x.t("step.dmarc.temperror", d.OrgDomain), nil, "dmarc")
	case d.Discovery != nil && d.Discovery.Record == nil:
		x.step(x.t("step.dmarc.publish", rua), &Record{Name: "_dmarc." + d.OrgDomain, Type: "TXT", Value: "v=DMARC1; p=none; rua=mailto:" + rua}, "dmarc")
	default:
		if it, ok := x.rep.Item("dmarc"); ok && !it.Fix.IsZero() {
			x.step(x.say(it.Fix), nil, "dmarc")
		}
	}
}

// externalRUA: reports to another organization need its authorization.
func (x *explainer) externalRUA() {
	d := x.v.DMARC
	if d == nil || d.Discovery == nil || d.Discovery.Record == nil {
		return
	}
	for _, u := range d.Discovery.Record.RUA {
		host, ok := dmarc.ReportHost(u)
		if !ok || dmarc.PSLOrgDomain(host) == dmarc.PSLOrgDomain(d.Discovery.Domain) || host == x.o.TesterDomain {
			continue // the tester authorizes every domain (testerd dns-records)
		}
		name := d.Discovery.Domain + "._report._dmarc." + host
		x.step(x.t("step.dmarc.external", u, host), &Record{Name: name, Type: "TXT", Value: "v=DMARC1"}, "dmarc")
		break
	}
}

// Reverse DNS.

// rdnsStep asks for a PTR: the sending IP's reverse name, pointing at the
// HELO name when that is a host name of the sender's.
func (x *explainer) rdnsStep() {
	ip := x.v.Envelope.IP
	name := strings.TrimSuffix(x.v.Envelope.Helo, ".")
	if _, err := message.Domain(name); err != nil || !strings.Contains(name, ".") {
		name = "mail." + orgOr(x.v.DMARC, x.from())
	}
	var r *Record
	if ip.IsValid() {
		if rev, err := dns.ReverseAddr(ip.Unmap().String()); err == nil {
			r = &Record{Name: strings.TrimSuffix(rev, "."), Type: "PTR", Value: name}
		}
	}
	fixes := []string{"rdns", "ipv6"}
	if strings.EqualFold(name, strings.TrimSuffix(x.v.Envelope.Helo, ".")) {
		fixes = append(fixes, "helo") // the step makes the HELO name resolve too
	}
	x.step(x.t("step.rdns", ip.String(), name), r, fixes...)
}

// Warnings: passes that mean little.
func (x *explainer) warnings() {
	if e := x.spfEval(); e != nil {
		if term, domain, ok := e.AuthorizesAnyone(); ok {
			key := "warn.spf-wide" // an ip4/ip6 network of millions of addresses
			if strings.HasSuffix(strings.ToLower(term), "all") {
				key = "warn.spf-anyone"
			}
			x.d.Warnings = append(x.d.Warnings, x.t(key, term, domain, e.Domain))
		}
	}
	for _, s := range x.passing() {
		if k := s.Key; k != nil && k.Type == "rsa" && k.Bits < 2048 {
			x.d.Warnings = append(x.d.Warnings, x.t("warn.dkim-weak", k.Name, strconv.Itoa(k.Bits)))
		}
	}
	if d := x.v.DMARC; d != nil && d.Discovery != nil && d.Discovery.Record != nil && d.Discovery.Record.Testing {
		x.d.Warnings = append(x.d.Warnings, x.t("warn.dmarc-testing"))
	}
}
