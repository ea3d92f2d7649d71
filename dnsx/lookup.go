package dnsx

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// rrLookup is what Client and Fake have in common: one question, the
// records of the asked type at the end of its CNAME chain, or an *Error.
type rrLookup interface {
	lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error)
}

func lookupTXT(ctx context.Context, l rrLookup, name string) ([]string, error) {
	rrs, err := l.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		var b strings.Builder
		for _, s := range rr.(*dns.TXT).Txt {
			b.WriteString(UnescapeTXT(s))
		}
		out = append(out, b.String())
	}
	return out, nil
}

func lookupIP(ctx context.Context, l rrLookup, network, name string) ([]netip.Addr, error) {
	qtype := dns.TypeA
	if network == "ip6" {
		qtype = dns.TypeAAAA
	}
	rrs, err := l.lookup(ctx, name, qtype)
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(rrs))
	for _, rr := range rrs {
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A
		case *dns.AAAA:
			ip = rr.AAAA
		}
		if a, ok := netip.AddrFromSlice(ip); ok {
			if qtype == dns.TypeA {
				a = a.Unmap()
			}
			out = append(out, a)
		}
	}
	return out, nil
}

func lookupMX(ctx context.Context, l rrLookup, name string) ([]*net.MX, error) {
	rrs, err := l.lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	out := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		mx := rr.(*dns.MX)
		out = append(out, &net.MX{Host: mx.Mx, Pref: mx.Preference})
	}
	// Stable by preference, as delivery wants; SPF does not care.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pref < out[j].Pref })
	return out, nil
}

func lookupAddr(ctx context.Context, l rrLookup, addr netip.Addr) ([]string, error) {
	rev, err := dns.ReverseAddr(addr.Unmap().String())
	if err != nil {
		return nil, badName(addr.String(), "PTR", err)
	}
	rrs, err := l.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.(*dns.PTR).Ptr)
	}
	return out, nil
}

// followChain picks from an answer section the records of type qtype owned
// by name or by the end of the CNAME chain that starts at name. It returns
// nil when there are none.
func followChain(name string, qtype uint16, answer []dns.RR) []dns.RR {
	cur := canonical(name)
	for range maxChain {
		var out []dns.RR
		next := ""
		for _, rr := range answer {
			h := rr.Header()
			if canonical(h.Name) != cur {
				continue
			}
			switch h.Rrtype {
			case qtype:
				out = append(out, rr)
			case dns.TypeCNAME:
				next = canonical(rr.(*dns.CNAME).Target)
			}
		}
		if len(out) > 0 || next == "" {
			return out
		}
		cur = next
	}
	return nil
}

func typeName(qtype uint16) string { return dns.TypeToString[qtype] }

// TXTStringer is implemented by resolvers that can return a TXT record's
// character-strings before they are joined: the record checker shows how
// a long record is split.
type TXTStringer interface {
	LookupTXTStrings(ctx context.Context, name string) ([][]string, error)
}

func lookupTXTStrings(ctx context.Context, l rrLookup, name string) ([][]string, error) {
	rrs, err := l.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	out := make([][]string, 0, len(rrs))
	for _, rr := range rrs {
		var strs []string
		for _, s := range rr.(*dns.TXT).Txt {
			strs = append(strs, UnescapeTXT(s))
		}
		out = append(out, strs)
	}
	return out, nil
}

// LookupTXTStrings implements TXTStringer.
func (c *Client) LookupTXTStrings(ctx context.Context, name string) ([][]string, error) {
	return lookupTXTStrings(ctx, c, name)
}

// LookupTXTStrings implements TXTStringer.
func (f *Fake) LookupTXTStrings(ctx context.Context, name string) ([][]string, error) {
	return lookupTXTStrings(ctx, f, name)
}

// PTRName is one PTR name of an address and what it resolves to.
type PTRName struct {
	Name  string
	Addrs []netip.Addr
	Err   error
	// Confirmed: the name resolves back to the address.
	Confirmed bool
}

// ReverseConfirm checks forward-confirmed reverse DNS: the PTR names of ip
// (at most max of them; more counts the rest), each resolved in ip's
// family. err is the PTR lookup's.
func ReverseConfirm(ctx context.Context, r Resolver, ip netip.Addr, max int) (names []PTRName, more int, err error) {
	ip = ip.Unmap()
	ptrs, err := r.LookupAddr(ctx, ip)
	if err != nil {
		return nil, 0, err
	}
	network := "ip4"
	if ip.Is6() {
		network = "ip6"
	}
	if len(ptrs) > max {
		more, ptrs = len(ptrs)-max, ptrs[:max]
	}
	for _, p := range ptrs {
		n := PTRName{Name: strings.TrimSuffix(p, ".")}
		n.Addrs, n.Err = r.LookupIP(ctx, network, n.Name)
		n.Confirmed = slices.Contains(n.Addrs, ip)
		names = append(names, n)
	}
	return names, more, nil
}
