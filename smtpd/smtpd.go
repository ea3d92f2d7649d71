// Package smtpd is testerd's SMTP side (go-smtp): it accepts mail for the
// tester addresses only (spf@, dkim@, check@ and postmaster@ at the tester
// domain, with an optional +extension), commits each accepted message to
// the store before answering 250, and hands it on for verification. A
// failing SPF or DKIM check never refuses a message: the tester accepts and
// reports. testerd is never a relay.
//
// Every limit is explicit: message size, recipients, line length, the
// per-command and whole-session timeouts, and connections in all and per
// client IP (enforced by a listener wrapper that answers 421 and closes).
package smtpd

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/rcpt"

	"github.com/emersion/go-smtp"

	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/store"
)

// Defaults for Config's limits.
const (
	DefaultMaxMessageBytes = 10 << 20
	DefaultMaxRecipients   = 10
	// DefaultMaxMessagesPerSession bounds the messages of one
	// connection, and DefaultMaxMessagesPerNetHour those of one client
	// network (/24, /64) in an hour: a tester needs a few, and every one
	// costs a verdict.
	DefaultMaxMessagesPerSession = 100
	DefaultMaxMessagesPerNetHour = 2000
	// DefaultMaxLineLength is above RFC 5321's 1000 octets on purpose:
	// senders with overlong lines should get a report, not a refusal.
	DefaultMaxLineLength  = 8192
	DefaultCommandTimeout = 2 * time.Minute
	DefaultSessionTimeout = 10 * time.Minute
	// DefaultGreetingTimeout bounds the time from the connection to EHLO
	// or HELO: a client that has not said who it is holds a slot only
	// briefly, however it dribbles.
	DefaultGreetingTimeout = 30 * time.Second
	DefaultMaxConns        = 200
	DefaultMaxConnsPerIP   = 10
	// DefaultMaxConnsPerNet caps one /24 (IPv4) or /64 (IPv6).
	DefaultMaxConnsPerNet  = 20
	DefaultShutdownTimeout = 30 * time.Second
)

// Config configures the SMTP server. Zero limits take the defaults.
type Config struct {
	// Domain is the tester domain: recipients must be at it.
	Domain string
	// Hostname is the name in the greeting and EHLO reply.
	Hostname string
	// TLS enables STARTTLS when not nil.
	TLS *tls.Config
	// ReportAddresses are local parts, besides rua, that take DMARC
	// aggregate reports (each with any +tag).
	ReportAddresses []string

	MaxMessageBytes int64
	MaxRecipients   int
	MaxLineLength   int
	CommandTimeout  time.Duration
	SessionTimeout  time.Duration
	GreetingTimeout time.Duration
	// HandshakeTimeout bounds a STARTTLS handshake (DefaultHandshakeTimeout,
	// at most CommandTimeout).
	HandshakeTimeout time.Duration
	// MaxMessagesPerSession and MaxMessagesPerNetHour bound the messages
	// taken (DefaultMaxMessagesPerSession, DefaultMaxMessagesPerNetHour).
	MaxMessagesPerSession int
	MaxMessagesPerNetHour int
	MaxConns              int
	MaxConnsPerIP         int
	MaxConnsPerNet        int
	// ShutdownTimeout is how long Run waits for the sessions in flight
	// once its context ends.
	ShutdownTimeout time.Duration

	Logger *slog.Logger
	// Observe, if set, is told the reply code testerd gives each
	// connection ("connect": 220, or 421 when turned away), each refused
	// EHLO or HELO ("ehlo") and each MAIL, RCPT and DATA ("mail", "rcpt",
	// "data"), for metrics.
	Observe func(command string, code int)
	// Now is the clock for received times; nil means time.Now.
	Now func() time.Time
}

// Sink receives accepted probes. Accept must commit them durably before it
// returns nil: the client gets 250 right after. ErrBusy (or an error
// wrapping it) says the sink is too far behind and stored nothing: the
// client gets 451 4.3.2 and tries again later.
type Sink interface {
	Accept(ctx context.Context, probes []*store.Probe) error
}

