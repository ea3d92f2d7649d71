package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/outbound/mxtest"
)

const ourName = "mx.tester.example"

var msg = &Message{To: "joe@rcpt.example", Data: []byte("From: a@tester.example\r\nSubject: hi\r\n\r\nHello.\r\n")}

// world is two MX hosts for rcpt.example on 127.0.0.2 and 127.0.0.3 (same
// port), with STARTTLS, and a DNS server that knows them.
type world struct {
	mx1, mx2 *mxtest.Server
	zone     *dnsx.Zone
	direct   *Direct
}

func newWorld(t *testing.T, opts mxtest.Options) *world {
	t.Helper()
	w := &world{zone: dnsx.NewZone()}
	opts.Addr = "127.0.0.2:0"
	var err error
	if w.mx1, err = mxtest.Start(opts); err != nil {
		t.Skipf("cannot listen on 127.0.0.2 (loopback aliases needed): %v", err)
	}
	t.Cleanup(func() { w.mx1.Close() })
	_, port, _ := net.SplitHostPort(w.mx1.Addr)
	opts.Addr = "127.0.0.3:" + port
	if w.mx2, err = mxtest.Start(opts); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.mx2.Close() })

	z := w.zone
	z.AddMX("rcpt.example", 20, "mx2.rcpt.example")
	z.AddMX("rcpt.example", 10, "mx1.rcpt.example")
	z.AddIP("mx1.rcpt.example", netip.MustParseAddr("127.0.0.2"))
	z.AddIP("mx2.rcpt.example", netip.MustParseAddr("127.0.0.3"))
	z.AddMX("one.example", 10, "mx1.rcpt.example")
	z.AddIP("nomx.example", netip.MustParseAddr("127.0.0.3"))
	z.AddMX("nullmx.example", 0, ".")
	z.AddMX("servfail.example", 10, "mx1.rcpt.example")
	z.Fail("servfail.example", dns.TypeMX, dnsx.ServFail)
	srv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	res, err := dnsx.NewClient(srv.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w.direct = &Direct{Resolver: res, Hostname: ourName, Port: port, AllowPrivate: true}
	return w
}

func tlsServer(t *testing.T) *tls.Config {
	cert, _, err := mxtest.Cert("mx.test")
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

func refuse(code int, stage mxtest.Stage) func(mxtest.Stage) error {
	return func(s mxtest.Stage) error {
		if s == stage {
			return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: "told to refuse"}
		}
		return nil
	}
}

