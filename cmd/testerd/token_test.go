package main

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// addToken runs "testerd token add" on dir and returns the token's id and
// secret (and the webhook secret, if any).
func addToken(t *testing.T, dir string, args ...string) (id, secret, webhookSecret string) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(append([]string{"token", "add", "--data-dir", dir}, args...), nil, &out, &errb); code != 0 {
		t.Fatalf("token add %v: exit %d: %s", args, code, errb.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "id":
			id = f[1]
		case "token":
			secret = f[1]
		case "secret":
			webhookSecret = f[1]
		}
	}
	if id == "" || secret == "" {
		t.Fatalf("token add printed %q", out.String())
	}
	return id, secret, webhookSecret
}

// TestTokenScopes: every endpoint that needs a scope serves a token with
// it and refuses one without (403), no token (401) and a revoked token
// (401); the admin token keeps working; a token's rate limit holds.
func TestTokenScopes(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.AdminToken, c.PublicLists = probeDNS(t), "s3cret-admin-token", false
	_, httpAddr := startServeWith(t, c)
	base := "http://" + httpAddr

	creds := map[string]string{"none": "", "admin token": c.AdminToken}
	for _, sc := range []string{"results", "tests", "reports", "admin"} {
		_, creds[sc], _ = addToken(t, c.DataDir, "--name", sc+" token", "--scopes", sc)
	}
	revokedID, revoked, _ := addToken(t, c.DataDir, "--name", "gone", "--scopes", "results,tests,reports,admin")
	var out bytes.Buffer
	if code := run([]string{"token", "revoke", "--data-dir", c.DataDir, revokedID}, nil, &out, &out); code != 0 {
		t.Fatalf("token revoke: %s", out.String())
	}
	creds["revoked"] = revoked

	// What a request gets when authorised: anything but 401, 403 and the
	// login redirect (404 for an unknown id is fine).
	endpoints := []struct {
		method, path, scope string
		anonymous           int // what no token gets
	}{
		{"GET", "/api/results", "results", http.StatusUnauthorized},
		{"GET", "/check", "results", http.StatusForbidden},
		{"POST", "/api/tests", "tests", http.StatusCreated},
		{"GET", "/api/reports", "reports", http.StatusUnauthorized},
		{"GET", "/api/reports/abc.it", "reports", http.StatusUnauthorized},
		{"GET", "/reports", "reports", http.StatusSeeOther},
		{"GET", "/api/mail", "admin", http.StatusUnauthorized},
		{"GET", "/mail", "admin", http.StatusSeeOther},
		{"POST", "/api/results/nosuchid/reanalyze", "admin", http.StatusUnauthorized},
	}
	for _, e := range endpoints {
		for who, tok := range creds {
			code, body := call(t, e.method, base+e.path, tok)
			var want string
			switch {
			case who == "none":
				if code != e.anonymous {
					want = http.StatusText(e.anonymous)
				}
			case who == "revoked":
				if code != http.StatusUnauthorized || !strings.Contains(body, "revoked") {
					want = "401 saying revoked"
				}
			case who == e.scope || who == "admin" || who == "admin token":
				if code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusSeeOther {
					want = "served"
				}
			case strings.HasPrefix(e.path, "/api/"):
				if code != http.StatusForbidden || !strings.Contains(body, e.scope+" scope") {
					want = "403 naming the scope"
				}
			default: // a page: a token without the scope gets what no token gets
				if code != e.anonymous {
					want = http.StatusText(e.anonymous)
				}
			}
			if want != "" {
				t.Errorf("%s %s with %s: %d %.120q, want %s", e.method, e.path, who, code, body, want)
			}
		}
	}

	if code, _ := call(t, "GET", base+"/api/results", "tdk_notatoken"); code != http.StatusUnauthorized {
		t.Errorf("an unknown token: %d", code)
	}
	out.Reset()
	run([]string{"token", "list", "--data-dir", c.DataDir}, nil, &out, &out)
	if !strings.Contains(out.String(), revokedID) || strings.Contains(out.String(), creds["results"]) || strings.Contains(out.String(), "tdk_") {
		t.Errorf("token list:\n%s", out.String())
	}

	// A proxy's own Basic credentials are not testerd's: anonymous.
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.SetBasicAuth("proxy", "user")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("a page with Basic credentials: %v %v", resp.Status, err)
	} else {
		resp.Body.Close()
	}

	// A reports token logs in to the report pages; revoking it ends the
	// session.
	loginID, loginSecret, _ := addToken(t, c.DataDir, "--scopes", "reports")
	resp, err := noRedirects.PostForm(base+"/login", url.Values{"token": {loginSecret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		session = ck
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("login with a reports token: %s", resp.Status)
	}
	page := func() int {
		req, _ := http.NewRequest("GET", base+"/reports", nil)
		req.AddCookie(session)
		resp, err := noRedirects.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := page(); code != http.StatusOK {
		t.Errorf("/reports in a reports token's session: %d", code)
	}
	run([]string{"token", "revoke", "--data-dir", c.DataDir, loginID}, nil, &out, &out)
	if code := page(); code != http.StatusSeeOther {
		t.Errorf("/reports after the token was revoked: %d, want the login redirect", code)
	}

	_, slow, _ := addToken(t, c.DataDir, "--scopes", "results", "--rate", "2")
	for i := range 2 {
		if code, _ := call(t, "GET", base+"/api/results", slow); code != http.StatusOK {
			t.Fatalf("request %d within the rate: %d", i+1, code)
		}
	}
	req, _ = http.NewRequest("GET", base+"/api/results", nil)
	req.Header.Set("Authorization", "Bearer "+slow)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the rate: %s, Retry-After %q", resp.Status, resp.Header.Get("Retry-After"))
	}
	for i := range 3 { // the admin token has no rate limit
		if code, _ := call(t, "GET", base+"/api/results", c.AdminToken); code != http.StatusOK {
			t.Fatalf("admin request %d: %d", i+1, code)
		}
	}
}

// TestTokenCommand: bad arguments are refused before the store is touched.
func TestTokenCommand(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"add", "--scopes", "bogus"},
		{"add"},
		{"add", "--scopes", "results", "--rate", "0"},
		{"add", "--scopes", "results", "--webhook", "ftp://x.example/"},
		{"add", "--scopes", "results", "--webhook", "https://user:pw@x.example/"},
		{"revoke"},
		{"frob"},
	} {
		var out bytes.Buffer
		if code := run(append(append([]string{"token"}, args[0], "--data-dir", dir), args[1:]...), nil, &out, &out); code != 2 {
			t.Errorf("token %v: exit %d, want 2: %s", args, code, out.String())
		}
	}
}