// ErrBusy is a Sink's refusal while it has too much to do.
var ErrBusy = errors.New("the tester is busy")

// Server is the SMTP server.
type Server struct {
	cfg  Config
	sink Sink
	smtp *smtp.Server
	// hourly counts each client network's messages this hour.
	hourly hourly
	// ln is the listener Listen bound, which Run serves and closes.
	ln net.Listener
}

// New makes a server; call Serve with a listener.
func New(cfg Config, sink Sink) *Server {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	def(&cfg.MaxRecipients, DefaultMaxRecipients)
	def(&cfg.MaxMessagesPerSession, DefaultMaxMessagesPerSession)
	def(&cfg.MaxMessagesPerNetHour, DefaultMaxMessagesPerNetHour)
	def(&cfg.MaxLineLength, DefaultMaxLineLength)
	def(&cfg.MaxConns, DefaultMaxConns)
	def(&cfg.MaxConnsPerIP, DefaultMaxConnsPerIP)
	def(&cfg.MaxConnsPerNet, max(DefaultMaxConnsPerNet, cfg.MaxConnsPerIP))
	if cfg.GreetingTimeout <= 0 {
		cfg.GreetingTimeout = min(DefaultGreetingTimeout, cfg.CommandTimeout)
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	cfg.HandshakeTimeout = min(cfg.HandshakeTimeout, cfg.CommandTimeout)
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Domain = strings.ToLower(strings.TrimSuffix(cfg.Domain, "."))
	if cfg.Hostname == "" {
		cfg.Hostname = cfg.Domain
	}
	s := &Server{cfg: cfg, sink: sink}
	srv := smtp.NewServer(s)
	srv.Domain = cfg.Hostname
	srv.TLSConfig = cfg.TLS
	srv.MaxMessageBytes = cfg.MaxMessageBytes
	srv.MaxRecipients = cfg.MaxRecipients
	srv.MaxLineLength = cfg.MaxLineLength
	srv.ReadTimeout = cfg.CommandTimeout
	srv.WriteTimeout = cfg.CommandTimeout
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slogAdapter{cfg.Logger}
	s.smtp = srv
	return s
}

// Listen binds addr for a server made by New; nothing is served until
// Run. A bind error is just an error; Close releases the listener of a
// server that never ran.
func Listen(addr string, cfg Config, sink Sink) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("smtp: %w", err)
	}
	s := New(cfg, sink)
	s.ln = ln
	return s, nil
}

// Addr is the bound address of a server made by Listen.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves the listener of Listen until ctx ends, then stops accepting
// and waits up to Config.ShutdownTimeout for the sessions in flight
// before closing them. It owns the listener: it closes it itself, so a
// stop that comes before go-smtp has registered the listener still ends
// the accept loop.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(s.ln) }()
	select {
	case err := <-errc:
		s.ln.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.smtp.Shutdown(sctx); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
		s.cfg.Logger.Warn("smtp shutdown: closing the sessions still in flight", "err", err)
		s.smtp.Close()
	}
	s.ln.Close()
	if err := <-errc; err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, smtp.ErrServerClosed) {
		return err
	}
	return nil
}

// Serve accepts connections on ln until Shutdown or Close.
func (s *Server) Serve(ln net.Listener) error {
	return s.smtp.Serve(&limitListener{Listener: ln, max: s.cfg.MaxConns, perIP: s.cfg.MaxConnsPerIP, perNet: s.cfg.MaxConnsPerNet,
		timeouts:   timeouts{command: s.cfg.CommandTimeout, greeting: s.cfg.GreetingTimeout, handshake: s.cfg.HandshakeTimeout, session: s.cfg.SessionTimeout},
		observe:    s.cfg.Observe,
		logger:     s.cfg.Logger,
		perIPCount: map[netip.Addr]int{}, perNetCount: map[netip.Prefix]int{}})
}

// Shutdown stops accepting and waits for sessions in flight, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.smtp.Shutdown(ctx) }