func TestDirectDelivery(t *testing.T) {
	w := newWorld(t, mxtest.Options{TLS: tlsServer(t)})
	d, err := w.direct.Deliver(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	got := w.mx1.Messages()
	if len(got) != 1 || len(w.mx2.Messages()) != 0 {
		t.Fatalf("mx1 got %d, mx2 %d; want the preferred MX only", len(got), len(w.mx2.Messages()))
	}
	r := got[0]
	if r.MailFrom != "" || r.Helo != ourName || r.Rcpt[0] != msg.To || string(r.Data) != string(msg.Data) {
		t.Errorf("received %+v", r)
	}
	if r.TLS != tls.VersionTLS13 || d.TLS != "TLS 1.3" {
		t.Errorf("TLS: server saw %x, delivery says %q", r.TLS, d.TLS)
	}
	if !strings.HasPrefix(d.Relay, "mx1.rcpt.example [127.0.0.2:") {
		t.Errorf("relay %q", d.Relay)
	}
}

func TestDirectFallsBackToNextMX(t *testing.T) {
	for _, stage := range []mxtest.Stage{mxtest.Mail, mxtest.Rcpt, mxtest.Data} {
		w := newWorld(t, mxtest.Options{})
		w.mx1.Refuse = refuse(421, stage)
		if _, err := w.direct.Deliver(context.Background(), msg); err != nil {
			t.Fatalf("%s 421: %v", stage, err)
		}
		if len(w.mx2.Messages()) != 1 {
			t.Errorf("%s 421 at mx1: mx2 got %d messages", stage, len(w.mx2.Messages()))
		}
	}
	// A dead first MX: the second one takes the message.
	w := newWorld(t, mxtest.Options{})
	w.mx1.Close()
	if _, err := w.direct.Deliver(context.Background(), msg); err != nil || len(w.mx2.Messages()) != 1 {
		t.Fatalf("mx1 down: err %v, mx2 got %d", err, len(w.mx2.Messages()))
	}
}

func TestDirectFailures(t *testing.T) {
	w := newWorld(t, mxtest.Options{})
	w.mx1.Refuse = refuse(550, mxtest.Rcpt)
	_, err := w.direct.Deliver(context.Background(), msg)
	wantErr(t, err, true, "550")
	if len(w.mx2.Messages()) != 0 {
		t.Error("a 550 from mx1 must not be retried at mx2")
	}

	for _, c := range []struct {
		to        string
		permanent bool
		want      string
	}{
		{"a@nullmx.example", true, "null MX (RFC 7505)"},
		{"a@nxdomain.example", true, "does not exist (NXDOMAIN)"},
		{"a@servfail.example", false, "looking up the MX"},
		{"nodomain", true, "has no domain"},
		{"a@bad_domain..example", true, "not a valid domain name"},
	} {
		_, err := w.direct.Deliver(context.Background(), &Message{To: c.to, Data: msg.Data})
		wantErr(t, err, c.permanent, c.want)
	}

	w.direct.AllowPrivate = false
	_, err = w.direct.Deliver(context.Background(), msg)
	wantErr(t, err, false, "not public")
	// An IPv4-mapped 0.0.0.0 reaches this host: refused like the rest.
	w.zone.AddMX("mapped.example", 10, "mx.mapped.example")
	w.zone.AddIP("mx.mapped.example", netip.MustParseAddr("::ffff:0.0.0.0"))
	w.zone.AddIP("mx.mapped.example", netip.MustParseAddr("100.64.0.1"))
	_, err = w.direct.Deliver(context.Background(), &Message{To: "a@mapped.example", Data: msg.Data})
	wantErr(t, err, false, "not public")
}

func TestDirectImplicitMX(t *testing.T) {
	w := newWorld(t, mxtest.Options{})
	if _, err := w.direct.Deliver(context.Background(), &Message{To: "a@nomx.example", Data: msg.Data}); err != nil {
		t.Fatal(err)
	}
	if len(w.mx2.Messages()) != 1 {
		t.Fatal("no MX: the A record of the domain itself should have received the message")
	}
}

// A server that offers STARTTLS but cannot complete the handshake gets
// the message in plain text, as opportunistic TLS allows; one without
// STARTTLS too.
func TestDirectOpportunisticTLS(t *testing.T) {
	old := tlsServer(t)
	old.MaxVersion = tls.VersionTLS11 // Go's client refuses below TLS 1.2
	w := newWorld(t, mxtest.Options{TLS: old})
	d, err := w.direct.Deliver(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if d.TLS != "" || len(w.mx1.Messages()) != 1 || w.mx1.Messages()[0].TLS != 0 {
		t.Fatalf("after a failed handshake: TLS %q, %d messages", d.TLS, len(w.mx1.Messages()))
	}
	w = newWorld(t, mxtest.Options{})
	if d, err = w.direct.Deliver(context.Background(), msg); err != nil || d.TLS != "" {
		t.Fatalf("no STARTTLS: %v, TLS %q", err, d.TLS)
	}
}

func wantErr(t *testing.T, err error, permanent bool, substr string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *Error", err, err)
	}
	if e.Permanent != permanent || !strings.Contains(e.Error(), substr) {
		t.Errorf("error %q (permanent %v), want permanent %v and %q", e, e.Permanent, permanent, substr)
	}
}

func TestSmarthost(t *testing.T) {
	cert, pool, err := mxtest.Cert("relay.test")
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	clientTLS := &tls.Config{RootCAs: pool}
	users := map[string]string{"testerd": "s3cret"}

	for _, implicit := range []bool{false, true} {
		relay, err := mxtest.Start(mxtest.Options{TLS: serverTLS, Implicit: implicit})
		if err != nil {
			t.Fatal(err)
		}
		relay.Users = users
		mode := RequireStartTLS
		if implicit {
			mode = Implicit
		}
		// The certificate names 127.0.0.1 too, so it verifies.
		sh := &Smarthost{Addr: relay.Addr, Hostname: ourName, TLS: mode, TLSConfig: clientTLS,
			Username: "testerd", Password: "s3cret"}
		d, err := sh.Deliver(context.Background(), msg)
		if err != nil {
			t.Fatalf("implicit=%v: %v", implicit, err)
		}
		got := relay.Messages()
		if len(got) != 1 || got[0].User != "testerd" || got[0].TLS != tls.VersionTLS13 || d.TLS != "TLS 1.3" {
			t.Fatalf("implicit=%v: received %+v, delivery %+v", implicit, got, d)
		}

		sh.Password = "wrong"
		_, err = sh.Deliver(context.Background(), msg)
		wantErr(t, err, false, "AUTH")
		relay.Close()
	}

	// STARTTLS required but not offered; an unverifiable certificate.
	plain, err := mxtest.Start(mxtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	sh := &Smarthost{Addr: plain.Addr, Hostname: ourName, TLS: RequireStartTLS, TLSConfig: clientTLS}
	_, err = sh.Deliver(context.Background(), msg)
	wantErr(t, err, false, "does not offer STARTTLS")

	untrusted, err := mxtest.Start(mxtest.Options{TLS: serverTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer untrusted.Close()
	sh = &Smarthost{Addr: untrusted.Addr, Hostname: ourName, TLS: RequireStartTLS, TLSConfig: &tls.Config{}}
	_, err = sh.Deliver(context.Background(), msg)
	wantErr(t, err, false, "certificate")

	// A local relay in plain text, but never with a password.
	sh = &Smarthost{Addr: plain.Addr, Hostname: ourName, TLS: NoTLS}
	if _, err := sh.Deliver(context.Background(), msg); err != nil || len(plain.Messages()) != 1 {
		t.Fatalf("plain relay: %v", err)
	}
	sh.Username = "x"
	_, err = sh.Deliver(context.Background(), msg)
	wantErr(t, err, true, "without TLS")
}

// A 5xx to EHLO or a greeting refusal is the server's, not the
// message's: the next server is tried.
func TestClassify(t *testing.T) {
	if e := classify("h", &setupError{"EHLO", &smtp.SMTPError{Code: 554, Message: "go away"}}); e.Permanent {
		t.Error("a 554 before MAIL must be temporary")
	}
	if e := classify("h", &smtp.SMTPError{Code: 552, Message: "too big\nreally"}); !e.Permanent || e.Error() != "permanent: h: 552 too big really" {
		t.Errorf("got %q", e)
	}
}
