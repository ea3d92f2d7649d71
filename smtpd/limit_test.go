package smtpd

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// fakeConn is one end of a pipe with a chosen remote address.
type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }

// fakeListener hands out pipe connections from the addresses sent to it.
type fakeListener struct{ conns chan net.Conn }

func (l fakeListener) Accept() (net.Conn, error) {
	c, ok := <-l.conns
	if !ok {
		return nil, net.ErrClosed
	}
	return c, nil
}
func (l fakeListener) Close() error   { return nil }
func (l fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// TestReservedSlots: the last tenth of the slots go to networks that
// have no connection yet, so twenty addresses of a few networks holding
// idle connections do not lock everyone out.
func TestReservedSlots(t *testing.T) {
	fl := fakeListener{make(chan net.Conn)}
	l := &limitListener{Listener: fl, max: 10, perIP: 10, perNet: 10, timeouts: timeouts{command: time.Minute, session: time.Minute},
		perIPCount: map[netip.Addr]int{}, perNetCount: map[netip.Prefix]int{}}
	accepted := make(chan net.Conn, 20)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	// connect returns what the server end says first: "" when the
	// listener took the connection, else its 421.
	connect := func(ip string) string {
		server, client := net.Pipe()
		fl.conns <- fakeConn{server, &net.TCPAddr{IP: net.ParseIP(ip), Port: 1234}}
		got := make(chan string, 1)
		go func() {
			client.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			b, _ := io.ReadAll(client)
			got <- string(b)
		}()
		select {
		case <-accepted:
			return ""
		case s := <-got:
			return s
		}
	}
	for i := range 9 {
		if got := connect("192.0.2." + string(rune('1'+i%3))); got != "" {
			t.Fatalf("connection %d refused: %q", i, got)
		}
	}
	// The tenth slot is reserved: 192.0.2.0/24 has connections already.
	if got := connect("192.0.2.9"); !strings.HasPrefix(got, "421") {
		t.Errorf("a known network took the reserved slot: %q", got)
	}
	if got := connect("198.51.100.1"); got != "" {
		t.Errorf("a new network was refused the reserved slot: %q", got)
	}
	close(fl.conns)
}
