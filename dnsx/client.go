package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"
)

// Defaults for Client.
const (
	DefaultTimeout = 5 * time.Second
	// RFC 9715 / DNS flag day 2020: 1232 octets avoids IP fragmentation.
	udpSize = 1232
	// udpTries is how many times a UDP question is sent before giving up
	// (each try gets an equal share of the per-query timeout).
	udpTries = 2
)

// Client is the production Resolver: it asks one recursive server with
// miekg/dns over UDP, asks again over TCP when the answer is truncated, and
// gives each question at most Timeout. UDP sockets are kept and reused
// (one question at a time each), identical questions in flight are asked
// once (singleflight), and with CacheTTL set, answers (NXDOMAIN and NODATA
// too) are kept for their TTL, but never longer than CacheTTL: a tester
// must show a record fixed a moment ago. Failures are never cached.
type Client struct {
	Server  string        // "host:port" of a recursive resolver
	Timeout time.Duration // per question; DefaultTimeout when zero
	// CacheTTL caps how long an answer is reused; 0 turns the cache off.
	CacheTTL time.Duration
	// Now is the cache's clock; nil means time.Now.
	Now    func() time.Time
	health Health

	// noReuse and noCoalesce turn the parts off, for benchmarks.
	noReuse, noCoalesce bool

	once  sync.Once
	conns chan *dns.Conn
	group singleflight.Group
	cache cache
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Health returns what the client knows of its resolver's health.
func (c *Client) Health() *Health { return &c.health }

// MaxIdleConns bounds the UDP sockets kept for reuse.
const MaxIdleConns = 32

// NewClient returns a Client for server ("host:port"; ":53" is added to a
// bare host). An empty server means the first nameserver of
// /etc/resolv.conf.
func NewClient(server string, timeout time.Duration) (*Client, error) {
	if server == "" {
		s, err := SystemServer()
		if err != nil {
			return nil, err
		}
		server = s
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(strings.Trim(server, "[]"), "53")
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Client{Server: server, Timeout: timeout}, nil
}

// SystemServer returns the first nameserver of /etc/resolv.conf as
// "host:port".
func SystemServer() (string, error) {
	cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return "", fmt.Errorf("reading resolv.conf: %w", err)
	}
	if len(cfg.Servers) == 0 {
		return "", errors.New("resolv.conf lists no nameserver")
	}
	return net.JoinHostPort(cfg.Servers[0], cfg.Port), nil
}

func (c *Client) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	typ := typeName(qtype)
	if err := CheckName(name); err != nil {
		return nil, badName(name, typ, err)
	}
	key := cacheKey{canonical(name), qtype}
	if c.CacheTTL > 0 {
		if e, age, ok := c.cache.get(key, c.now()); ok {
			noteCacheHit(ctx, age, c.CacheTTL)
			return e.rrs, e.err(name, typ)
		}
	}
	if c.noCoalesce {
		return c.query(ctx, name, qtype, key)
	}
	// The shared question runs on its own deadline, so one caller giving
	// up does not fail the others; each caller still waits only as long
	// as its own context lets it.
	ch := c.group.DoChan(key.String(), func() (any, error) {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout())
		defer cancel()
		return c.query(qctx, name, qtype, key)
	})
	select {
	case r := <-ch:
		rrs, _ := r.Val.([]dns.RR)
		return rrs, r.Err
	case <-ctx.Done():
		return nil, &Error{Name: name, Type: typ, Kind: Timeout, Detail: ctx.Err().Error()}
	}
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// query asks the server, and caches what it says of the name.
func (c *Client) query(ctx context.Context, name string, qtype uint16, key cacheKey) ([]dns.RR, error) {
	typ := typeName(qtype)
	timeout := c.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	q := new(dns.Msg)
	q.SetQuestion(key.name, qtype)
	q.SetEdns0(udpSize, false)

	var r *dns.Msg
	var err error
	for try := range udpTries {
		tctx, tcancel := context.WithTimeout(ctx, timeout/udpTries)
		r, err = c.exchange(tctx, q, "udp")
		tcancel()
		if err == nil || ctx.Err() != nil || !isTimeout(err) || try == udpTries-1 {
			break
		}
	}
	if err == nil && r.Truncated {
		r, err = c.exchange(ctx, q, "tcp")
	}
	if err != nil {
		kind := Unreachable
		if isTimeout(err) || ctx.Err() != nil {
			kind = Timeout
		}
		c.health.noAnswer(err)
		return nil, &Error{Name: name, Type: typ, Kind: kind, Detail: fmt.Sprintf("%s: %v", c.Server, err)}
	}
	if r.Rcode == dns.RcodeRefused {
		c.health.noAnswer(fmt.Errorf("%s answered REFUSED", c.Server))
		return nil, &Error{Name: name, Type: typ, Kind: Refused, Detail: c.Server + " answered REFUSED"}
	}
	c.health.answered()
	if len(r.Question) != 1 || !strings.EqualFold(r.Question[0].Name, q.Question[0].Name) || r.Question[0].Qtype != qtype {
		return nil, &Error{Name: name, Type: typ, Kind: ServFail, Detail: "answer to another question"}
	}
	var e entry
	switch r.Rcode {
	case dns.RcodeSuccess:
		e.rrs = followChain(name, qtype, r.Answer)
		if len(e.rrs) == 0 {
			e.kind = NoData
		}
	case dns.RcodeNameError:
		e.kind = NXDomain
	default:
		return nil, &Error{Name: name, Type: typ, Kind: ServFail, Detail: "rcode " + dns.RcodeToString[r.Rcode]}
	}
	if c.CacheTTL > 0 {
		c.cache.put(key, e, ttlOf(e.rrs, c.CacheTTL), c.now())
	}
	return e.rrs, e.err(name, typ)
}

func (c *Client) exchange(ctx context.Context, q *dns.Msg, network string) (*dns.Msg, error) {
	dc := &dns.Client{Net: network, UDPSize: udpSize}
	if network != "udp" || c.noReuse {
		r, _, err := dc.ExchangeContext(ctx, q, c.Server)
		return r, err
	}
	c.once.Do(func() { c.conns = make(chan *dns.Conn, MaxIdleConns) })
	var conn *dns.Conn
	select {
	case conn = <-c.conns:
	default:
		var err error
		if conn, err = dc.DialContext(ctx, c.Server); err != nil {
			return nil, err
		}
	}
	r, _, err := dc.ExchangeWithConnContext(ctx, q, conn)
	if err != nil {
		// A socket that timed out may still get the late answer: never
		// reuse it.
		conn.Close()
		return nil, err
	}
	select {
	case c.conns <- conn:
	default:
		conn.Close()
	}
	return r, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	return lookupTXT(ctx, c, name)
}

func (c *Client) LookupIP(ctx context.Context, network, name string) ([]netip.Addr, error) {
	return lookupIP(ctx, c, network, name)
}

func (c *Client) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	return lookupMX(ctx, c, name)
}

func (c *Client) LookupAddr(ctx context.Context, addr netip.Addr) ([]string, error) {
	return lookupAddr(ctx, c, addr)
}
