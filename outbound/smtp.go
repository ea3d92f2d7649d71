package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode is how a session uses TLS.
type TLSMode int

const (
	// Opportunistic: STARTTLS when the server offers it, without
	// verifying its certificate, and plain text when the handshake fails
	// (as MTAs do without MTA-STS or DANE).
	Opportunistic TLSMode = iota
	// RequireStartTLS: STARTTLS with a verified certificate, or no
	// delivery.
	RequireStartTLS
	// Implicit: TLS from the first byte (port 465, RFC 8314).
	Implicit
	// NoTLS: plain text, for a relay on the same host.
	NoTLS
)

// Timeouts of one SMTP session.
const (
	DialTimeout    = 30 * time.Second
	CommandTimeout = 2 * time.Minute
	DataTimeout    = 5 * time.Minute
)

// session is one SMTP conversation to one server address.
type session struct {
	hostname   string // our EHLO name
	serverName string // for TLS verification and reports
	addr       string // host:port to dial
	mode       TLSMode
	tlsConfig  *tls.Config
	auth       sasl.Client
}

// errNoTLS marks a failed opportunistic handshake, after which the same
// server is tried again in plain text.
var errNoTLS = errors.New("TLS handshake failed")

// send runs the session and returns what TLS it used.
func (s *session) send(ctx context.Context, m *Message) (d *Delivery, err error) {
	d, err = s.try(ctx, m, s.mode)
	if errors.Is(err, errNoTLS) && s.mode == Opportunistic {
		d, err = s.try(ctx, m, NoTLS)
	}
	return d, err
}

func (s *session) try(ctx context.Context, m *Message, mode TLSMode) (*Delivery, error) {
	dialer := &net.Dialer{Timeout: DialTimeout}
	conn, err := dialer.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	tlsConfig := s.tlsConfig
	if tlsConfig == nil {
		tlsConfig = &tls.Config{}
	}
	tlsConfig = tlsConfig.Clone()
	if tlsConfig.ServerName == "" {
		tlsConfig.ServerName = s.serverName
	}
	if mode == Opportunistic {
		tlsConfig.InsecureSkipVerify = true
	}

	var c *smtp.Client
	var tc *tls.Conn
	d := &Delivery{Relay: s.serverName + " [" + conn.RemoteAddr().String() + "]"}
	switch mode {
	case Implicit:
		tc = tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, &setupError{"TLS", err}
		}
		c = smtp.NewClient(tc)
	default:
		c, tc, err = s.startTLS(ctx, conn, mode, tlsConfig)
		if err != nil {
			return nil, &setupError{"greeting, EHLO or STARTTLS", err}
		}
	}
	c.CommandTimeout, c.SubmissionTimeout = CommandTimeout, DataTimeout
	if err := c.Hello(s.hostname); err != nil {
		return nil, &setupError{"EHLO", err}
	}
	if tc != nil {
		d.TLS = tls.VersionName(tc.ConnectionState().Version)
	}
	if s.auth != nil {
		if d.TLS == "" {
			return nil, &setupError{"AUTH", errors.New("refusing AUTH without TLS")}
		}
		if err := c.Auth(s.auth); err != nil {
			return nil, &setupError{"AUTH", err}
		}
	}
	var opts *smtp.MailOptions
	if !isASCII(m.To) || !isASCII(m.From) {
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(m.From, opts); err != nil {
		return nil, err
	}
	if err := c.Rcpt(m.To, nil); err != nil {
		return nil, err
	}
	w, err := c.Data()
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(m.Data); err != nil {
		w.Close()
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	c.Quit()
	return d, nil
}

// startTLS greets the server, sends EHLO with our name and, as mode
// asks, STARTTLS, then hands the connection to go-smtp's client. (That
// client cannot be given an EHLO name before its own STARTTLS, and would
// introduce testerd as "localhost", the name receivers check SPF on when
// the sender is null.) go-smtp is handed a greeting line of our own, and
// sends EHLO again, as RFC 3207 §4.2 requires after TLS.
func (s *session) startTLS(ctx context.Context, conn net.Conn, mode TLSMode, cfg *tls.Config) (*smtp.Client, *tls.Conn, error) {
	conn.SetDeadline(time.Now().Add(CommandTimeout))
	tp := textproto.NewConn(conn)
	if _, msg, err := tp.ReadResponse(220); err != nil {
		return nil, nil, smtpErr(err, msg)
	}
	var code int
	var msg string
	id, err := tp.Cmd("EHLO %s", s.hostname)
	if err == nil {
		tp.StartResponse(id)
		code, msg, err = tp.ReadResponse(250)
		tp.EndResponse(id)
	}
	if err != nil && code == 0 {
		return nil, nil, err // the connection failed
	}
	offered := err == nil && hasExtension(msg, "STARTTLS")
	if mode == NoTLS || (mode == Opportunistic && !offered) {
		if tp.R.Buffered() > 0 {
			return nil, nil, errors.New("server sent data before being asked")
		}
		conn.SetDeadline(time.Time{})
		return smtp.NewClient(greeted(conn)), nil, nil
	}
	if !offered {
		return nil, nil, errors.New("server does not offer STARTTLS, which is required")
	}
	if id, err = tp.Cmd("STARTTLS"); err == nil {
		tp.StartResponse(id)
		_, msg, err = tp.ReadResponse(220)
		tp.EndResponse(id)
	}
	if err != nil {
		return nil, nil, smtpErr(err, msg)
	}
	if tp.R.Buffered() > 0 { // RFC 3207 §4.2: nothing may precede TLS (CVE-2011-0411)
		return nil, nil, errors.New("server sent data after STARTTLS before the handshake")
	}
	conn.SetDeadline(time.Time{})
	tc := tls.Client(conn, cfg)
	hctx, cancel := context.WithTimeout(ctx, CommandTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		if mode == Opportunistic {
			return nil, nil, fmt.Errorf("%w: %v", errNoTLS, err)
		}
		return nil, nil, fmt.Errorf("TLS: %w", err)
	}
	return smtp.NewClient(greeted(tc)), tc, nil
}

// smtpErr makes a textproto error an *smtp.SMTPError, so classify can
// tell 4xx from 5xx.
func smtpErr(err error, msg string) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &smtp.SMTPError{Code: te.Code, Message: te.Msg}
	}
	return err
}

