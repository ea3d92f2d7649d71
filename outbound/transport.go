package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/emersion/go-sasl"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/mtasts"
)

// Bounds of one direct delivery, whatever DNS says.
const (
	MaxMXHosts   = 10
	MaxAddresses = 10 // addresses tried per delivery, over all hosts
)

// Direct delivers to the recipient domain's own mail servers.
type Direct struct {
	Resolver dnsx.Resolver
	// Hostname is the EHLO name.
	Hostname string
	// Port is the SMTP port of the MX hosts: "25" unless set (tests).
	Port string
	// AllowPrivate lets MX hosts resolve to loopback, private and
	// link-local addresses. Off, such an MX is refused, so that a
	// stranger's DNS cannot point testerd at the operator's own network.
	AllowPrivate bool
	// STS, if set, fetches the recipient domains' MTA-STS policies, which
	// then apply (policy.go); DANE applies whenever the resolver answers
	// TLSA questions with DNSSEC validation.
	STS *mtasts.Fetcher
	// RootCAs, if set, replaces the system roots for verified TLS (tests).
	RootCAs *x509.CertPool

	policies policyCache
}

// Deliver tries each MX host in priority order, and each of its
// addresses, until one accepts the message or refuses it permanently.
func (t *Direct) Deliver(ctx context.Context, m *Message) (*Delivery, error) {
	at := strings.LastIndexByte(m.To, '@')
	if at < 0 {
		return nil, permanent("", "recipient %q has no domain", m.To)
	}
	domain, err := message.Domain(m.To[at+1:])
	if err != nil {
		return nil, permanent("", "recipient domain: %v", err)
	}
	hosts, err := t.hosts(ctx, domain)
	if err != nil {
		return nil, err
	}
	port := t.Port
	if port == "" {
		port = "25"
	}
	policy := t.stsPolicy(ctx, domain)
	var last *Error
	tried := 0
	for _, host := range hosts {
		sec, ok := t.hostSecurity(ctx, host, policy)
		if !ok {
			last = temporary(host, "is not named by the MTA-STS policy of %s (mode enforce), so testerd does not deliver to it", domain)
			continue
		}
		addrs, err := t.addresses(ctx, host)
		if err != nil {
			last = err
			continue
		}
		for _, a := range addrs {
			if tried == MaxAddresses {
				break
			}
			tried++
			s := &session{hostname: t.Hostname, serverName: host, addr: net.JoinHostPort(a.String(), port), mode: sec.mode, tlsConfig: sec.cfg}
			d, err := s.send(ctx, m)
			if err == nil {
				if sec.by != "" {
					d.TLS += " (" + sec.by + ")"
				}
				return d, nil
			}
			if sec.by != "" {
				err = fmt.Errorf("%s demands TLS with a verified certificate: %w", sec.by, err)
			}
			e := classify(host+" ["+a.String()+"]", err)
			if e.Permanent {
				return nil, e
			}
			last = e
		}
	}
	if last == nil {
		last = temporary("", "no address to try for %s", domain)
	}
	return nil, last
}

// hosts returns the names to try, best first (RFC 5321 §5.1).
func (t *Direct) hosts(ctx context.Context, domain string) ([]string, error) {
	mxs, err := t.Resolver.LookupMX(ctx, domain)
	switch {
	case dnsx.KindOf(err) == dnsx.NXDomain:
		return nil, permanent("", "domain %s does not exist (NXDOMAIN)", domain)
	case dnsx.KindOf(err) == dnsx.NoData:
		return []string{domain}, nil // no MX: the domain itself, "implicit MX"
	case err != nil:
		return nil, temporary("", "looking up the MX of %s: %v", domain, err)
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, permanent("", "%s accepts no mail: it publishes a null MX (RFC 7505)", domain)
	}
	// Shuffle, then sort stably by preference: equal preferences share
	// the load, as §5.1 asks.
	rand.Shuffle(len(mxs), func(i, j int) { mxs[i], mxs[j] = mxs[j], mxs[i] })
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	var hosts []string
	for _, mx := range mxs {
		h := strings.TrimSuffix(mx.Host, ".")
		if h == "" || slices.Contains(hosts, h) {
			continue // a "." among other MX records is ignored
		}
		hosts = append(hosts, h)
		if len(hosts) == MaxMXHosts {
			break
		}
	}
	if len(hosts) == 0 {
		return nil, permanent("", "%s has no usable MX host", domain)
	}
	return hosts, nil
}

// addresses returns a host's IPv4 then IPv6 addresses, usable ones only.
func (t *Direct) addresses(ctx context.Context, host string) ([]netip.Addr, *Error) {
	var addrs []netip.Addr
	var errs []string
	for _, network := range []string{"ip4", "ip6"} {
		a, err := t.Resolver.LookupIP(ctx, network, host)
		if err != nil {
			if !dnsx.IsNotFound(err) {
				errs = append(errs, err.Error())
			}
			continue
		}
		addrs = append(addrs, a...)
	}
	var usable []netip.Addr
	for _, a := range addrs {
		if t.AllowPrivate || netguard.Public(a) {
			usable = append(usable, a)
		}
	}
	switch {
	case len(usable) > 0:
		return usable, nil
	case len(addrs) > 0:
		return nil, temporary(host, "resolves only to addresses that are not public (%s: private, loopback, reserved or special-purpose), which testerd does not deliver to", addrs[0])
	case len(errs) > 0:
		return nil, temporary(host, "address lookup: %s", strings.Join(errs, "; "))
	}
	return nil, temporary(host, "has no A or AAAA record")
}

// Smarthost relays every message through one server.
type Smarthost struct {
	// Addr is host:port.
	Addr     string
	Hostname string
	// TLS is RequireStartTLS, Implicit or NoTLS (a relay on this host).
	TLS       TLSMode
	TLSConfig *tls.Config
	// Username and Password, when Username is set, authenticate with
	// AUTH PLAIN, over TLS only.
	Username, Password string
}

// Deliver hands m to the smarthost.
func (t *Smarthost) Deliver(ctx context.Context, m *Message) (*Delivery, error) {
	host, _, err := net.SplitHostPort(t.Addr)
	if err != nil {
		return nil, permanent("", "smarthost %q: %v", t.Addr, err)
	}
	if t.TLS == Opportunistic {
		return nil, permanent(t.Addr, "a smarthost needs STARTTLS, implicit TLS or none")
	}
	s := &session{hostname: t.Hostname, serverName: host, addr: t.Addr, mode: t.TLS, tlsConfig: t.TLSConfig}
	if t.Username != "" {
		if t.TLS == NoTLS {
			return nil, permanent(t.Addr, "refusing to send the smarthost password without TLS")
		}
		s.auth = sasl.NewPlainClient("", t.Username, t.Password)
	}
	d, err := s.send(ctx, m)
	if err != nil {
		return nil, classify(t.Addr, err)
	}
	return d, nil
}

// ParseTLSMode reads a smarthost TLS setting: starttls, implicit or none.
func ParseTLSMode(s string) (TLSMode, error) {
	switch s {
	case "starttls":
		return RequireStartTLS, nil
	case "implicit", "tls":
		return Implicit, nil
	case "none":
		return NoTLS, nil
	}
	return 0, fmt.Errorf("smarthost TLS must be starttls, implicit or none, not %q", s)
}