// Close closes the listener and every connection at once.
func (s *Server) Close() error {
	err := s.smtp.Close()
	if s.ln != nil {
		s.ln.Close()
	}
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// NewSession implements smtp.Backend; go-smtp calls it at EHLO or HELO.
func (s *Server) NewSession(c *smtp.Conn) (_ smtp.Session, err error) {
	sess := &session{srv: s, conn: c, ip: peerIP(c.Conn().RemoteAddr())}
	lc := limitConnOf(c)
	if lc != nil && lc.timedOut.Load() {
		return nil, errTimedOut
	}
	if lc != nil {
		sess.id = lc.session
	}
	if h := c.Hostname(); strings.ContainsFunc(h, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		defer s.observe(sess.id, "ehlo", &err)
		return nil, &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 5, 2}, Message: "bad characters in the EHLO name"}
	}
	if lc != nil {
		lc.greeted.Store(true)
	}
	return sess, nil
}

// observe reports the reply to command to Config.Observe, and logs it
// when it refuses: 250 for no error, the code of an SMTPError, 451 for any
// other error (go-smtp's answer to those is a 4xx or 5xx testerd did not
// choose; 451 keeps them apart from success).
func (s *Server) observe(session, command string, err *error) {
	code := 250
	var se *smtp.SMTPError
	switch {
	case *err == nil:
	case errors.As(*err, &se):
		code = se.Code
	default:
		code = 451
	}
	if code >= 400 {
		msg := (*err).Error()
		if se != nil {
			msg = se.Message
		}
		s.cfg.Logger.Info("smtp refused", "session", session, "command", command, "code", code, "reply", msg)
	}
	if s.cfg.Observe != nil {
		s.cfg.Observe(command, code)
	}
}

// limitConnOf finds the connection under go-smtp's (and TLS's) wrappers.
func limitConnOf(c *smtp.Conn) *limitConn {
	nc := c.Conn()
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	lc, _ := nc.(*limitConn)
	return lc
}

// peerIP is the client's address, IPv4-mapped IPv6 normalized to IPv4.
func peerIP(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// recipient is one accepted RCPT TO: the address as given, and as read
// (once, here: every later reader takes the probe's fields).
type recipient struct {
	addr string
	to   rcpt.Address
}

type session struct {
	id       string // the connection's, for the logs and the probes
	srv      *Server
	conn     *smtp.Conn
	ip       netip.Addr
	mailFrom string
	hasMail  bool
	// size is the message size MAIL FROM announced (SIZE=), 0 for none.
	size     int64
	rcpts    []recipient
	messages int // taken in this session
}

// hourly counts messages per client network in the current hour.
type hourly struct {
	mu    sync.Mutex
	hour  int64
	count map[netip.Prefix]int
}

// maxCounted bounds the networks counted in one hour.
const maxCounted = 100000

// take counts one message from n and reports whether it is within max.
func (h *hourly) take(n netip.Prefix, max int, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if hour := now.Unix() / 3600; hour != h.hour || h.count == nil {
		h.hour, h.count = hour, map[netip.Prefix]int{}
	}
	if _, ok := h.count[n]; !ok && len(h.count) >= maxCounted {
		return true // the map is full: networks seen before stay counted
	}
	if h.count[n] >= max {
		return false
	}
	h.count[n]++
	return true
}

func (s *session) Reset() {
	s.mailFrom, s.hasMail, s.rcpts = "", false, nil
}

func (s *session) Logout() error { return nil }

// errTimedOut refuses a command line the timeout cut short (limitConn):
// its connection is already closed, so no one reads the refusal.
var errTimedOut = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "timeout"}

// cut reports whether the connection timed out in a command line.
func (s *session) cut() bool {
	lc := limitConnOf(s.conn)
	return lc != nil && lc.timedOut.Load()
}