func hasExtension(ehlo, name string) bool {
	for i, line := range strings.Split(ehlo, "\n") {
		if i == 0 {
			continue // the greeting line
		}
		if f := strings.Fields(line); len(f) > 0 && strings.EqualFold(f[0], name) {
			return true
		}
	}
	return false
}

// greetedConn replays a 220 greeting to go-smtp before the server's
// bytes, for a connection whose real greeting was read already.
type greetedConn struct {
	net.Conn
	r io.Reader
}

func greeted(c net.Conn) net.Conn {
	return &greetedConn{Conn: c, r: io.MultiReader(strings.NewReader("220 session resumed\r\n"), c)}
}

func (g *greetedConn) Read(p []byte) (int, error) { return g.r.Read(p) }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// ProbeTLS checks what a receiving server offers: on conn (a new SMTP
// connection to serverName), the greeting, EHLO as hostname, STARTTLS and
// a TLS handshake verified against serverName with cfg's roots, then QUIT.
// It is the STARTTLS path deliveries take, so a check and a delivery see
// the same. The error says which step failed.
func ProbeTLS(ctx context.Context, conn net.Conn, hostname, serverName string, cfg *tls.Config) (tls.ConnectionState, error) {
	cfg = cfg.Clone()
	cfg.ServerName = serverName
	s := &session{hostname: hostname, serverName: serverName}
	c, tc, err := s.startTLS(ctx, conn, RequireStartTLS, cfg)
	if err != nil {
		conn.Close()
		return tls.ConnectionState{}, err
	}
	c.CommandTimeout = CommandTimeout
	c.Quit()
	return tc.ConnectionState(), nil
}
