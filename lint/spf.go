package lint

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/verify/spf"
)

// Bounds of the SPF tree walk.
const (
	MaxTreeDepth = 10
	MaxTreeNodes = 40
	// maxOverlaps bounds the overlap findings listed.
	maxOverlaps = 10
	// RecommendedLen is RFC 7208 §3.4's advice for a record's length.
	RecommendedLen = 450
)

// SPFReport is the SPF part of a check.
type SPFReport struct {
	// Records are the SPF records found at the domain.
	Records []string `json:"records"`
	// Strings is how the record is split into character-strings.
	Strings []int    `json:"string_lengths,omitempty"`
	Tree    *SPFNode `json:"tree,omitempty"`
	// DNSTerms is the worst case over the whole tree: every term that
	// queries DNS, as when no mechanism matches.
	DNSTerms    int `json:"dns_terms"`
	VoidLookups int `json:"void_lookups"`
	// MXTerms lists each mx mechanism with its number of MX names.
	MXTerms []MXTerm `json:"mx_terms,omitempty"`
	// IPv4Addresses counts the IPv4 addresses authorized (networks
	// merged, a and mx resolved); IPv6Networks the IPv6 networks.
	IPv4Addresses uint64 `json:"ipv4_addresses"`
	IPv6Networks  int    `json:"ipv6_networks"`
	// Evaluation is the optional check of one IP and MAIL FROM.
	Evaluation *spf.Evaluation `json:"evaluation,omitempty"`
	Trace      string          `json:"trace,omitempty"`
}

// SPFNode is one record of the include/redirect tree.
type SPFNode struct {
	Domain string `json:"domain"`
	// Via is the term that led here ("" at the top).
	Via      string     `json:"via,omitempty"`
	Record   string     `json:"record,omitempty"`
	Problem  string     `json:"problem,omitempty"`
	DNSTerms int        `json:"dns_terms"`
	Children []*SPFNode `json:"children,omitempty"`
}

// MXTerm is one mx mechanism and its MX names.
type MXTerm struct {
	Domain string `json:"domain"`
	Term   string `json:"term"`
	Names  int    `json:"names"`
}

type network struct {
	p     netip.Prefix
	where string
}

type walk struct {
	l       *linter
	rep     *SPFReport
	nodes   int
	onPath  map[string]bool
	v4, all []network
}