func (s *session) Mail(from string, opts *smtp.MailOptions) (err error) {
	defer s.srv.observe(s.id, "mail", &err)
	if s.cut() {
		return errTimedOut
	}
	if s.messages >= s.srv.cfg.MaxMessagesPerSession {
		return s.abort(421, smtp.EnhancedCode{4, 7, 0}, fmt.Sprintf("%d messages in one connection is the limit: open a new one", s.srv.cfg.MaxMessagesPerSession))
	}
	if !s.srv.hourly.take(netguard.ClientNet(s.ip), s.srv.cfg.MaxMessagesPerNetHour, s.srv.cfg.Now()) {
		return s.abort(421, smtp.EnhancedCode{4, 7, 0}, fmt.Sprintf("%d messages from your network this hour is the limit: try again later", s.srv.cfg.MaxMessagesPerNetHour))
	}
	s.messages++
	if strings.ContainsAny(from, "\r\n\x00") {
		return &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "bad characters in the sender address"}
	}
	s.mailFrom, s.hasMail = from, true
	s.size = 0
	if opts != nil {
		s.size = opts.Size
	}
	return nil
}

func (s *session) Rcpt(to string, opts *smtp.RcptOptions) (err error) {
	defer s.srv.observe(s.id, "rcpt", &err)
	if s.cut() {
		return errTimedOut
	}
	r, err := s.srv.route(to)
	if err != nil {
		return err
	}
	s.rcpts = append(s.rcpts, r)
	return nil
}

// TLSReportAddress is the local part that takes SMTP TLS reports (RFC
// 8460) beside rua@, for the _smtp._tls record's rua=mailto:.
const TLSReportAddress = "tlsrpt"

// route accepts the tester addresses and refuses everything else.
func (s *Server) route(to string) (recipient, error) {
	local, domain, ok := cutLast(to, "@")
	if !ok || !strings.EqualFold(strings.TrimSuffix(domain, "."), s.cfg.Domain) {
		return recipient{}, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
			Message: fmt.Sprintf("no such user: this tester takes mail for spf@, dkim@ and check@%s only, and relays nothing", s.cfg.Domain)}
	}
	base, ext, _ := strings.Cut(local, "+")
	// rua@, tlsrpt@ and the Config.ReportAddresses take DMARC aggregate
	// reports and SMTP TLS reports.
	switch k := kind.Kind(strings.ToLower(base)); k {
	case kind.SPF, kind.DKIM, kind.Check, kind.Postmaster, kind.Abuse, kind.Report:
		return recipient{addr: to, to: rcpt.Parse(k, ext)}, nil
	case kind.Bounce:
		// A forwarded bounce holds strangers' addresses: it is never
		// listed, like a private test of its own.
		a := rcpt.Parse(k, ext)
		if a.Private == "" {
			a.Private = rcpt.NewPrivate()
		}
		return recipient{addr: to, to: a}, nil
	}
	if strings.EqualFold(base, TLSReportAddress) {
		return recipient{addr: to, to: rcpt.Parse(kind.Report, ext)}, nil
	}
	for _, a := range s.cfg.ReportAddresses {
		if strings.EqualFold(a, base) {
			return recipient{addr: to, to: rcpt.Parse(kind.Report, ext)}, nil
		}
	}
	return recipient{}, &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
		Message: fmt.Sprintf("no such user: send your test to spf@, dkim@ or check@%s", s.cfg.Domain)}
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func (s *session) Data(r io.Reader) (err error) {
	defer s.srv.observe(s.id, "data", &err)
	if s.cut() {
		return errTimedOut
	}
	lc := limitConnOf(s.conn)
	if lc != nil {
		lc.inData.Store(true)
		defer lc.inData.Store(false)
	}
	raw, err := readData(r, s.size, int64(s.srv.cfg.MaxMessageBytes))
	if err != nil {
		switch {
		case errors.Is(err, smtp.ErrDataTooLarge):
			// go-smtp reads the rest up to the final dot: the stream stays
			// in step.
			return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4},
				Message: fmt.Sprintf("message too big: the limit is %d bytes", s.srv.cfg.MaxMessageBytes)}
		case errors.Is(err, smtp.ErrTooLongLine):
			return s.abort(500, smtp.EnhancedCode{5, 5, 2}, fmt.Sprintf("line too long: the limit is %d octets; closing the connection", s.srv.cfg.MaxLineLength))
		}
		// A timeout or a broken connection in the middle of the message:
		// nothing after this point can be read as commands.
		s.srv.cfg.Logger.Info("DATA aborted", "session", s.id, "client", s.ip, "err", err)
		return s.abort(421, smtp.EnhancedCode{4, 4, 2}, "no data for too long in DATA; closing the connection")
	}
	if n := longestLine(raw); n > s.srv.cfg.MaxLineLength {
		// BDAT chunks are not read by lines, so their lines are held to
		// the DATA limit here.
		return &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
			Message: fmt.Sprintf("line too long: %d octets, the limit is %d", n, s.srv.cfg.MaxLineLength)}
	}
	if bytes.IndexByte(raw, 0) >= 0 {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "the message contains NUL bytes, which SMTP does not allow"}
	}
	now := s.srv.cfg.Now().UTC()
	var tlsInfo *store.TLS
	if st, ok := s.conn.TLSConnectionState(); ok {
		tlsInfo = &store.TLS{Version: tls.VersionName(st.Version), Cipher: tls.CipherSuiteName(st.CipherSuite)}
	}
	probes := make([]*store.Probe, 0, len(s.rcpts))
	for _, rc := range s.rcpts {
		probes = append(probes, &store.Probe{ID: store.NewID(), Received: now, Address: rc.to, Recipient: rc.addr, ClientIP: s.ip, Helo: s.conn.Hostname(), MailFrom: s.mailFrom, TLS: tlsInfo, Size: len(raw), Raw: raw, Session: s.id})
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.srv.cfg.CommandTimeout)
	defer cancel()
	if err := s.srv.sink.Accept(ctx, probes); err != nil {
		if errors.Is(err, ErrBusy) {
			s.srv.cfg.Logger.Warn("probe refused: busy", "session", s.id, "client", s.ip)
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "the tester is busy judging other probes; try again in a minute"}
		}
		s.srv.cfg.Logger.Error("probe not stored", "session", s.id, "client", s.ip, "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "testerd could not store the message (its own failure); try again later"}
	}
	ids := make([]string, len(probes))
	for i, p := range probes {
		ids[i] = p.ID
	}
	s.srv.cfg.Logger.Info("probe accepted", "session", s.id, "client", s.ip, "mail_from", s.mailFrom, "ids", ids, "size", len(raw))
	return &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "stored as " + strings.Join(ids, " ")}
}

