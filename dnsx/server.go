package dnsx

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/miekg/dns"
)

// Server serves a Zone over the DNS protocol, UDP and TCP on one loopback
// port, so end-to-end tests exercise the real Client. Queries for names
// failed with Kind Timeout get no answer at all; UDP answers larger than
// the client's EDNS0 size (512 without EDNS0) are truncated, which makes
// the client retry over TCP.
type Server struct {
	Zone *Zone

	udp, tcp *dns.Server
	addr     string
	queries  atomic.Int64
	tcpSeen  atomic.Int64
}

// StartServer starts serving z on 127.0.0.1 at a free port.
func StartServer(z *Zone) (*Server, error) {
	return StartServerAt(z, "127.0.0.1:0")
}

// StartServerAt is StartServer on a given address, UDP and TCP; with port
// 0 a free port is picked.
func StartServerAt(z *Zone, addr string) (*Server, error) {
	s := &Server{Zone: z}
	var pc net.PacketConn
	var l net.Listener
	var err error
	// The TCP listener must get the same port as the UDP socket; retry if
	// another process holds it.
	for range 10 {
		pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("dns test server: %w", err)
		}
		l, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("dns test server: %w", err)
	}
	s.addr = pc.LocalAddr().String()
	h := dns.HandlerFunc(s.serve)
	var wg sync.WaitGroup
	wg.Add(2)
	s.udp = &dns.Server{PacketConn: pc, Handler: h, NotifyStartedFunc: wg.Done}
	s.tcp = &dns.Server{Listener: l, Handler: h, NotifyStartedFunc: wg.Done}
	errc := make(chan error, 2)
	go func() { errc <- s.udp.ActivateAndServe() }()
	go func() { errc <- s.tcp.ActivateAndServe() }()
	started := make(chan struct{})
	go func() { wg.Wait(); close(started) }()
	select {
	case <-started:
	case err := <-errc:
		s.Close()
		return nil, fmt.Errorf("dns test server: %w", err)
	}
	return s, nil
}

// Addr returns "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Queries returns how many questions the server received (UDP and TCP).
func (s *Server) Queries() int64 { return s.queries.Load() }

// TCPQueries returns how many of them came over TCP.
func (s *Server) TCPQueries() int64 { return s.tcpSeen.Load() }

// Close stops the server.
func (s *Server) Close() error {
	return errors.Join(s.udp.Shutdown(), s.tcp.Shutdown())
}

func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	s.queries.Add(1)
	_, isTCP := w.RemoteAddr().(*net.TCPAddr)
	if isTCP {
		s.tcpSeen.Add(1)
	}
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	if len(r.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	ans, kind := s.Zone.answer(q.Name, q.Qtype)
	m.AuthenticatedData = s.Zone.isSecure(q.Name)
	switch kind {
	case Timeout:
		return // say nothing: the client times out
	case NXDomain:
		m.Rcode = dns.RcodeNameError
	case ServFail, BadName:
		m.Rcode = dns.RcodeServerFailure
	case Refused:
		m.Rcode = dns.RcodeRefused
	}
	for _, rr := range ans {
		m.Answer = append(m.Answer, dns.Copy(rr))
	}
	if !isTCP {
		size := dns.MinMsgSize
		if opt := r.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// DeadAddr returns a loopback UDP address that nothing listens on, for
// tests of a resolver that is down (questions to it are refused at once).
// The port may be taken again later, so StartServerAt can bring the
// resolver back.
func DeadAddr() (string, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer pc.Close()
	return pc.LocalAddr().String(), nil
}
