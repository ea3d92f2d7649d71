package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Admin token rules.
const (
	// MinAdminToken is the shortest admin token testerd accepts.
	MinAdminToken = 16
	// A client gets at most maxFailures wrong tokens in failureWindow;
	// then every try is refused until the window has passed. Each wrong
	// token also waits failureDelay before its answer.
	maxFailures   = 5
	failureWindow = 10 * time.Minute
	failureDelay  = 500 * time.Millisecond
	// sessionAge is how long a login lasts; maxSessions bounds them.
	sessionAge  = 7 * 24 * time.Hour
	maxSessions = 1000
)

// admin reports whether the request carries the admin token (bearer) or
// a live session. A wrong bearer token counts as a failure like a wrong
// form login.
func (s *Server) admin(r *http.Request) bool {
	if s.AdminToken == "" {
		return false
	}
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return s.checkToken(nil, r, strings.TrimSpace(tok))
	}
	if c, err := r.Cookie(adminCookie); err == nil {
		return s.sessions.valid(c.Value)
	}
	return false
}

// checkToken compares a token with the admin token, counting and slowing
// down failures per client; a client over the limit is refused whatever
// it sends.
func (s *Server) checkToken(w http.ResponseWriter, r *http.Request, tok string) bool {
	client := s.clientIP(r)
	if s.failures.blocked(client) {
		time.Sleep(failureDelay)
		return false
	}
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.AdminToken)) == 1 {
		return true
	}
	s.failures.add(client)
	time.Sleep(failureDelay)
	return false
}

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
	m  map[string]time.Time // id → expiry
}

func (s *sessions) start() string {
	var b [32]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]time.Time{}
	}
	now := time.Now()
	for k, exp := range s.m {
		if now.After(exp) || len(s.m) >= maxSessions {
			delete(s.m, k)
		}
	}
	s.m[id] = now.Add(sessionAge)
	return id
}

func (s *sessions) valid(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.m[id]
	return ok && time.Now().Before(exp)
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}
