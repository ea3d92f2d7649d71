// Package dnsx is testerd's one door to DNS. SPF, DKIM, DMARC and reverse-DNS
// checks all ask their questions through the Resolver interface defined here,
// so every lookup carries a context deadline and every failure is classified
// the same way: a name that does not exist (NXDOMAIN, RCODE 3), a name that
// exists without records of the asked type (NODATA: RCODE 0 and no answers),
// a server failure (SERVFAIL and other error RCODEs) and a timeout. Callers
// need that distinction: for SPF (RFC 7208 §4.6.4, §5) the first two are a
// "void lookup" while the last two are a temporary error.
//
// Client is the production implementation, speaking DNS with miekg/dns to a
// configured recursive server over UDP with a retry over TCP on truncation.
// Zone holds records in memory; Fake answers from a Zone directly, and Server
// serves a Zone over real DNS on loopback for end-to-end tests.
package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Resolver is the subset of DNS that testerd's checks need, shaped like
// *net.Resolver with ctx first. Names are domain names with or without the
// trailing dot and are compared case-insensitively. Every method returns
// either at least one answer or a non-nil error; an *Error tells the kinds of
// failure apart.
type Resolver interface {
	// LookupTXT returns one string per TXT record; the character-strings
	// of a record are concatenated with no separator (RFC 7208 §3.3).
	LookupTXT(ctx context.Context, name string) ([]string, error)
	// LookupIP returns the A (network "ip4") or AAAA ("ip6") addresses.
	LookupIP(ctx context.Context, network, name string) ([]netip.Addr, error)
	// LookupMX returns the MX records in the order the server sent them.
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	// LookupAddr returns the PTR names of an address, with trailing dots.
	LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error)
}

// Kind classifies a failed lookup.
type Kind int

const (
	// NXDomain: the name does not exist (RCODE 3, "Name Error").
	NXDomain Kind = iota + 1
	// NoData: the name exists but has no record of the asked type.
	NoData
	// ServFail: the server answered with SERVFAIL, REFUSED or another
	// error RCODE, or with a malformed message.
	ServFail
	// Timeout: no answer before the deadline.
	Timeout
	// BadName: the name cannot be asked (too long, empty label).
	BadName
	// Unreachable: testerd's own resolver could not be asked (connection
	// refused, no route). It says nothing about the name asked, so no
	// verdict may blame the sender for it.
	Unreachable
	// Refused: the server answered REFUSED. A recursive resolver that
	// refuses testerd refuses every question (testerd's configuration);
	// an authoritative server refuses names outside its zones.
	Refused
)

func (k Kind) String() string {
	switch k {
	case NXDomain:
		return "NXDOMAIN"
	case NoData:
		return "NODATA"
	case ServFail:
		return "SERVFAIL"
	case Timeout:
		return "timeout"
	case BadName:
		return "bad name"
	case Unreachable:
		return "resolver unreachable"
	case Refused:
		return "REFUSED"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Sentinels for errors.Is; an *Error matches the one of its Kind.
var (
	ErrNXDomain    = errors.New("dns: NXDOMAIN")
	ErrNoData      = errors.New("dns: NODATA")
	ErrServFail    = errors.New("dns: SERVFAIL")
	ErrTimeout     = errors.New("dns: timeout")
	ErrBadName     = errors.New("dns: bad name")
	ErrUnreachable = errors.New("dns: resolver unreachable")
	ErrRefused     = errors.New("dns: REFUSED")
)

// Error is a failed lookup.
type Error struct {
	Name string // the name asked, as given
	Type string // "TXT", "A", "AAAA", "MX", "PTR"
	Kind Kind
	// Detail says more where there is more to say (the RCODE name, the
	// network error), for logs and traces.
	Detail string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("dns %s %s: %s", e.Type, e.Name, e.Kind)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Is reports whether target is the sentinel of e's Kind.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNXDomain:
		return e.Kind == NXDomain
	case ErrNoData:
		return e.Kind == NoData
	case ErrServFail:
		return e.Kind == ServFail
	case ErrTimeout:
		return e.Kind == Timeout
	case ErrBadName:
		return e.Kind == BadName
	case ErrUnreachable:
		return e.Kind == Unreachable
	case ErrRefused:
		return e.Kind == Refused
	}
	return false
}

// Timeout reports whether the lookup timed out, like *net.DNSError.
func (e *Error) Timeout() bool { return e.Kind == Timeout }

// IsNotFound reports whether err says the answer is empty: NXDOMAIN or
// NODATA. RFC 7208 §4.6.4 calls such a lookup "void".
func IsNotFound(err error) bool {
	return errors.Is(err, ErrNXDomain) || errors.Is(err, ErrNoData)
}

// NoAnswer reports whether err means testerd's resolver gave no answer at
// all: it was unreachable, refused, or timed out.
func NoAnswer(err error) bool {
	k := KindOf(err)
	return k == Unreachable || k == Refused || k == Timeout
}

// KindOf returns the Kind of err, or 0 when err is nil or not a DNS error.
// Context cancellation and deadline errors count as Timeout.
func KindOf(err error) Kind {
	var de *Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &de):
		return de.Kind
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return Timeout
	}
	return 0
}

// Limits on what one name may look like (RFC 1035 §2.3.4).
const (
	MaxNameLen  = 253 // octets, without the trailing dot
	MaxLabelLen = 63
)

// CheckName reports whether name can be asked at all: not empty, at most
// MaxNameLen octets, no empty label and no label over MaxLabelLen octets.
// A single trailing dot is allowed.
func CheckName(name string) error {
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return fmt.Errorf("empty name")
	}
	if len(n) > MaxNameLen {
		return fmt.Errorf("name is %d octets, over %d", len(n), MaxNameLen)
	}
	for l := range strings.SplitSeq(n, ".") {
		if l == "" {
			return fmt.Errorf("empty label")
		}
		if len(l) > MaxLabelLen {
			return fmt.Errorf("label of %d octets, over %d", len(l), MaxLabelLen)
		}
	}
	return nil
}

// canonical returns the lowercase fully-qualified form of name.
func canonical(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

func badName(name, typ string, err error) *Error {
	return &Error{Name: name, Type: typ, Kind: BadName, Detail: err.Error()}
}
