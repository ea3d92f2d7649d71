package dnsx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
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
// gives each question at most Timeout.
type Client struct {
	Server  string        // "host:port" of a recursive resolver
	Timeout time.Duration // per question; DefaultTimeout when zero
	health  Health
}

// Health returns what the client knows of its resolver's health.
func (c *Client) Health() *Health { return &c.health }

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
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	q := new(dns.Msg)
	q.SetQuestion(canonical(name), qtype)
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
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, &Error{Name: name, Type: typ, Kind: NXDomain}
	default:
		return nil, &Error{Name: name, Type: typ, Kind: ServFail, Detail: "rcode " + dns.RcodeToString[r.Rcode]}
	}
	ans := followChain(name, qtype, r.Answer)
	if len(ans) == 0 {
		return nil, &Error{Name: name, Type: typ, Kind: NoData}
	}
	return ans, nil
}

func (c *Client) exchange(ctx context.Context, q *dns.Msg, network string) (*dns.Msg, error) {
	dc := &dns.Client{Net: network, UDPSize: udpSize}
	r, _, err := dc.ExchangeContext(ctx, q, c.Server)
	return r, err
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