// abort answers a read error inside DATA and closes the connection, so
// the rest of the message is never taken for commands. The reply is
// written here because go-smtp would go on reading after its own.
func (s *session) abort(code int, ec smtp.EnhancedCode, msg string) error {
	nc := s.conn.Conn()
	nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(nc, "%d %d.%d.%d %s\r\n", code, ec[0], ec[1], ec[2], msg)
	nc.Close()
	return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
}

// longestLine is the longest line of b, without its line end.
func longestLine(b []byte) int {
	longest := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			i = len(b)
		}
		n := i
		if n > 0 && b[n-1] == '\r' {
			n--
		}
		longest = max(longest, n)
		b = b[min(i+1, len(b)):]
	}
	return longest
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Println(v ...any)               { a.l.Warn(fmt.Sprint(v...)) }

// dataBuffer is where DATA starts reading when MAIL FROM announced no
// size: most probes fit, so the message is read without regrowing.
const dataBuffer = 32 << 10

// maxUpfront bounds the buffer set aside for an announced size: a client
// that announces 10 MB and sends nothing holds 1 MB at most.
const maxUpfront = 1 << 20

// readData reads a message into one buffer sized by the SIZE that MAIL
// FROM announced, so a message is not copied again at each doubling as
// io.ReadAll would. The size is a stranger's word: what is set aside
// before the bytes arrive stays within max and maxUpfront.
func readData(r io.Reader, size, max int64) ([]byte, error) {
	n := int64(dataBuffer)
	if size > 0 {
		n = min(size+1024, max+1024, maxUpfront)
	}
	buf := bytes.NewBuffer(make([]byte, 0, n))
	_, err := buf.ReadFrom(r)
	return buf.Bytes(), err
}
