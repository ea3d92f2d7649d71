package smtpd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/smtpd"
)

// TestPartialLine: a command line without its CRLF is never run, however
// the timeout finds it: before EHLO, after it, and in one piece.
func TestPartialLine(t *testing.T) {
	e := start(t, smtpd.Config{CommandTimeout: 300 * time.Millisecond, GreetingTimeout: 300 * time.Millisecond})
	c := dialRawClient(t, e.addr)
	c.send("EHLO s")
	l, _ := c.reply()
	if strings.HasPrefix(l, "250") {
		t.Errorf("a partial EHLO was run: %q", l)
	}
	c = dialRawClient(t, e.addr)
	c.send("EHLO mail.abc.it\r\n")
	c.expect("250")
	c.send("MAIL FROM:<joe@abc.it>")
	if l, _ := c.reply(); strings.HasPrefix(l, "250") {
		t.Errorf("a partial MAIL was run: %q", l)
	}
}

// TestGreetingNotRenewed: lines before EHLO (NOOP, one a little under the
// greeting timeout each) cannot hold the connection past the greeting
// timeout counted from the connection.
func TestGreetingNotRenewed(t *testing.T) {
	e := start(t, smtpd.Config{CommandTimeout: 5 * time.Second, GreetingTimeout: 400 * time.Millisecond})
	c := dialRawClient(t, e.addr)
	start := time.Now()
	for range 12 {
		time.Sleep(250 * time.Millisecond)
		if _, err := c.c.Write([]byte("NOOP\r\n")); err != nil {
			break
		}
	}
	if !c.closed() || time.Since(start) > 2*time.Second {
		t.Errorf("NOOPs before EHLO held the connection for %v", time.Since(start))
	}
}

// TestHandshakeTimeout: after 220 to STARTTLS, a client that does not
// finish its handshake is let go at the handshake timeout, not the
// command timeout.
func TestHandshakeTimeout(t *testing.T) {
	e := start(t, smtpd.Config{CommandTimeout: 10 * time.Second, HandshakeTimeout: 300 * time.Millisecond})
	c := dialRawClient(t, e.addr)
	c.send("EHLO mail.abc.it\r\n")
	c.expect("250")
	c.send("STARTTLS\r\n")
	c.expect("220")
	start := time.Now()
	c.send("\x16\x03") // the first bytes of a ClientHello, and no more
	if !c.closed() || time.Since(start) > 3*time.Second {
		t.Errorf("a stalled handshake held the connection for %v", time.Since(start))
	}
}

// TestMessageCaps: one connection takes at most MaxMessagesPerSession
// messages, and one client network MaxMessagesPerNetHour in an hour,
// however many connections it opens.
func TestMessageCaps(t *testing.T) {
	e := start(t, smtpd.Config{MaxMessagesPerSession: 3, MaxMessagesPerNetHour: 5})
	one := func(c *rawClient) string {
		c.send("MAIL FROM:<joe@abc.it>\r\n")
		l, _ := c.reply()
		if !strings.HasPrefix(l, "250") {
			return l
		}
		c.send("RCPT TO:<spf@" + domain + ">\r\nDATA\r\n")
		c.expect("250")
		c.expect("354")
		c.send("From: joe@abc.it\r\nSubject: cap\r\n\r\nx\r\n.\r\n")
		return c.expect("250")
	}
	c := dialRawClient(t, e.addr)
	c.send("EHLO mail.abc.it\r\n")
	c.expect("250")
	for range 3 {
		one(c)
	}
	if l := one(c); !strings.HasPrefix(l, "421") || !c.closed() {
		t.Errorf("the 4th message of a session: %q", l)
	}
	c = dialRawClient(t, e.addr)
	c.send("EHLO mail.abc.it\r\n")
	c.expect("250")
	one(c)
	one(c)
	if l := one(c); !strings.HasPrefix(l, "421") || !strings.Contains(l, "network") {
		t.Errorf("the 6th message of a network in an hour: %q", l)
	}
	if n := len(e.stored(t)); n != 5 {
		t.Errorf("%d probes stored, want 5", n)
	}
}
