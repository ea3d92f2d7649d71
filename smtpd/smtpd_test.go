package smtpd_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/smtpd"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

const domain = "tester.example"

// sink is the small fake the protocol tests hand probes to, as go-smtp's
// own tests use a fake backend: it keeps what it accepts, in order.
type sink struct {
	mu     sync.Mutex
	probes []*store.Probe
	more   chan struct{}
}

func (k *sink) Accept(_ context.Context, ps []*store.Probe) error {
	k.mu.Lock()
	k.probes = append(k.probes, ps...)
	k.mu.Unlock()
	select {
	case k.more <- struct{}{}:
	default:
	}
	return nil
}

type env struct {
	addr string
	sink *sink
}

// start runs the SMTP server on loopback, handing probes to a sink.
func start(t *testing.T, cfg smtpd.Config) *env {
	t.Helper()
	return startOn(t, cfg, "127.0.0.1:0")
}

func startOn(t *testing.T, cfg smtpd.Config, listen string) *env {
	t.Helper()
	cert, err := smtpd.LoadOrCreateCert(t.TempDir(), domain)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Domain, cfg.TLS = domain, &tls.Config{Certificates: []tls.Certificate{cert}}
	e := &env{sink: &sink{more: make(chan struct{}, 1)}}
	srv, err := smtpd.Listen(listen, cfg, e.sink)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", listen, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("smtpd.Run: %v", err)
		}
	})
	e.addr = srv.Addr().String()
	return e
}

// stored is what the sink accepted so far.
func (e *env) stored(t *testing.T) []*store.Probe {
	e.sink.mu.Lock()
	defer e.sink.mu.Unlock()
	return append([]*store.Probe(nil), e.sink.probes...)
}

// wait returns the probes once the sink has n.
func (e *env) wait(t *testing.T, n int) []*store.Probe {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if got := e.stored(t); len(got) >= n {
			return got
		}
		select {
		case <-e.sink.more:
		case <-deadline:
			t.Fatalf("%d of %d probes after 10s", len(e.stored(t)), n)
		}
	}
}

func signed(t *testing.T, subject string) string {
	msg := "From: Joe <joe@abc.it>\r\nTo: dkim@" + domain + "\r\nSubject: " + subject + "\r\nMessage-ID: <" + subject + "@abc.it>\r\n\r\nHello.\r\n"
	sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: dkimtest.Ed25519("smtpd")})
	if err != nil {
		t.Fatal(err)
	}
	return sig + msg
}

