package smtpd

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/testerd/testerd/internal/netguard"
)

// limitListener caps connections in all, per client IP and per client
// network (/24 for IPv4, /64 for IPv6), answering 421 to the rest. It
// keeps the last tenth of the slots for networks that have no connection
// yet, so a few networks holding idle connections cannot lock everyone
// out. Its connections enforce the timeouts (see limitConn).
type limitListener struct {
	net.Listener
	max, perIP, perNet int
	timeouts           timeouts
	observe            func(command string, code int)
	logger             *slog.Logger

	mu          sync.Mutex
	total       int
	perIPCount  map[netip.Addr]int
	perNetCount map[netip.Prefix]int
}

// timeouts are a connection's deadlines.
type timeouts struct {
	// command bounds one command line, and DATA between two steps of
	// progress (minProgress octets); greeting bounds the time from the
	// connection to EHLO or HELO, however the client dribbles; handshake
	// bounds a STARTTLS handshake; session bounds it all.
	command, greeting, handshake, session time.Duration
}

// minProgress is what a client in DATA must send to earn a fresh command
// timeout: a trickle of a byte at a time does not.
const minProgress = 1024

// DefaultHandshakeTimeout bounds a STARTTLS handshake.
const DefaultHandshakeTimeout = 10 * time.Second

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := peerIP(c.RemoteAddr())
		nw := netguard.ClientNet(ip)
		reserved := max(l.max/10, 1)
		l.mu.Lock()
		reason := ""
		switch {
		case l.total >= l.max:
			reason = "421 4.7.0 Too many connections; try again later\r\n"
		case l.perIPCount[ip] >= l.perIP:
			reason = "421 4.7.0 Too many connections from your address; try again later\r\n"
		case l.perNetCount[nw] >= l.perNet:
			reason = "421 4.7.0 Too many connections from your network; try again later\r\n"
		case l.total >= l.max-reserved && l.perNetCount[nw] > 0:
			// The last slots are for networks not connected yet.
			reason = "421 4.7.0 Too many connections; try again later\r\n"
		default:
			l.total++
			l.perIPCount[ip]++
			l.perNetCount[nw]++
		}
		l.mu.Unlock()
		if l.observe != nil {
			code := 220
			if reason != "" {
				code = 421
			}
			l.observe("connect", code)
		}
		if reason != "" {
			l.log().Info("smtp connection refused", "client", ip, "reply", strings.TrimSpace(reason))
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte(reason))
			c.Close()
			continue
		}
		now := time.Now()
		lc := &limitConn{Conn: c, l: l, ip: ip, nw: nw, t: l.timeouts, end: now.Add(l.timeouts.session), greetBy: now.Add(l.timeouts.greeting), session: newSessionID()}
		l.log().Info("smtp connect", "session", lc.session, "client", ip)
		lc.timer = time.AfterFunc(l.timeouts.session, func() { c.Close() })
		return lc, nil
	}
}

// log is the listener's logger (tests build listeners without one).
func (l *limitListener) log() *slog.Logger {
	if l.logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.logger
}

// newSessionID is a short random id for one SMTP connection.
func newSessionID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// limitConn is one client connection. It caps every read deadline at the
// session's end; before EHLO or HELO at the greeting deadline, counted
// from the connection (a client that dribbles cannot renew it); a
// STARTTLS handshake gets the handshake timeout; inside DATA the command
// timeout starts again only when the client makes progress, so a slow
// but steady sender is not cut off while a stalled or trickling one is.
// A command line the timeout finds incomplete is never run: the
// connection is closed first (go-smtp's reader would hand the partial
// line on as a whole one), and the session refuses whatever follows.
type limitConn struct {
	net.Conn
	l       *limitListener
	ip      netip.Addr
	nw      netip.Prefix
	t       timeouts
	end     time.Time
	greetBy time.Time
	timer   *time.Timer
	once    sync.Once
	// session names the connection in the logs, and in the probes it
	// carries.
	session string

	greeted, inData, tls, timedOut atomic.Bool
	// progress counts the octets read in DATA since the deadline was
	// last renewed (the reading goroutine's alone).
	progress int
}

func (c *limitConn) capped(t time.Time) time.Time {
	if t.IsZero() || t.After(c.end) {
		return c.end
	}
	return t
}

// SetReadDeadline is how go-smtp bounds each command line.
func (c *limitConn) SetReadDeadline(t time.Time) error {
	if !c.greeted.Load() && c.t.greeting > 0 && (t.IsZero() || c.greetBy.Before(t)) {
		t = c.greetBy
	}
	return c.Conn.SetReadDeadline(c.capped(t))
}

func (c *limitConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(c.capped(t))
}

func (c *limitConn) Read(p []byte) (int, error) {
	data := c.inData.Load()
	if data && (c.progress == 0 || c.progress >= minProgress) {
		c.Conn.SetReadDeadline(c.capped(time.Now().Add(c.t.command)))
		c.progress = 0
	}
	n, err := c.Conn.Read(p)
	if data {
		c.progress += n
	} else {
		c.progress = 0
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() && !data {
		// A command line cut by the timeout: go-smtp's reader would pass
		// what came of it on as a whole line. Say why in plain text
		// (not inside TLS, where it cannot be written), then close.
		c.timedOut.Store(true)
		if !c.tls.Load() {
			c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
			c.Conn.Write([]byte("421 4.4.2 Timeout waiting for a whole command line; closing the connection\r\n"))
		}
		c.Conn.Close()
	}
	return n, err
}

// Write notices the reply to STARTTLS: the handshake that follows gets
// its own deadline, and a reply can no longer be written in plain text.
func (c *limitConn) Write(p []byte) (int, error) {
	if !c.tls.Load() && len(p) >= 4 && string(p[:4]) == "220 " && c.greeted.Load() {
		c.tls.Store(true)
		if c.t.handshake > 0 {
			c.Conn.SetReadDeadline(c.capped(time.Now().Add(c.t.handshake)))
		}
	}
	return c.Conn.Write(p)
}

func (c *limitConn) Close() error {
	c.once.Do(func() {
		c.timer.Stop()
		c.l.mu.Lock()
		c.l.total--
		if c.l.perIPCount[c.ip]--; c.l.perIPCount[c.ip] <= 0 {
			delete(c.l.perIPCount, c.ip)
		}
		if c.l.perNetCount[c.nw]--; c.l.perNetCount[c.nw] <= 0 {
			delete(c.l.perNetCount, c.nw)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
