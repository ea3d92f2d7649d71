package web

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/testerd/testerd/store"
)

// Admin token rules.
const (
	// MinAdminToken is the shortest admin token testerd accepts.
	MinAdminToken = 16
	// A client gets at most maxFailures wrong tokens in failureWindow;
	// then every try is refused until the window has passed. Each wrong
	// token also waits Server.FailureDelay (DefaultFailureDelay) before
	// its answer.
	maxFailures         = 5
	failureWindow       = 10 * time.Minute
	DefaultFailureDelay = 500 * time.Millisecond
	// sessionAge is how long a login lasts; maxSessions bounds them.
	sessionAge  = 7 * 24 * time.Hour
	maxSessions = 1000
)

// clientIP is the request's client: the peer, or the address a trusted
// proxy reports in X-Forwarded-For.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	ip = ip.Unmap()
	if s.trusted(ip) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if fwd, err := netip.ParseAddr(strings.TrimSpace(parts[len(parts)-1])); err == nil {
				return fwd.Unmap()
			}
		}
	}
	return ip
}

func (s *Server) trusted(ip netip.Addr) bool {
	for _, p := range s.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// secure says whether the browser reached us over HTTPS: directly, or
// through a trusted proxy that says so.
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	ip, _ := netip.ParseAddr(host)
	return s.trusted(ip.Unmap()) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// failures counts wrong tokens per client.
type failures struct {
	mu sync.Mutex
	m  map[netip.Addr][]time.Time
}

func (f *failures) recent(ip netip.Addr, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range f.m[ip] {
		if now.Sub(t) < failureWindow {
			keep = append(keep, t)
		}
	}
	return keep
}

func (f *failures) blocked(ip netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.recent(ip, time.Now())) >= maxFailures
}

func (f *failures) add(ip netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil || len(f.m) > 10000 {
		f.m = map[netip.Addr][]time.Time{}
	}
	now := time.Now()
	f.m[ip] = append(f.recent(ip, now), now)
}

// sessions are the logins of the admin pages: random ids, kept in memory,
// revocable one by one (logout) and all at once (a restart).
type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

type session struct {
	grant   *store.Token
	expires time.Time
}

func (s *sessions) start(grant *store.Token) string {
	var b [32]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]session{}
	}
	now := time.Now()
	for k, se := range s.m {
		if now.After(se.expires) || len(s.m) >= maxSessions {
			delete(s.m, k)
		}
	}
	s.m[id] = session{grant: grant, expires: now.Add(sessionAge)}
	return id
}

// grant is the session's grant, nil for none or an expired one.
func (s *sessions) grant(id string) *store.Token {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[id]
	if !ok || time.Now().After(se.expires) {
		return nil
	}
	return se.grant
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}
