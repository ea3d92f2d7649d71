package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/store"
)

// TestAdminGuard: wrong tokens are throttled per client on the bearer
// path as on the form; sessions are random, survive only until logout,
// and logout takes a POST; behind a trusted proxy the cookie is Secure
// and the forwarded client is the one throttled.
func TestAdminGuard(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const token = "a-long-enough-admin-token-0123456789"
	s := &Server{Store: st, Domain: "t", FailureDelay: time.Millisecond, Reports: st, AdminToken: token, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	bearer := func(tok, client string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/api/reports", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range maxFailures {
		if code := bearer("guess", "203.0.113.5"); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if code := bearer("guess", "203.0.113.5"); code != http.StatusUnauthorized {
		t.Errorf("a 6th guess: %d, want refused", code)
	}
	// The right token passes, even from the blocked address: a stranger
	// sharing it cannot lock its owner out.
	if code := bearer(token, "203.0.113.5"); code != http.StatusOK {
		t.Errorf("the right token after %d failures: %d, want it through", maxFailures, code)
	}
	// A network's many addresses share a limit.
	for i := range maxNetFailures {
		bearer("guess", fmt.Sprintf("198.51.100.%d", 10+i))
	}
	if s.failures.blocked(netip.MustParseAddr("198.51.100.200")) != true {
		t.Errorf("%d guesses from one /24 did not block its other addresses", maxNetFailures)
	}
	if s.failures.blocked(netip.MustParseAddr("198.51.101.1")) {
		t.Error("a guess blocked the next /24")
	}
	// Filling the table with one-guess addresses does not free the
	// blocked ones.
	for i := range maxFailureEntries + 50 {
		s.failures.add(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
	}
	if !s.failures.blocked(netip.MustParseAddr("203.0.113.5")) {
		t.Error("a full table freed a blocked address")
	}
	// The scheme is case-insensitive.
	lower, _ := http.NewRequest("GET", srv.URL+"/api/reports", nil)
	lower.Header.Set("Authorization", "bearer "+token)
	if resp, err := http.DefaultClient.Do(lower); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("Authorization: bearer (lower case): %v", err)
	} else {
		resp.Body.Close()
	}

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == adminCookie {
			session = c
		}
	}
	if session == nil || !session.Secure || len(session.Value) != 64 || strings.Contains(session.Value, token) {
		t.Fatalf("session cookie %+v", session)
	}
	page := func() int {
		resp, err := client.Get(srv.URL + "/reports")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := page(); code != http.StatusOK {
		t.Fatalf("/reports with the session: %d", code)
	}
	if resp, _ := client.Get(srv.URL + "/logout"); resp.StatusCode == http.StatusSeeOther {
		t.Error("GET /logout logged out")
	}
	resp, err = client.Post(srv.URL+"/logout", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The old cookie value no longer opens anything, even if kept.
	req, _ = http.NewRequest("GET", srv.URL+"/reports", nil)
	req.AddCookie(&http.Cookie{Name: adminCookie, Value: session.Value})
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the session after logout: %d, want the login form", resp.StatusCode)
	}
}
