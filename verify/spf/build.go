package spf

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/testerd/testerd/i18n"
)

// DNSTerms counts the terms of r that query DNS (include, a, mx, ptr,
// exists, redirect): each costs at least one of the MaxDNSTerms lookups.
// Includes and redirects cost what their targets hold too, which only an
// evaluation knows.
func (r *Record) DNSTerms() int {
	n := 0
	for _, t := range r.Terms {
		if t.IsDNS() {
			n++
		}
	}
	return n
}

// Authorize returns a copy of r with the term added where it takes effect:
// before the first "all" (or before a redirect=, which applies only when
// no mechanism matched), or at the end. A term already there is not added
// twice; ok is false then.
func (r *Record) Authorize(term string) (out *Record, ok bool, err error) {
	add, reason := parseTerm(term)
	if !reason.IsZero() {
		return nil, false, fmt.Errorf("spf: %s: %s", term, i18n.EN.Say(reason))
	}
	out = &Record{}
	at := -1
	for i, t := range r.Terms {
		if t.String() == add.String() {
			return r, false, nil
		}
		if at < 0 && (t.Mechanism == MAll || t.Modifier == ModRedirect) {
			at = i
		}
	}
	if at < 0 {
		at = len(r.Terms)
	}
	out.Terms = slices.Insert(slices.Clone(r.Terms), at, add)
	out.Redirect, out.Exp = r.Redirect, r.Exp
	return out, true, nil
}

// AuthorizeIP is Authorize with an ip4: or ip6: term for one address.
func (r *Record) AuthorizeIP(ip netip.Addr) (*Record, bool, error) {
	ip = ip.Unmap()
	if ip.Is4() {
		return r.Authorize("ip4:" + ip.String())
	}
	return r.Authorize("ip6:" + ip.String())
}

// Merge joins several SPF records of one domain into the single record RFC
// 7208 §4.5 allows: every mechanism once, in order, then one "all" (the
// first record's, or ~all) and at most one redirect= and exp= (the first
// met). A redirect= is dropped when an "all" is kept, since it would never
// apply (§6.1).
func Merge(recs []*Record) *Record {
	out := &Record{}
	var all, redirect, exp *Term
	seen := map[string]bool{}
	for _, r := range recs {
		for _, t := range r.Terms {
			switch {
			case t.Mechanism == MAll:
				if all == nil {
					all = t
				}
			case t.Modifier == ModRedirect:
				if redirect == nil {
					redirect = t
				}
			case t.Modifier == ModExp:
				if exp == nil {
					exp = t
				}
			case !seen[t.String()]:
				seen[t.String()] = true
				out.Terms = append(out.Terms, t)
			}
		}
	}
	switch {
	case all != nil:
		out.Terms = append(out.Terms, all)
	case redirect != nil:
		out.Terms = append(out.Terms, redirect)
		out.Redirect = redirect
	default:
		t, _ := parseTerm("~all")
		out.Terms = append(out.Terms, t)
	}
	if exp != nil {
		out.Terms = append(out.Terms, exp)
		out.Exp = exp
	}
	return out
}

// WideNetwork is the largest network testerd accepts as a sender's own
// before warning that a pass means little: a /8 of IPv4 (16 million
// addresses) or a /16 of IPv6.
const (
	WideIPv4Bits = 8
	WideIPv6Bits = 16
)

// AuthorizesAnyone reports whether a pass came from a term that lets
// (nearly) anyone send: +all, or an ip4/ip6 network of WideIPv4Bits /
// WideIPv6Bits or wider, wherever it stands along the include chain. It
// returns the term and the domain whose record holds it.
func (ev *Evaluation) AuthorizesAnyone() (term, domain string, ok bool) {
	if ev == nil || ev.Result != Pass || len(ev.MatchPath) == 0 {
		return "", "", false
	}
	last := ev.MatchPath[len(ev.MatchPath)-1]
	t, reason := parseTerm(last.Term)
	if !reason.IsZero() || t.Qualifier.Result() != Pass {
		return "", "", false
	}
	switch t.Mechanism {
	case MAll:
		return last.Term, last.Domain, true
	case MIP4:
		return last.Term, last.Domain, t.Network.Bits() <= WideIPv4Bits
	case MIP6:
		return last.Term, last.Domain, t.Network.Bits() <= WideIPv6Bits
	}
	return "", "", false
}
