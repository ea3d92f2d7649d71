// Package netguard decides which addresses testerd may dial on a
// stranger's behalf: an MX host a probe's domain names, a webhook URL, an
// MTA-STS policy host. Only globally routable unicast addresses pass,
// so a stranger's DNS cannot aim testerd at this host, the operator's
// network or a cloud's internal services. IPv4-mapped and -embedding IPv6
// forms are judged by the IPv4 address they carry.
package netguard

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// nonPublic are the special-purpose ranges of the IANA IPv4 and IPv6
// registries (RFC 6890 and its updates) that are not globally reachable,
// plus multicast and the documentation ranges.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		// IPv4
		"0.0.0.0/8",       // "this network", 0.0.0.0 reaches this host
		"10.0.0.0/8",      // private
		"100.64.0.0/10",   // shared address space (carrier NAT, cloud-internal services)
		"127.0.0.0/8",     // loopback
		"169.254.0.0/16",  // link-local (cloud metadata services)
		"172.16.0.0/12",   // private
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"192.88.99.0/24",  // 6to4 relay anycast (deprecated)
		"192.168.0.0/16",  // private
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"224.0.0.0/4",     // multicast
		"240.0.0.0/4",     // reserved, and 255.255.255.255
		// IPv6
		"::/96",          // unspecified, loopback and IPv4-compatible (deprecated)
		"64:ff9b:1::/48", // local-use IPv4/IPv6 translation
		"100::/64",       // discard-only
		"2001::/23",      // IETF protocol assignments (Teredo, ORCHID, benchmarking …)
		"2001:db8::/32",  // documentation
		"3fff::/20",      // documentation
		"5f00::/16",      // segment routing SIDs
		"fc00::/7",       // unique local
		"fe80::/10",      // link-local
		"fec0::/10",      // site-local (deprecated)
		"ff00::/8",       // multicast
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// Public reports whether a may be dialled on a stranger's behalf.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	// Forms that carry an IPv4 address are as public as it is.
	b := a.As16()
	switch {
	case a.Is6() && nat64.Contains(a):
		return Public(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	case a.Is6() && sixTo4.Contains(a):
		return Public(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	return true
}

// ClientNet is the network a client is counted in for limits and
// fairness: its /24 for IPv4, its /64 for IPv6 (one subscriber's usual
// allocation).
func ClientNet(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap()
	bits := 64
	if ip.Is4() {
		bits = 24
	}
	p, _ := ip.Prefix(bits)
	return p
}

// Dialer dials only addresses Public passes (any with allowPrivate); it
// checks the address it dials, after DNS, so a stranger's DNS cannot aim
// it elsewhere. A refused address fails with refused, wrapped.
func Dialer(timeout time.Duration, allowPrivate bool, refused error) *net.Dialer {
	return &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil {
			return err
		}
		if !allowPrivate && !Public(ap.Addr()) {
			return fmt.Errorf("%s %w", ap.Addr(), refused)
		}
		return nil
	}}
}

// Client is an HTTP client for a stranger's URL: it dials only what
// Public passes (any address with allowPrivate; a refused one fails with
// refused, wrapped), through no proxy from the environment, with TLS 1.2
// at least (conf, or the system's roots when nil), and follows no
// redirect: a 3xx is the answer, so a URL cannot lead elsewhere. timeout
// bounds the dial, the handshake, the wait for the answer and the whole
// request.
func Client(timeout time.Duration, allowPrivate bool, refused error, conf *tls.Config) *http.Client {
	if conf == nil {
		conf = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           Dialer(timeout, allowPrivate, refused).DialContext,
			TLSClientConfig:       conf,
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       time.Minute,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
