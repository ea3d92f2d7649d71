package dnsx

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Fake is a Resolver that answers from a Zone in memory, for every
// package's tests. Names absent from the zone are NXDOMAIN, names present
// without the asked type are NODATA, and Zone.Fail injects SERVFAIL,
// timeouts or either of those. A cancelled or expired ctx fails the lookup
// with Kind Timeout, as the real client would.
type Fake struct {
	Zone    *Zone
	queries atomic.Int64
}

// NewFake returns a Fake over z (a new empty zone when z is nil).
func NewFake(z *Zone) *Fake {
	if z == nil {
		z = NewZone()
	}
	return &Fake{Zone: z}
}

// Queries returns how many questions the Fake was asked.
func (f *Fake) Queries() int64 { return f.queries.Load() }

func (f *Fake) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	f.queries.Add(1)
	typ := typeName(qtype)
	if err := ctx.Err(); err != nil {
		return nil, &Error{Name: name, Type: typ, Kind: Timeout, Detail: err.Error()}
	}
	if err := CheckName(name); err != nil {
		return nil, badName(name, typ, err)
	}
	ans, kind := f.Zone.answer(name, qtype)
	if kind != 0 {
		return nil, &Error{Name: name, Type: typ, Kind: kind}
	}
	return followChain(name, qtype, ans), nil
}

func (f *Fake) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return lookupTXT(ctx, f, name)
}

func (f *Fake) LookupIP(ctx context.Context, network, name string) ([]netip.Addr, error) {
	return lookupIP(ctx, f, network, name)
}

func (f *Fake) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return lookupMX(ctx, f, name)
}

func (f *Fake) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	return lookupAddr(ctx, f, addr)
}
