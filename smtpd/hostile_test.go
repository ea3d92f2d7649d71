package smtpd_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/smtpd"
)

// rawClient is a hand-driven SMTP client.
type rawClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRawClient(t *testing.T, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rawClient{t: t, c: c, r: bufio.NewReader(c)}
	r.expect("220")
	return r
}

func (r *rawClient) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write %q: %v", s, err)
	}
}

// reply reads one reply (all its lines) and returns the last line.
func (r *rawClient) reply() (string, error) {
	r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		l, err := r.r.ReadString('\n')
		if err != nil {
			return l, err
		}
		if len(l) < 4 || l[3] != '-' {
			return strings.TrimRight(l, "\r\n"), nil
		}
	}
}

func (r *rawClient) expect(code string) string {
	r.t.Helper()
	l, err := r.reply()
	if err != nil || !strings.HasPrefix(l, code) {
		r.t.Fatalf("got %q (%v), want %s", l, err, code)
	}
	return l
}

// closed reports whether the server closed the connection (after any
// replies still buffered).
func (r *rawClient) closed() bool {
	r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := r.r.ReadString('\n')
	for err == nil {
		_, err = r.r.ReadString('\n')
	}
	return !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestDataTimeoutSmuggling: a DATA phase that stalls past the command
// timeout gets 421 and the connection closed; the rest of the body, which
// holds a whole second transaction, is never run as commands.
func TestDataTimeoutSmuggling(t *testing.T) {
	e := start(t, smtpd.Config{CommandTimeout: 300 * time.Millisecond})
	c := dialRawClient(t, e.addr)
	c.send("EHLO mail.abc.it\r\n")
	c.expect("250")
	c.send("MAIL FROM:<joe@abc.it>\r\nRCPT TO:<spf@" + domain + ">\r\nDATA\r\n")
	c.expect("250")
	c.expect("250")
	c.expect("354")
	c.send("From: joe@abc.it\r\nSubject: first\r\n\r\nbody\r\n")
	time.Sleep(600 * time.Millisecond)
	c.send("MAIL FROM:<evil@abc.it>\r\nRCPT TO:<check@" + domain + ">\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n")
	l, _ := c.reply()
	if !strings.HasPrefix(l, "421 4.4.2") || strings.Contains(l, "127.0.0.1") {
		t.Errorf("stalled DATA answered %q, want 421 4.4.2 without socket addresses", l)
	}
	if !c.closed() {
		t.Error("the connection stayed open")
	}
	time.Sleep(100 * time.Millisecond)
	if list := e.stored(t); len(list) != 0 {
		t.Errorf("%d probes stored, want none (first: %s)", len(list), list[0].Kind)
	}
}

// TestSlowSteadyData: a sender that keeps sending, slower than one
// command timeout for the whole message but making progress within each,
// gets its message in; one that trickles a byte at a time is cut.
func TestSlowSteadyData(t *testing.T) {
	e := start(t, smtpd.Config{CommandTimeout: 300 * time.Millisecond})
	c := dialRawClient(t, e.addr)
	c.send("EHLO mail.abc.it\r\nMAIL FROM:<joe@abc.it>\r\nRCPT TO:<spf@" + domain + ">\r\nDATA\r\n")
	c.expect("250")
	c.expect("250")
	c.expect("250")
	c.expect("354")
	c.send("From: joe@abc.it\r\nSubject: slow\r\n\r\n")
	for i := range 8 { // 8 × 150 ms = 1.2 s, four command timeouts
		time.Sleep(150 * time.Millisecond)
		c.send(fmt.Sprintf("line %d %s\r\n", i, strings.Repeat("x", 1100)))
	}
	c.send(".\r\n")
	c.expect("250")

	c = dialRawClient(t, e.addr)
	c.send("EHLO mail.abc.it\r\nMAIL FROM:<joe@abc.it>\r\nRCPT TO:<spf@" + domain + ">\r\nDATA\r\n")
	c.expect("250")
	c.expect("250")
	c.expect("250")
	c.expect("354")
	start := time.Now()
	for time.Since(start) < 3*time.Second {
		if _, err := c.c.Write([]byte("x")); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !c.closed() || time.Since(start) > 2*time.Second {
		t.Errorf("a byte-at-a-time DATA held the connection for %v", time.Since(start))
	}
}

// TestSlowloris: a command line dribbled one byte at a time is bounded by
// the command timeout as a whole and never run.
func TestSlowloris(t *testing.T) {
	e := start(t, smtpd.Config{CommandTimeout: 300 * time.Millisecond})
	c := dialRawClient(t, e.addr)
	c.send("EHLO mail.abc.it\r\n")
	c.expect("250")
	start := time.Now()
	for _, b := range "NOOP" {
		c.send(string(b))
		time.Sleep(120 * time.Millisecond)
	}
	c.c.Write([]byte("\r\n")) // the connection may be closed already
	l, _ := c.reply()
	if strings.HasPrefix(l, "250") {
		t.Errorf("the dribbled command was run: %q", l)
	}
	if !c.closed() {
		t.Error("the connection stayed open")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("held for %v", d)
	}
}

// TestGreetingTimeout: a client that does not say EHLO or HELO is let go
// after the short greeting timeout, not the command timeout.
func TestGreetingTimeout(t *testing.T) {
	e := start(t, smtpd.Config{CommandTimeout: 30 * time.Second, GreetingTimeout: 200 * time.Millisecond})
	c := dialRawClient(t, e.addr)
	start := time.Now()
	l, _ := c.reply()
	if !strings.HasPrefix(l, "421") || time.Since(start) > 5*time.Second {
		t.Errorf("silent client: %q after %v", l, time.Since(start))
	}
}

// TestSmallHostile: a control character in EHLO, and an overlong line in
// DATA (closed, nothing smuggled).
func TestSmallHostile(t *testing.T) {
	e := start(t, smtpd.Config{MaxLineLength: 200})
	c := dialRawClient(t, e.addr)
	c.send("EHLO mail\x1b.abc.it\r\n")
	c.expect("501")
	c.send("EHLO mail.abc.it\r\nMAIL FROM:<joe@abc.it>\r\nRCPT TO:<postmaster@" + domain + ">\r\n")
	c.expect("250")
	c.expect("250")
	c.expect("250")
	c.send("DATA\r\n")
	c.expect("354")
	c.send("Subject: long\r\n\r\n" + strings.Repeat("x", 300) + "\r\nRSET\r\nMAIL FROM:<evil@abc.it>\r\nRCPT TO:<check@" + domain + ">\r\nDATA\r\nx\r\n.\r\n")
	l, _ := c.reply()
	if !strings.HasPrefix(l, "500 5.5.2") {
		t.Errorf("overlong line: %q", l)
	}
	if !c.closed() {
		t.Error("the connection stayed open after an overlong line in DATA")
	}
	if list := e.stored(t); len(list) != 0 {
		t.Errorf("%d probes stored after an overlong line, want none", len(list))
	}
}

// TestPerNetworkLimit: connections are counted per /24 as well as per
// address.
func TestPerNetworkLimit(t *testing.T) {
	e := start(t, smtpd.Config{MaxConnsPerIP: 2, MaxConnsPerNet: 3})
	dialFrom := func(src string) (string, error) {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", e.addr)
		if err != nil {
			return "", err
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		return bufio.NewReader(c).ReadString('\n')
	}
	for i, tc := range []struct{ src, want string }{
		{"127.0.0.2", "220"}, {"127.0.0.2", "220"}, {"127.0.0.2", "421 4.7.0 Too many connections from your address"},
		{"127.0.0.3", "220"}, {"127.0.0.3", "421 4.7.0 Too many connections from your network"},
	} {
		got, err := dialFrom(tc.src)
		if err != nil {
			t.Skipf("cannot dial from %s: %v", tc.src, err)
		}
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("connection %d from %s: %q, want %s", i, tc.src, got, tc.want)
		}
	}
}

// TestBDATLineLimit: BDAT chunks, which are not read by lines, are held
// to the same line limit as DATA.
func TestBDATLineLimit(t *testing.T) {
	e := start(t, smtpd.Config{MaxLineLength: 200})
	c := dialRawClient(t, e.addr)
	c.send("EHLO mail.abc.it\r\nMAIL FROM:<joe@abc.it>\r\nRCPT TO:<spf@" + domain + ">\r\n")
	c.expect("250")
	c.expect("250")
	c.expect("250")
	body := "Subject: x\r\n\r\n" + strings.Repeat("y", 250) + "\r\n"
	c.send(fmt.Sprintf("BDAT %d LAST\r\n%s", len(body), body))
	// go-smtp's line limit covers the chunk too (and closes); testerd's
	// own check stands behind it.
	if l := c.expect("500"); !strings.Contains(strings.ToLower(l), "line") {
		t.Errorf("%q", l)
	}
	if list := e.stored(t); len(list) != 0 {
		t.Errorf("%d probes stored", len(list))
	}
}