// send delivers one message with go-smtp's client and returns the DATA
// reply error (nil for 250).
func send(t *testing.T, addr string, startTLS bool, from string, to []string, msg string) error {
	t.Helper()
	var c *smtp.Client
	var err error
	if startTLS {
		c, err = smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		c, err = smtp.Dial(addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("mail.abc.it"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func TestProbes(t *testing.T) {
	e := start(t, smtpd.Config{})
	if err := send(t, e.addr, true, "joe@abc.it", []string{"DKIM+it+Tag@" + domain}, signed(t, "tls")); err != nil {
		t.Fatal(err)
	}
	if err := send(t, e.addr, false, "joe@abc.it", []string{"spf@" + domain, "check@" + domain}, signed(t, "plain")); err != nil {
		t.Fatal(err)
	}
	list := e.wait(t, 3)
	if len(list) != 3 {
		t.Fatalf("%d probes", len(list))
	}
	for i, k := range []kind.Kind{kind.DKIM, kind.SPF, kind.Check} {
		r := list[i]
		if r.Kind != k || r.ClientIP.String() != "127.0.0.1" || r.Helo != "mail.abc.it" || r.MailFrom != "joe@abc.it" || len(r.ID) != 26 ||
			!bytes.Contains(r.Raw, []byte("Subject: ")) || r.Size != len(r.Raw) || r.Session == "" {
			t.Errorf("probe %d: %+v", i, r)
		}
	}
	// The recipient is read once, here: kind, language and tag.
	if a := list[0].Address; a.Kind != kind.DKIM || a.Extension != "it+Tag" || a.Lang != i18n.IT || a.Tag != "Tag" || list[0].Recipient != "DKIM+it+Tag@"+domain {
		t.Errorf("recipient read as %+v (%q)", a, list[0].Recipient)
	}
	if list[0].TLS == nil || list[0].TLS.Version != "TLS 1.3" || list[1].TLS != nil {
		t.Errorf("TLS facts: %+v, %+v", list[0].TLS, list[1].TLS)
	}
	// One transaction's probes share the message and the session.
	if !bytes.Equal(list[1].Raw, list[2].Raw) || list[1].Session != list[2].Session || list[0].Session == list[1].Session {
		t.Errorf("sessions %q %q %q", list[0].Session, list[1].Session, list[2].Session)
	}
}

func TestRecipients(t *testing.T) {
	e := start(t, smtpd.Config{ReportAddresses: []string{"dmarc-reports"}})
	for _, tt := range []struct {
		rcpt string
		code int
	}{
		{"spf@" + domain, 250}, {"Check@TESTER.example", 250}, {"postmaster@" + domain, 250}, {"dkim+x=y.z@" + domain, 250},
		{"rua@" + domain, 250}, {"rua+customer1@" + domain, 250}, {"DMARC-Reports+x@" + domain, 250}, {"dmarc@" + domain, 550},
		{"joe@" + domain, 550}, {"spf@example.com", 550}, {"spf@" + domain + ".evil.com", 550}, {"spf", 501},
	} {
		c, err := smtp.Dial(e.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Hello("client.example")
		c.Mail("a@abc.it", nil)
		err = c.Rcpt(tt.rcpt, nil)
		code := 250
		if se, ok := err.(*smtp.SMTPError); ok {
			code = se.Code
			if code == 550 && se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
				t.Errorf("%s: enhanced code %v", tt.rcpt, se.EnhancedCode)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", tt.rcpt, err)
		}
		if code != tt.code {
			t.Errorf("RCPT %s: %d, want %d", tt.rcpt, code, tt.code)
		}
		c.Close()
	}
}

// raw runs a scripted session over a plain socket and returns the server's
// replies.
func raw(t *testing.T, addr, script string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
		close(done)
	}()
	c.Write([]byte(script))
	if tc, ok := c.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	<-done
	return out.String()
}

func TestHostileSessions(t *testing.T) {
	e := start(t, smtpd.Config{MaxMessageBytes: 64 << 10, MaxRecipients: 3, MaxLineLength: 2000, MaxConnsPerIP: 20})
	env := "EHLO h.example\r\nMAIL FROM:<a@abc.it>\r\nRCPT TO:<spf@" + domain + ">\r\nDATA\r\n"
	tests := []struct {
		name   string
		script string
		want   string
	}{
		{"oversized message", env + "Subject: big\r\n\r\n" + strings.Repeat(strings.Repeat("x", 998)+"\r\n", 70) + ".\r\nQUIT\r\n", "552 5.3.4"},
		{"overlong line", env + "Subject: long\r\n\r\n" + strings.Repeat("y", 5000) + "\r\n.\r\nQUIT\r\n", "500 5.4.0 Too long line"},
		{"too many recipients", "EHLO h\r\nMAIL FROM:<a@abc.it>\r\n" + strings.Repeat("RCPT TO:<spf@"+domain+">\r\n", 4) + "QUIT\r\n", "452 4.5.3"},
		{"NUL bytes", env + "Subject: nul\r\n\r\na\x00b\r\n.\r\nQUIT\r\n", "554 5.6.0"},
		{"bare LF", env + "Subject: lf\n\nbody with bare LF\nand a lone dot line\n.\nthen the end\r\n.\r\nQUIT\r\n", "250 2.0.0 stored as"},
		{"8-bit headers", env + "Subject: caf\xc3\xa9 \xff\r\nFrom: J\xc3\xb6e <joe@abc.it>\r\n\r\nbody\r\n.\r\nQUIT\r\n", "250 2.0.0 stored as"},
		{"pipelined garbage", "EHLO h\r\n\x01\x02garbage\r\nMAIL FROM:<\r\nRCPT TO:<x>\r\nDATA\r\nQUIT\r\n", "221"},
		{"HTTP request", "GET / HTTP/1.1\r\nHost: tester.example\r\n\r\n", "500 5.5.2"},
		{"DATA without RCPT", "EHLO h\r\nMAIL FROM:<a@abc.it>\r\nDATA\r\nQUIT\r\n", "502 5.5.1"},
		{"CR/LF in MAIL FROM", "EHLO h\r\nMAIL FROM:<a\rb@abc.it>\r\nQUIT\r\n", "221"},
	}
	var wg sync.WaitGroup
	for _, tt := range tests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got := raw(t, e.addr, tt.script); !strings.Contains(got, tt.want) {
				t.Errorf("%s: replies lack %q:\n%s", tt.name, tt.want, got)
			}
		}()
	}
	// Meanwhile a normal probe goes through.
	if err := send(t, e.addr, false, "joe@abc.it", []string{"spf@" + domain}, signed(t, "meanwhile")); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	e.wait(t, 3) // the normal probe, bare LF and 8-bit headers
}

func TestConnectionLimits(t *testing.T) {
	e := start(t, smtpd.Config{MaxConnsPerIP: 2, SessionTimeout: time.Second})
	var conns []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		bufio.NewReader(c).ReadString('\n') // the greeting
		conns = append(conns, c)
	}
	if got := raw(t, e.addr, ""); !strings.HasPrefix(got, "421 4.7.0") {
		t.Errorf("third connection: %q", got)
	}
	// The session timeout closes the first two; then connecting works.
	for _, c := range conns {
		// The session's end is also every read's deadline, so go-smtp may
		// say 421 first; either way the connection ends.
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(c)
		l, err := r.ReadString('\n')
		if err == nil && strings.HasPrefix(l, "421") {
			_, err = r.ReadString('\n')
		}
		if err == nil || isTimeout(err) {
			t.Errorf("a connection outlived the session timeout (%q, %v)", l, err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if got := raw(t, e.addr, "QUIT\r\n"); !strings.HasPrefix(got, "220 ") {
		t.Errorf("after the timeout: %q", fmt.Sprint(got))
	}
}

// TestEHLO: the extensions the issue lists are advertised.
func TestEHLO(t *testing.T) {
	e := start(t, smtpd.Config{})
	got := raw(t, e.addr, "EHLO client.example\r\nQUIT\r\n")
	for _, ext := range []string{"SIZE 10485760", "8BITMIME", "PIPELINING", "SMTPUTF8", "ENHANCEDSTATUSCODES", "STARTTLS"} {
		if !strings.Contains(got, "250-"+ext+"\n") && !strings.Contains(got, "250 "+ext+"\n") {
			t.Errorf("EHLO lacks %s:\n%s", ext, got)
		}
	}
}

// TestIPv6Client: over IPv6 the client IP is the peer's IPv6 address.
func TestIPv6Client(t *testing.T) {
	e := startOn(t, smtpd.Config{}, "[::1]:0")
	if err := send(t, e.addr, false, "joe@abc.it", []string{"spf@" + domain}, signed(t, "v6")); err != nil {
		t.Fatal(err)
	}
	if list := e.wait(t, 1); list[0].ClientIP.String() != "::1" {
		t.Fatalf("client IP %s", list[0].ClientIP)
	}
}

// busySink refuses every probe as a judging backlog would.
type busySink struct{}

func (busySink) Accept(context.Context, []*store.Probe) error {
	return fmt.Errorf("pool: %w", smtpd.ErrBusy)
}

// TestBusy: a sink that is too far behind gets the client a temporary
// 451 4.3.2, so a real MTA queues the message and tries again.
func TestBusy(t *testing.T) {
	srv, err := smtpd.Listen("127.0.0.1:0", smtpd.Config{Domain: domain}, busySink{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Run(ctx)
	c, err := smtp.Dial(srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.SendMail("joe@abc.it", []string{"spf@" + domain}, strings.NewReader("From: joe@abc.it\r\nSubject: x\r\n\r\nhi\r\n"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 2}) || !strings.Contains(se.Message, "busy") {
		t.Errorf("%v, want 451 4.3.2 busy", err)
	}
}

// TestSessionLog: one log line per session decision, each with the
// connection's session id, which the stored probes carry too.
func TestSessionLog(t *testing.T) {
	var buf syncBuffer
	e := start(t, smtpd.Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err := send(t, e.addr, false, "joe@abc.it", []string{"spf@" + domain, "check@" + domain}, signed(t, "logged")); err != nil {
		t.Fatal(err)
	}
	if err := send(t, e.addr, false, "joe@abc.it", []string{"nobody@" + domain}, signed(t, "refused")); err == nil {
		t.Fatal("nobody@ accepted")
	}
	list := e.wait(t, 2)
	if len(list) != 2 || list[0].Session == "" || list[0].Session != list[1].Session {
		t.Fatalf("sessions of one transaction's probes: %+v", list)
	}
	logs := buf.String()
	for _, want := range []string{
		"msg=\"smtp connect\" session=" + list[0].Session,
		"msg=\"probe accepted\" session=" + list[0].Session,
		"msg=\"smtp refused\" session=",
		"command=rcpt code=550",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the log:\n%s", want, logs)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
