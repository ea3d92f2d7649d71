package dnsx

import (
	"context"
	"fmt"

	"github.com/miekg/dns"
)

// TLSALooker looks up TLSA records (DANE, RFC 6698/7672) and says whether
// the resolver validated them with DNSSEC (the AD bit of its answer). Only
// a validating resolver's AD bit means anything: testerd trusts it as far
// as it trusts its resolver.
type TLSALooker interface {
	LookupTLSA(ctx context.Context, name string) (rrs []*dns.TLSA, authenticated bool, err error)
}

// LookupTLSA asks with the DO bit and AD set, never from the cache (the AD
// bit belongs to one answer).
func (c *Client) LookupTLSA(ctx context.Context, name string) ([]*dns.TLSA, bool, error) {
	if err := CheckName(name); err != nil {
		return nil, false, badName(name, "TLSA", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeTLSA)
	q.SetEdns0(udpSize, true)
	q.AuthenticatedData = true
	r, err := c.exchange(ctx, q, "udp")
	if err == nil && r.Truncated {
		r, err = c.exchange(ctx, q, "tcp")
	}
	if err != nil {
		c.health.noAnswer(err)
		return nil, false, &Error{Name: name, Type: "TLSA", Kind: Timeout, Detail: fmt.Sprintf("%s: %v", c.Server, err)}
	}
	c.health.answered()
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, r.AuthenticatedData, &Error{Name: name, Type: "TLSA", Kind: NXDomain}
	default:
		return nil, false, &Error{Name: name, Type: "TLSA", Kind: ServFail, Detail: "rcode " + dns.RcodeToString[r.Rcode]}
	}
	var out []*dns.TLSA
	for _, rr := range followChain(name, dns.TypeTLSA, r.Answer) {
		if t, ok := rr.(*dns.TLSA); ok && len(out) < 16 {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, r.AuthenticatedData, &Error{Name: name, Type: "TLSA", Kind: NoData}
	}
	return out, r.AuthenticatedData, nil
}

// Secure marks a name's answers as DNSSEC-validated (the AD bit), for the
// Fake and the test server.
func (z *Zone) Secure(name string) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.secure == nil {
		z.secure = map[string]bool{}
	}
	z.secure[canonical(name)] = true
}

func (z *Zone) isSecure(name string) bool {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.secure[canonical(name)]
}

// LookupTLSA answers from the zone; authenticated where Zone.Secure says.
func (f *Fake) LookupTLSA(ctx context.Context, name string) ([]*dns.TLSA, bool, error) {
	rrs, err := f.lookup(ctx, name, dns.TypeTLSA)
	ad := f.Zone.isSecure(name)
	if err != nil {
		return nil, ad, err
	}
	var out []*dns.TLSA
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TLSA); ok {
			out = append(out, t)
		}
	}
	return out, ad, nil
}
