package smtpd

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// limitListener caps connections in all and per client IP, answering 421
// to the rest, and closes every connection when its session time is up.
type limitListener struct {
	net.Listener
	max, perIP int
	session    time.Duration

	mu         sync.Mutex
	total      int
	perIPCount map[netip.Addr]int
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := peerIP(c.RemoteAddr())
		l.mu.Lock()
		reason := ""
		switch {
		case l.total >= l.max:
			reason = "421 4.7.0 Too many connections; try again later\r\n"
		case l.perIPCount[ip] >= l.perIP:
			reason = "421 4.7.0 Too many connections from your address; try again later\r\n"
		default:
			l.total++
			l.perIPCount[ip]++
		}
		l.mu.Unlock()
		if reason != "" {
			c.SetWriteDeadline(time.Now().Add(5 * time.Second))
			c.Write([]byte(reason))
			c.Close()
			continue
		}
		lc := &limitConn{Conn: c, l: l, ip: ip}
		lc.timer = time.AfterFunc(l.session, func() { c.Close() })
		return lc, nil
	}
}

type limitConn struct {
	net.Conn
	l     *limitListener
	ip    netip.Addr
	timer *time.Timer
	once  sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() {
		c.timer.Stop()
		c.l.mu.Lock()
		c.l.total--
		if c.l.perIPCount[c.ip]--; c.l.perIPCount[c.ip] <= 0 {
			delete(c.l.perIPCount, c.ip)
		}
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}
