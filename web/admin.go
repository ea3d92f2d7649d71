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

	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/store"
)

// Admin token rules.
const (
	// MinAdminToken is the shortest admin token testerd accepts.
	MinAdminToken = 16
	// A client address gets at most maxFailures wrong tokens in
	// failureWindow, and its network maxNetFailures; then every wrong try
	// is refused until the window has passed (a right token still
	// passes). Each wrong token also waits Server.FailureDelay
	// (DefaultFailureDelay) before its answer.
	maxFailures   = 5
	failureWindow = 10 * time.Minute
	// maxNetFailures bounds the wrong tokens of one client network in
	// failureWindow, and maxFailureEntries the addresses and networks
	// counted.
	maxNetFailures      = 20
	maxFailureEntries   = 10000
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

// failures counts wrong tokens per client address and per client network
// (/24, /64): one network's many addresses share maxNetFailures. Entries
// that block are never dropped to make room; when the table is full of
// them, a new client is counted only by its network's entry, if any.
type failures struct {
	mu sync.Mutex
	m  map[netip.Prefix][]time.Time // an address as a /32 or /128, or its network
}

// keys are the entries a client is counted under, and their limits.
func failureKeys(ip netip.Addr) [2]struct {
	p   netip.Prefix
	max int
} {
	return [2]struct {
		p   netip.Prefix
		max int
	}{{netip.PrefixFrom(ip, ip.BitLen()), maxFailures}, {netguard.ClientNet(ip), maxNetFailures}}
}

func (f *failures) recent(p netip.Prefix, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range f.m[p] {
		if now.Sub(t) < failureWindow {
			keep = append(keep, t)
		}
	}
	return keep
}

func (f *failures) blocked(ip netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	for _, k := range failureKeys(ip) {
		if len(f.recent(k.p, now)) >= k.max {
			return true
		}
	}
	return false
}

func (f *failures) add(ip netip.Addr) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[netip.Prefix][]time.Time{}
	}
	now := time.Now()
	for _, k := range failureKeys(ip) {
		if _, ok := f.m[k.p]; !ok && len(f.m) >= maxFailureEntries && !f.prune(now) {
			continue // full of entries that block: this one is not counted
		}
		f.m[k.p] = append(f.recent(k.p, now), now)
	}
}

// prune drops the entries with no recent failure, then, if none was, one
// that does not block; it reports whether it made room.
func (f *failures) prune(now time.Time) bool {
	n := len(f.m)
	for p := range f.m {
		if len(f.recent(p, now)) == 0 {
			delete(f.m, p)
		}
	}
	if len(f.m) < n {
		return true
	}
	for p := range f.m {
		max := maxFailures
		if p.Bits() < p.Addr().BitLen() {
			max = maxNetFailures
		}
		if len(f.recent(p, now)) < max {
			delete(f.m, p)
			return true
		}
	}
	return false
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
