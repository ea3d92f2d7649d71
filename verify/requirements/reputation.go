package requirements

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
)

// Reputation configures the optional reputation check: the sending IP and
// the From and DKIM domains looked up in a small curated set of DNS block
// and allow lists. The lookups go, through testerd's resolver, to the list
// operators: they learn the probe's IP and domains. nil is off.
type Reputation struct {
	// SpamhausDQSKey, if set, queries Spamhaus through its Data Query
	// Service (needed behind public resolvers and for commercial use)
	// instead of the public mirrors.
	SpamhausDQSKey string
}

// DNSList is one list of the curated set.
type DNSList struct {
	Name string
	// Zone is queried with the reversed IP (or the domain) in front.
	Zone string
	// Domains: a domain list (the From and DKIM domains), else an IP list.
	Domains bool
	// Allow: an allow list (being listed is good).
	Allow bool
	// InfoOnly: a listing is shown as information (the operator charges
	// for delisting, or few receivers use it).
	InfoOnly bool
	// Who says who uses it, as far as that is public: the catalog's
	// "who.<key>".
	Who string
	// Refusals are answers that mean "not answered" (the query was refused,
	// came through an open or public resolver, or over the limit), never a
	// listing.
	Refusals []string
	// dqs: the zone under Spamhaus' Data Query Service ("KEY.<dqs>").
	dqs string
}

var spamhausRefusals = []string{"127.255.255.252", "127.255.255.254", "127.255.255.255"}

// DNSLists is the curated set. The big mailbox providers do not publish
// which lists they use; "Who" says what is public.
var DNSLists = []DNSList{
	{Name: "Spamhaus ZEN", Zone: "zen.spamhaus.org", dqs: "zen.dq.spamhaus.net", Refusals: spamhausRefusals,
		Who: "the most used IP block list; in SpamAssassin's and rspamd's default rules"},
	{Name: "Spamhaus DBL", Zone: "dbl.spamhaus.org", dqs: "dbl.dq.spamhaus.net", Domains: true, Refusals: spamhausRefusals,
		Who: "domain block list; in SpamAssassin's and rspamd's default rules"},
	{Name: "SpamCop", Zone: "bl.spamcop.net", Who: "IP block list from user reports; in SpamAssassin's default rules"},
	{Name: "Barracuda", Zone: "b.barracudacentral.org", Who: "IP block list of Barracuda's appliances (free registration for queries)"},
	{Name: "UCEPROTECT level 1", Zone: "dnsbl-1.uceprotect.net", InfoOnly: true,
		Who: "information only: the operator charges for express delisting, and listings expire by themselves"},
	{Name: "DNSWL", Zone: "list.dnswl.org", Allow: true, Refusals: []string{"127.0.0.255"},
		Who: "allow list of known good senders; in SpamAssassin's default rules"},
}

// maxReputationDomains bounds the domains looked up.
const maxReputationDomains = 3

var errSkipped = errors.New("not a valid query name")

func checkReputation(ctx context.Context, r dnsx.Resolver, in Input) Item {
	it := Item{ID: "reputation"}
	if in.Reputation == nil {
		it.Status = NA
		it.Evidence = append(it.Evidence, m("ev.rep.off"))
		return it
	}
	var domains []string
	add := func(d string) {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if d != "" && !slices.Contains(domains, d) && len(domains) < maxReputationDomains {
			domains = append(domains, d)
		}
	}
	add(in.From.Domain)
	if in.DKIM != nil {
		for _, s := range in.DKIM.Signatures {
			add(s.Domain)
		}
	}
	listed, info, refused := askLists(ctx, r, in, DNSLists, domains, in.IP)
	judgeListed(&it, listed, info, refused, m("req.reputation.fix"), m("ev.rep.clean", in.IP.String(), len(domains), len(DNSLists)-1))
	return it
}