func (l *linter) spf(ctx context.Context, o Options) *SPFReport {
	rep := &SPFReport{Records: []string{}}
	txts, err := l.r.LookupTXT(ctx, l.domain)
	if err != nil && !dnsx.IsNotFound(err) {
		l.add("spf", Warning, "the TXT lookup failed: "+shown(err.Error()), "check the domain's name servers")
		return rep
	}
	if recs := spf.Records(txts); recs != nil {
		rep.Records = recs
	}
	switch len(rep.Records) {
	case 0:
		l.add("spf", Error, "no SPF record at "+l.domain+": receivers get SPF none, and Gmail requires SPF or DKIM",
			`publish one TXT record such as "v=spf1 mx include:<your provider> -all"`)
		return rep
	case 1:
	default:
		l.add("spf", Error, fmt.Sprintf("%d SPF records at %s: receivers give permerror (RFC 7208 §4.5)", len(rep.Records), l.domain),
			"merge them into one record")
		return rep
	}
	rec := rep.Records[0]
	if len(rec) > RecommendedLen {
		l.add("spf", Warning, fmt.Sprintf("the record is %d octets, over the %d RFC 7208 §3.4 advises (it may not fit a UDP answer)", len(rec), RecommendedLen),
			"shorten it: replace long lists of ip4: with an include of your own")
	}
	if strs, ok := l.r.txtStrings(ctx, l.domain); ok {
		for _, s := range strs {
			if spf.IsSPF(strings.Join(s, "")) {
				for _, part := range s {
					rep.Strings = append(rep.Strings, len(part))
				}
			}
		}
		if len(rep.Strings) > 1 {
			l.add("spf", Info, fmt.Sprintf("the record is split into %d strings of %s octets; receivers join them with nothing in between, so a space must end or start a string where terms meet",
				len(rep.Strings), joinInts(rep.Strings)), "")
		}
	}
	w := &walk{l: l, rep: rep, onPath: map[string]bool{}}
	rep.Tree = w.node(ctx, l.domain, "", rec, 0)
	w.totals()

	if o.IP.IsValid() {
		out := l.spfChecker().Check(ctx, spf.Params{IP: o.IP, MailFrom: o.MailFrom, Helo: l.domain})
		ev := out.Effective()
		rep.Evaluation = ev
		var b strings.Builder
		ev.WriteText(&b, l.receiver)
		rep.Trace = b.String()
	}
	return rep
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// node walks one record; rec is given for the top, looked up otherwise.
func (w *walk) node(ctx context.Context, domain, via, rec string, depth int) *SPFNode {
	l := w.l
	n := &SPFNode{Domain: domain, Via: via}
	w.nodes++
	switch {
	case depth > MaxTreeDepth:
		n.Problem = "not followed: deeper than " + fmt.Sprint(MaxTreeDepth) + " levels"
		l.add("spf", Error, "the include tree is deeper than 10 levels: evaluation exceeds the lookup limit", "flatten the includes")
		return n
	case w.nodes > MaxTreeNodes:
		n.Problem = "not followed: the tree has more than " + fmt.Sprint(MaxTreeNodes) + " records"
		return n
	case w.onPath[domain]:
		n.Problem = "loop: " + domain + " includes itself"
		l.add("spf", Error, fmt.Sprintf("include loop through %s: evaluation ends in permerror", domain), "remove the include that points back")
		return n
	}
	if via != "" {
		txts, err := l.r.LookupTXT(ctx, domain)
		recs := spf.Records(txts)
		switch {
		case err != nil && !dnsx.IsNotFound(err):
			n.Problem = "lookup failed: " + shown(err.Error())
			l.add("spf", Warning, fmt.Sprintf("%s (from %q): %s; receivers would give temperror", domain, via, shown(err.Error())), "")
			return n
		case len(recs) == 0:
			if err != nil {
				w.rep.VoidLookups++
			}
			n.Problem = "no SPF record"
			l.add("spf", Error, fmt.Sprintf("%q points at %s, which has no SPF record: receivers give permerror", shown(via), domain),
				"remove the term or fix the target's record")
			return n
		case len(recs) > 1:
			n.Problem = fmt.Sprintf("%d SPF records", len(recs))
			l.add("spf", Error, fmt.Sprintf("%s (from %q) has %d SPF records: permerror", domain, shown(via), len(recs)), "")
			return n
		}
		rec = recs[0]
	}
	n.Record = rec
	r, err := spf.Parse(rec)
	if err != nil {
		n.Problem = shown(err.Error())
		l.add("spf", Error, fmt.Sprintf("the record of %s does not parse: %s; receivers give permerror", domain, shown(err.Error())),
			"correct the term at that column")
		return n
	}
	w.onPath[domain] = true
	defer delete(w.onPath, domain)

	hasAll := false
	for _, t := range r.Terms {
		if t.Mechanism == spf.MAll {
			hasAll = true
			switch t.Qualifier {
			case '+':
				l.add("spf", Error, fmt.Sprintf("%s has %q: it authorizes every IP address on the Internet", domain, t.Raw), "end the record with -all or ~all")
			case '?':
				l.add("spf", Warning, fmt.Sprintf("%s ends with %q: mail from anywhere gets neutral, which protects nothing", domain, t.Raw), "end the record with -all or ~all")
			}
		}
	}
	for _, t := range r.Terms {
		if t.IsDNS() && !(t.Modifier == spf.ModRedirect && hasAll) {
			n.DNSTerms++
			w.rep.DNSTerms++
		}
		target := strings.ToLower(strings.TrimSuffix(t.DomainSpec, "."))
		if t.Modifier == spf.ModRedirect {
			target = strings.ToLower(strings.TrimSuffix(t.Value, "."))
		}
		if target == "" {
			target = domain
		}
		macro := strings.Contains(target, "%")
		switch {
		case t.Mechanism == spf.MInclude || t.Modifier == spf.ModRedirect:
			if t.Modifier == spf.ModRedirect && hasAll {
				l.add("spf", Warning, fmt.Sprintf("%s has both %q and all: redirect is ignored when all is present (RFC 7208 §6.1)", domain, t.Raw), "keep one of the two")
				continue
			}
			if macro {
				l.add("spf", Info, fmt.Sprintf("%q uses macros, so its target depends on the sender and is not followed here", t.Raw), "")
				continue
			}
			n.Children = append(n.Children, w.node(ctx, target, t.Raw, "", depth+1))
		case t.Mechanism == spf.MA && !macro:
			w.resolve(ctx, domain, t, target)
		case t.Mechanism == spf.MMX && !macro:
			w.mx(ctx, domain, t, target)
		case t.Mechanism == spf.MExists && !macro:
			if _, err := l.r.LookupIP(ctx, "ip4", target); err != nil && dnsx.IsNotFound(err) {
				w.rep.VoidLookups++
			}
		case t.Mechanism == spf.MPTR:
			l.add("spf", Warning, fmt.Sprintf("%s uses %q: ptr is deprecated (RFC 7208 §5.5), slow, and many receivers skip it", domain, t.Raw),
				"replace it with ip4:/ip6: or a of the hosts concerned")
		case t.Mechanism == spf.MIP4:
			w.v4 = append(w.v4, network{t.Network.Masked(), domain + " " + t.Raw})
		case t.Mechanism == spf.MIP6:
			w.rep.IPv6Networks++
		}
	}
	if depth == 0 && !hasAll && r.Redirect == nil {
		l.add("spf", Warning, "the record has no all and no redirect: mail from other servers gets neutral", "end it with -all (or ~all while you check)")
	}
	return n
}

// resolve adds an a mechanism's addresses.
func (w *walk) resolve(ctx context.Context, domain string, t *spf.Term, target string) {
	addrs, err := w.l.r.LookupIP(ctx, "ip4", target)
	if err != nil {
		if dnsx.IsNotFound(err) {
			w.rep.VoidLookups++
		}
		return
	}
	w.addHosts(addrs, t, domain)
}

func (w *walk) addHosts(addrs []netip.Addr, t *spf.Term, domain string) {
	bits := 32
	if t.CIDR4 >= 0 {
		bits = t.CIDR4
	}
	for _, a := range addrs {
		if p, err := a.Prefix(bits); err == nil {
			w.v4 = append(w.v4, network{p.Masked(), domain + " " + t.Raw})
		}
	}
}

// mx counts an mx mechanism's names, which fall under their own limit
// of 10 (§4.6.4), and adds their addresses.
func (w *walk) mx(ctx context.Context, domain string, t *spf.Term, target string) {
	l := w.l
	mxs, err := l.r.LookupMX(ctx, target)
	if err != nil {
		if dnsx.IsNotFound(err) {
			w.rep.VoidLookups++
		}
		return
	}
	w.rep.MXTerms = append(w.rep.MXTerms, MXTerm{Domain: domain, Term: t.Raw, Names: len(mxs)})
	if len(mxs) > spf.MaxMXNames {
		l.add("spf", Error, fmt.Sprintf("%q in %s finds %d MX names, over the limit of %d: evaluating it gives permerror", t.Raw, domain, len(mxs), spf.MaxMXNames),
			"use ip4:/ip6: for those hosts instead of mx")
	}
	for i, mx := range mxs {
		if i == spf.MaxMXNames {
			break
		}
		addrs, err := l.r.LookupIP(ctx, "ip4", strings.TrimSuffix(mx.Host, "."))
		if err == nil {
			w.addHosts(addrs, t, domain)
		}
	}
}

// totals checks the counts against the limits and looks at the networks.
func (w *walk) totals() {
	l, rep := w.l, w.rep
	switch {
	case rep.DNSTerms > spf.MaxDNSTerms:
		l.add("spf", Error, fmt.Sprintf("%d DNS-querying terms over the whole tree, over the limit of %d: mail that matches late gets permerror", rep.DNSTerms, spf.MaxDNSTerms),
			"flatten includes (replace them with the ip4:/ip6: they resolve to) or drop unused ones")
	case rep.DNSTerms >= spf.MaxDNSTerms-1:
		l.add("spf", Warning, fmt.Sprintf("%d of %d DNS-querying terms in the worst case: one more include breaks SPF", rep.DNSTerms, spf.MaxDNSTerms), "")
	default:
		l.add("spf", Info, fmt.Sprintf("%d of %d DNS-querying terms in the worst case (include, a, mx, ptr, exists, redirect over the whole tree); "+
			"each mx counts once here, and its MX names fall under a separate limit of %d (RFC 7208 §4.6.4)", rep.DNSTerms, spf.MaxDNSTerms, spf.MaxMXNames), "")
	}
	if rep.VoidLookups > spf.MaxVoidLookups {
		l.add("spf", Error, fmt.Sprintf("%d void lookups (names with no records), over the limit of %d: permerror", rep.VoidLookups, spf.MaxVoidLookups),
			"remove terms pointing at names that do not exist")
	} else if rep.VoidLookups > 0 {
		l.add("spf", Warning, fmt.Sprintf("%d void lookup(s) of the %d allowed: terms point at names with no records", rep.VoidLookups, spf.MaxVoidLookups), "remove them")
	}

	sort.Slice(w.v4, func(i, j int) bool {
		a, b := w.v4[i].p, w.v4[j].p
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c < 0
		}
		return a.Bits() < b.Bits()
	})
	overlaps := 0
	for i := range w.v4 {
		for j := i + 1; j < len(w.v4) && w.v4[j].p.Addr().Compare(lastAddr(w.v4[i].p)) <= 0; j++ {
			if overlaps == maxOverlaps {
				break
			}
			a, b := w.v4[i], w.v4[j]
			kind := "overlaps"
			if a.p == b.p {
				kind = "duplicates"
			}
			l.add("spf", Warning, fmt.Sprintf("%s (%s) %s %s (%s)", b.p, shown(b.where), kind, a.p, shown(a.where)), "remove the narrower or repeated one")
			overlaps++
		}
	}
	rep.IPv4Addresses = mergedSize(w.v4)
	l.add("spf", Info, fmt.Sprintf("the tree authorizes %d IPv4 addresses and %d IPv6 networks", rep.IPv4Addresses, rep.IPv6Networks), "")
	if rep.IPv4Addresses > 1<<20 {
		l.add("spf", Warning, fmt.Sprintf("%d IPv4 addresses is a lot: anyone on those networks can send as you", rep.IPv4Addresses),
			"authorize your providers' includes and your own hosts, not whole provider ranges")
	}
}

func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// mergedSize counts the addresses of sorted networks, overlaps once.
func mergedSize(ns []network) uint64 {
	var total uint64
	var end uint64 // one past the last counted address
	started := false
	for _, n := range ns {
		a := n.p.Masked().Addr().As4()
		lo := uint64(a[0])<<24 | uint64(a[1])<<16 | uint64(a[2])<<8 | uint64(a[3])
		hi := lo + 1<<(32-n.p.Bits())
		if started && lo < end {
			if hi > end {
				total += hi - end
				end = hi
			}
			continue
		}
		total += hi - lo
		end, started = hi, true
	}
	return total
}
