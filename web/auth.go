package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/testerd/testerd/store"
)

// Tokens is what the web needs of the store's API tokens.
type Tokens interface {
	TokenBySecret(ctx context.Context, secret string) (*store.Token, error)
	Token(ctx context.Context, id string) (*store.Token, error)
	OwnTest(ctx context.Context, test, tokenID string) error
}

// AdminGrant is what the --admin-token (and a login with it) may do:
// everything, without a rate limit.
var AdminGrant = &store.Token{ID: "admin", Name: "--admin-token", Scopes: []store.Scope{store.ScopeAdmin}}

type grantKey struct{}

// grant is the request's grant: the admin's, an API token, or nil for
// anonymous.
func grant(r *http.Request) *store.Token {
	g, _ := r.Context().Value(grantKey{}).(*store.Token)
	return g
}

// admin reports whether the request may do everything.
func (s *Server) admin(r *http.Request) bool { return grant(r).Has(store.ScopeAdmin) }

// Errors of credentials.
var (
	errBadToken = errors.New("unknown token")
	errBlocked  = errors.New("too many wrong tokens from this address: wait 10 minutes")
	errRevoked  = errors.New("this token was revoked")
)

// check returns what a token (the admin token or an API token) grants,
// counting and slowing down unknown ones per client address and network.
// A valid token passes even from a blocked client (a stranger on a shared
// address cannot lock its owner out); a wrong one from a blocked client
// is refused as blocked, and not counted further.
func (s *Server) check(r *http.Request, tok string) (*store.Token, error) {
	client := s.clientIP(r)
	if s.AdminToken != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.AdminToken)) == 1 {
		return AdminGrant, nil
	}
	if s.Tokens != nil {
		t, err := s.Tokens.TokenBySecret(r.Context(), tok)
		switch {
		case err == nil:
			return t, nil
		case errors.Is(err, store.ErrRevoked):
			return nil, errRevoked
		case !errors.Is(err, store.ErrNotFound):
			return nil, err // the store's failure, not the caller's
		}
	}
	time.Sleep(s.failureDelay())
	if s.failures.blocked(client) {
		return nil, errBlocked
	}
	s.failures.add(client)
	return nil, errBadToken
}

func (s *Server) failureDelay() time.Duration {
	if s.FailureDelay > 0 {
		return s.FailureDelay
	}
	return DefaultFailureDelay
}

// authenticate finds each request's grant once, before any handler: a
// bearer token (refused at once when wrong, revoked or over its rate
// limit) or a login session.
func (s *Server) authenticate(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var g *store.Token
		// Only bearer credentials are testerd's: a proxy in front may
		// ask for Basic ones of its own, and those pass as anonymous.
		// The scheme is case-insensitive (RFC 9110 §11.1): bearer,
		// Bearer and BEARER all name it.
		if tok, ok := bearer(r.Header.Get("Authorization")); ok {
			var err error
			g, err = s.check(r, strings.TrimSpace(tok))
			switch {
			case errors.Is(err, errBadToken), errors.Is(err, errRevoked), errors.Is(err, errBlocked):
				authError(w, http.StatusUnauthorized, err.Error())
				return
			case err != nil:
				s.fail(w, err)
				return
			}
			if wait, ok := s.limits.allow(g); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
				apiError(w, http.StatusTooManyRequests, "this token's rate limit ("+strconv.Itoa(g.Rate)+" requests a minute) is reached: try again later")
				return
			}
		} else if c, err := r.Cookie(adminCookie); err == nil {
			g = s.sessionGrant(r.Context(), c.Value)
		}
		if g != nil {
			r = r.WithContext(context.WithValue(r.Context(), grantKey{}, g))
		}
		h.ServeHTTP(w, r)
	})
}

// bearer is the token of an Authorization header in the Bearer scheme.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return tok, true
}

func authError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="testerd"`)
	apiError(w, code, msg)
}

// need serves h only to a grant with scope: 401 without a token, 403
// with a token that lacks it.
func need(scope store.Scope, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g := grant(r)
		if g == nil {
			authError(w, http.StatusUnauthorized, "this needs a token with the "+string(scope)+" scope: send it as Authorization: Bearer TOKEN")
			return
		}
		if !g.Has(scope) {
			apiError(w, http.StatusForbidden, "this token lacks the "+string(scope)+" scope")
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r)
	}
}

// limits are the API tokens' rate limits, per token (the admin token has
// none).
type limits struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// allow takes one request from g's allowance; when there is none left it
// returns how long until there is.
func (l *limits) allow(g *store.Token) (time.Duration, bool) {
	if g == AdminGrant || g.Rate <= 0 {
		return 0, true
	}
	l.mu.Lock()
	if l.m == nil || len(l.m) > 10000 {
		l.m = map[string]*rate.Limiter{}
	}
	lim := l.m[g.ID]
	if lim == nil || lim.Burst() != g.Rate {
		lim = rate.NewLimiter(rate.Limit(float64(g.Rate)/60), g.Rate)
		l.m[g.ID] = lim
	}
	l.mu.Unlock()
	res := lim.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return d, false
	}
	return 0, true
}

// Protect serves h (another listener's, such as /metrics) only to a grant
// with scope, authenticated as the API is.
func (s *Server) Protect(scope store.Scope, h http.Handler) http.Handler {
	return s.authenticate(need(scope, h.ServeHTTP))
}

// sessionStore is where the sessions live: Sessions, or this process's
// memory.
func (s *Server) sessionStore() Sessions {
	if s.Sessions != nil {
		return s.Sessions
	}
	return &s.sessions
}

// grantName is how a session names its grant: an API token by its id,
// the admin by a hash of the admin token it signed in with (a new
// --admin-token ends the old one's sessions).
func (s *Server) grantName(g *store.Token) string {
	if g == AdminGrant {
		h := sha256.Sum256([]byte("testerd session\x00" + s.AdminToken))
		return "admin:" + hex.EncodeToString(h[:16])
	}
	return "token:" + g.ID
}

// startSession opens a session for g and returns its id, for the cookie.
func (s *Server) startSession(ctx context.Context, g *store.Token) (string, error) {
	var b [32]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	now := time.Now()
	return id, s.sessionStore().StartSession(ctx, id, s.grantName(g), now, now.Add(sessionAge))
}

// endSession ends the session id.
func (s *Server) endSession(ctx context.Context, id string) {
	if err := s.sessionStore().EndSession(ctx, id); err != nil {
		s.Logger.Error("ending a session", "err", err)
	}
}

// sessionGrant is a login session's grant, nil for none; an API token's
// session ends when the token is revoked, the admin's when the admin
// token changes.
func (s *Server) sessionGrant(ctx context.Context, id string) *store.Token {
	if len(id) != 64 {
		return nil
	}
	name, err := s.sessionStore().Session(ctx, id, time.Now())
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.Logger.Error("reading a session", "err", err)
		}
		return nil
	}
	if s.AdminToken != "" && name == s.grantName(AdminGrant) {
		return AdminGrant
	}
	tokenID, ok := strings.CutPrefix(name, "token:")
	if !ok || s.Tokens == nil {
		return nil
	}
	t, err := s.Tokens.Token(ctx, tokenID)
	if err != nil || !t.Revoked.IsZero() {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			s.endSession(ctx, id)
		}
		return nil
	}
	return t
}