// judgeListed sets it from the answers of askLists: a listing fails with
// fix, a list that refused to answer warns, and otherwise clean is said.
func judgeListed(it *Item, listed, info, refused []i18n.Msg, fix, clean i18n.Msg) {
	it.Evidence = append(append(append(it.Evidence, listed...), info...), refused...)
	switch {
	case len(listed) > 0:
		it.Status, it.Problem, it.Fix = Fail, listed[0], fix
	case len(refused) > 0:
		it.Status, it.Problem = Warn, refused[0]
	default:
		it.Status = Pass
		it.Evidence = append(it.Evidence, clean)
	}
}

// askLists asks every list of lists about the domains (domain lists) and
// ip (IP lists; an invalid ip asks none), all at once: a slow list costs
// its own time only. It sorts the answers into listings, information and
// questions not answered.
func askLists(ctx context.Context, r dnsx.Resolver, in Input, lists []DNSList, domains []string, ip netip.Addr) (listed, info, refused []i18n.Msg) {
	type query struct {
		l       DNSList
		name    string
		subject string
		addrs   []netip.Addr
		err     error
	}
	var qs []*query
	for _, l := range lists {
		zone := l.Zone
		if l.dqs != "" && in.Reputation.SpamhausDQSKey != "" {
			zone = in.Reputation.SpamhausDQSKey + "." + l.dqs
		}
		if l.Domains {
			for _, d := range domains {
				qs = append(qs, &query{l: l, name: d + "." + zone, subject: shown(d)})
			}
		} else if ip.IsValid() {
			qs = append(qs, &query{l: l, name: reverseIP(ip) + "." + zone, subject: ip.String()})
		}
	}
	if in.Lists != nil {
		r = in.Lists
	}
	var wg sync.WaitGroup
	for _, q := range qs {
		if _, ok := dns.IsDomainName(q.name); !ok || len(q.name) > 253 {
			q.err = errSkipped
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.addrs, q.err = r.LookupIP(ctx, "ip4", q.name)
		}()
	}
	wg.Wait()
	for _, q := range qs {
		l, subject, addrs, err := q.l, q.subject, q.addrs, q.err
		switch {
		case errors.Is(err, errSkipped):
		case err != nil && dnsx.IsNotFound(err):
			if l.Allow {
				info = append(info, m("ev.rep.not-allowed", l.Name, subject, m("who."+l.key())))
			}
		case err != nil:
			refused = append(refused, m("ev.rep.no-answer", l.Name, subject, dnsx.KindOf(err).String()))
		case refusal(l, addrs):
			refused = append(refused, m("ev.rep.refused", l.Name, subject, addrs[0].String()))
		case l.Allow:
			info = append(info, m("ev.rep.allowed", l.Name, subject, addrs[0].String()))
		case l.InfoOnly:
			info = append(info, m("ev.rep.info", l.Name, subject, addrs[0].String(), m("who."+l.key())))
		default:
			listed = append(listed, m("ev.rep.listed", l.Name, subject, addrs[0].String(), m("who."+l.key())))
		}
	}
	return listed, info, refused
}

// key names the list in the catalog ("who.<key>").
func (l DNSList) key() string {
	return strings.ToLower(strings.NewReplacer(" ", "-").Replace(l.Name))
}

// refusal reports whether a list's answer means the query was not
// answered: one of its refusal codes, or anything outside 127.0.0.0/8.
func refusal(l DNSList, addrs []netip.Addr) bool {
	for _, a := range addrs {
		if !netip.MustParsePrefix("127.0.0.0/8").Contains(a) || slices.Contains(l.Refusals, a.String()) {
			return true
		}
	}
	return len(addrs) == 0
}

// reverseIP is the DNS list form of an address: the IPv4 octets or the
// IPv6 nibbles, reversed.
func reverseIP(a netip.Addr) string {
	rev, err := dns.ReverseAddr(a.Unmap().String())
	if err != nil {
		return ""
	}
	rev = strings.TrimSuffix(rev, ".")
	rev = strings.TrimSuffix(rev, ".in-addr.arpa")
	return strings.TrimSuffix(rev, ".ip6.arpa")
}
