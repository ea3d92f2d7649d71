package lint

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
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
	// Trace is Evaluation as text, in the reader's words (Report.In).
	Trace string `json:"trace,omitempty"`
}

// SPFNode is one record of the include/redirect tree.
type SPFNode struct {
	Domain string `json:"domain"`
	// Via is the term that led here ("" at the top).
	Via      string     `json:"via,omitempty"`
	Record   string     `json:"record,omitempty"`
	Problem  i18n.Msg   `json:"problem,omitzero"`
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
		l.add("spf", Warning, m("lint.spf.lookup", shown(err.Error())), lookupFix(err))
		return rep
	}
	if recs := spf.Records(txts); recs != nil {
		rep.Records = recs
	}
	switch len(rep.Records) {
	case 0:
		l.add("spf", Error, m("lint.spf.none", l.domain), m("lint.spf.none.fix"))
		return rep
	case 1:
	default:
		l.add("spf", Error, m("lint.spf.several", len(rep.Records), l.domain), m("lint.spf.several.fix"))
		return rep
	}
	rec := rep.Records[0]
	if len(rec) > RecommendedLen {
		l.add("spf", Warning, m("lint.spf.long", len(rec), RecommendedLen), m("lint.spf.long.fix"))
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
			l.add("spf", Info, m("lint.spf.strings", len(rep.Strings), joinInts(rep.Strings)), none)
		}
	}
	w := &walk{l: l, rep: rep, onPath: map[string]bool{}}
	rep.Tree = w.node(ctx, l.domain, "", rec, 0)
	w.totals()

	if o.IP.IsValid() {
		out := l.spfChecker().Check(ctx, spf.Params{IP: o.IP, MailFrom: o.MailFrom, Helo: l.domain})
		ev := out.Effective()
		rep.Evaluation = ev
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
		n.Problem = m("lint.node.deep", MaxTreeDepth)
		l.add("spf", Error, m("lint.spf.deep", MaxTreeDepth), m("lint.spf.deep.fix"))
		return n
	case w.nodes > MaxTreeNodes:
		n.Problem = m("lint.node.many", MaxTreeNodes)
		return n
	case w.onPath[domain]:
		n.Problem = m("lint.node.loop", domain)
		l.add("spf", Error, m("lint.spf.loop", domain), m("lint.spf.loop.fix"))
		return n
	}
	if via != "" {
		txts, err := l.r.LookupTXT(ctx, domain)
		recs := spf.Records(txts)
		switch {
		case err != nil && !dnsx.IsNotFound(err):
			n.Problem = m("lint.node.lookup", shown(err.Error()))
			l.add("spf", Warning, m("lint.spf.target-lookup", domain, via, shown(err.Error())), none)
			return n
		case len(recs) == 0:
			if err != nil {
				w.rep.VoidLookups++
			}
			n.Problem = m("lint.node.none")
			l.add("spf", Error, m("lint.spf.target-none", shown(via), domain), m("lint.spf.target-none.fix"))
			return n
		case len(recs) > 1:
			n.Problem = m("lint.node.several", len(recs))
			l.add("spf", Error, m("lint.spf.target-several", domain, shown(via), len(recs)), none)
			return n
		}
		rec = recs[0]
	}
	n.Record = rec
	r, err := spf.Parse(rec)
	if err != nil {
		n.Problem = i18n.Of(err)
		l.add("spf", Error, m("lint.spf.syntax", domain, i18n.Of(err)), m("lint.spf.syntax.fix"))
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
				l.add("spf", Error, m("lint.spf.plus-all", domain, t.Raw), m("lint.spf.end-all"))
			case '?':
				l.add("spf", Warning, m("lint.spf.neutral-all", domain, t.Raw), m("lint.spf.end-all"))
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
				l.add("spf", Warning, m("lint.spf.redirect-all", domain, t.Raw), m("lint.spf.redirect-all.fix"))
				continue
			}
			if macro {
				l.add("spf", Info, m("lint.spf.macro", t.Raw), none)
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
			l.add("spf", Warning, m("lint.spf.ptr", domain, t.Raw), m("lint.spf.ptr.fix"))
		case t.Mechanism == spf.MIP4:
			w.v4 = append(w.v4, network{t.Network.Masked(), domain + " " + t.Raw})
		case t.Mechanism == spf.MIP6:
			w.rep.IPv6Networks++
		}
	}
	if depth == 0 && !hasAll && r.Redirect == nil {
		l.add("spf", Warning, m("lint.spf.no-all"), m("lint.spf.no-all.fix"))
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
		l.add("spf", Error, m("lint.spf.mx-names", t.Raw, domain, len(mxs), spf.MaxMXNames), m("lint.spf.mx-names.fix"))
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
		l.add("spf", Error, m("lint.spf.terms-over", rep.DNSTerms, spf.MaxDNSTerms), m("lint.spf.terms-over.fix"))
	case rep.DNSTerms >= spf.MaxDNSTerms-1:
		l.add("spf", Warning, m("lint.spf.terms-near", rep.DNSTerms, spf.MaxDNSTerms), none)
	default:
		l.add("spf", Info, m("lint.spf.terms", rep.DNSTerms, spf.MaxDNSTerms, spf.MaxMXNames), none)
	}
	if rep.VoidLookups > spf.MaxVoidLookups {
		l.add("spf", Error, m("lint.spf.voids-over", rep.VoidLookups, spf.MaxVoidLookups), m("lint.spf.voids-over.fix"))
	} else if rep.VoidLookups > 0 {
		l.add("spf", Warning, m("lint.spf.voids", rep.VoidLookups, spf.MaxVoidLookups), m("lint.spf.voids.fix"))
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
			key := "lint.spf.overlap"
			if a.p == b.p {
				key = "lint.spf.duplicate"
			}
			l.add("spf", Warning, m(key, b.p.String(), shown(b.where), a.p.String(), shown(a.where)), m("lint.spf.overlap.fix"))
			overlaps++
		}
	}
	rep.IPv4Addresses = mergedSize(w.v4)
	l.add("spf", Info, m("lint.spf.authorized", rep.IPv4Addresses, rep.IPv6Networks), none)
	if rep.IPv4Addresses > 1<<20 {
		l.add("spf", Warning, m("lint.spf.wide", rep.IPv4Addresses), m("lint.spf.wide.fix"))
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
