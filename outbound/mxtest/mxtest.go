// Package mxtest is a receiving SMTP server on loopback, for the tests of
// outbound delivery: it stands in for a recipient's MX host or for a
// smarthost, records every message it accepts with its envelope, EHLO
// name and TLS, and can be told to refuse with any reply.
package mxtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Received is one accepted message.
type Received struct {
	Helo     string
	MailFrom string
	Rcpt     []string
	Data     []byte
	TLS      uint16 // TLS version, 0 without TLS
	User     string // AUTH PLAIN user, if any
}

// Stage names the command a Refuse function is asked about.
type Stage string

// Stages.
const (
	Mail Stage = "MAIL"
	Rcpt Stage = "RCPT"
	Data Stage = "DATA"
)

// Server is one receiving server.
type Server struct {
	Addr string
	// Refuse, if set, is asked at each stage; a non-nil *smtp.SMTPError
	// is the reply.
	Refuse func(Stage) error
	// Users, if set, enables AUTH PLAIN with these user → password.
	Users map[string]string
	// Hang, if set, blocks each DATA (after reading the message) until
	// it is closed; Hanging receives a value when one blocks.
	Hang    chan struct{}
	Hanging chan struct{}

	srv  *smtp.Server
	mu   sync.Mutex
	got  []Received
	seen chan struct{}
}

// Options of Start.
type Options struct {
	// Addr to listen on; "127.0.0.1:0" when empty.
	Addr string
	// TLS enables STARTTLS (or, with Implicit, TLS from the start).
	TLS      *tls.Config
	Implicit bool
}

// Start listens and serves until Close.
func Start(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	s := &Server{seen: make(chan struct{}, 1000), Hanging: make(chan struct{}, 100)}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "mx.test"
	s.srv.AllowInsecureAuth = false
	s.srv.ReadTimeout, s.srv.WriteTimeout = 30*time.Second, 30*time.Second
	s.srv.TLSConfig = o.TLS
	var ln net.Listener
	var err error
	if o.Implicit {
		ln, err = tls.Listen("tcp", o.Addr, o.TLS)
	} else {
		ln, err = net.Listen("tcp", o.Addr)
	}
	if err != nil {
		return nil, err
	}
	s.Addr = ln.Addr().String()
	go s.srv.Serve(ln)
	return s, nil
}

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Messages returns what was accepted so far.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

// Wait waits for the next accepted message, up to d.
func (s *Server) Wait(d time.Duration) bool {
	select {
	case <-s.seen:
		return true
	case <-time.After(d):
		return false
	}
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	r := Received{Helo: c.Hostname()}
	if st, ok := c.TLSConnectionState(); ok {
		r.TLS = st.Version
	}
	return &session{s: s, r: r, c: c}, nil
}

type session struct {
	s *Server
	c *smtp.Conn
	r Received
}

func (ss *session) refuse(st Stage) error {
	if ss.s.Refuse != nil {
		return ss.s.Refuse(st)
	}
	return nil
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.Users == nil {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if want, ok := ss.s.Users[user]; !ok || want != pass {
			return errors.New("invalid credentials")
		}
		ss.r.User = user
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.Users != nil && ss.r.User == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	if st, ok := ss.c.TLSConnectionState(); ok { // after STARTTLS
		ss.r.TLS = st.Version
	}
	ss.r.Helo = ss.c.Hostname()
	ss.r.MailFrom = from
	return ss.refuse(Mail)
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.refuse(Rcpt); err != nil {
		return err
	}
	ss.r.Rcpt = append(ss.r.Rcpt, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.Hang != nil {
		ss.s.Hanging <- struct{}{}
		<-ss.s.Hang
	}
	if err := ss.refuse(Data); err != nil {
		return err
	}
	ss.r.Data = b
	ss.s.mu.Lock()
	ss.s.got = append(ss.s.got, ss.r)
	ss.s.mu.Unlock()
	ss.s.seen <- struct{}{}
	return nil
}

func (ss *session) Reset()        { ss.r.MailFrom, ss.r.Rcpt, ss.r.Data = "", nil, nil }
func (ss *session) Logout() error { return nil }

// Cert returns a self-signed certificate for the names, and a pool that
// trusts it, for tests of verified TLS.
func Cert(names ...string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool, nil
}
