package web

import (
	"context"
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

// Sessions keeps the login sessions of the pages, each under a random id
// (the cookie) with the grant it carries, named by grantName. The store
// keeps them for every node and across restarts; memSessions keeps them
// in one process.
type Sessions interface {
	StartSession(ctx context.Context, id, grant string, now, expires time.Time) error
	// Session is the grant of a live session; store.ErrNotFound for
	// none, an ended or an expired one.
	Session(ctx context.Context, id string, now time.Time) (string, error)
	EndSession(ctx context.Context, id string) error
}

// memSessions are sessions in memory, for a server without a store that
// keeps them: at most maxSessions, the expired ones dropped first.
type memSessions struct {
	mu sync.Mutex
	m  map[string]memSession
}

type memSession struct {
	grant   string
	expires time.Time
}

func (s *memSessions) StartSession(_ context.Context, id, grant string, now, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]memSession{}
	}
	for k, se := range s.m {
		if now.After(se.expires) || len(s.m) >= maxSessions {
			delete(s.m, k)
		}
	}
	s.m[id] = memSession{grant: grant, expires: expires}
	return nil
}

func (s *memSessions) Session(_ context.Context, id string, now time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[id]
	if !ok || now.After(se.expires) {
		return "", store.ErrNotFound
	}
	return se.grant, nil
}

func (s *memSessions) EndSession(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
	return nil
}
