package unsubscribe

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestTry: each answer an unsubscribe endpoint gives, from in-process
// HTTPS servers: 204 works; a redirect to a page, a GET-only endpoint, an
// error and silence are each named; the POST is RFC 8058's.
func TestTry(t *testing.T) {
	var body, ctype string
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		body, ctype = string(b), r.Header.Get("Content-Type")
		if r.Method != http.MethodPost {
			http.Error(w, "post", http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://shop.example/unsubscribed?x=1", http.StatusFound)
	})
	mux.HandleFunc("/get-only", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "no", http.StatusMethodNotAllowed)
		}
	})
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) { time.Sleep(time.Second) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	tr := &Trier{AllowPrivate: true, Timeout: 300 * time.Millisecond, TLS: &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}}
	for path, want := range map[string]Outcome{"/ok": Works, "/page": Redirect, "/get-only": NoPost, "/broken": Refused, "/slow": Timeout} {
		r := tr.Try(context.Background(), srv.URL+path)
		if r.Outcome != want {
			t.Errorf("%s: %+v, want %s", path, r, want)
		}
		if want == Redirect && r.Location != "https://shop.example/unsubscribed?x=1" {
			t.Errorf("redirect location %q", r.Location)
		}
	}
	if body != "List-Unsubscribe=One-Click" || ctype != "application/x-www-form-urlencoded" {
		t.Errorf("POST %q as %q", body, ctype)
	}
	if r := tr.Try(context.Background(), "http://plain.example/u"); r.Outcome != Unreachable {
		t.Errorf("plain http: %+v", r)
	}
}

// TestNotPublic: without AllowPrivate, a URL whose host is this machine
// (or any non-public address) is never contacted.
func TestNotPublic(t *testing.T) {
	hit := false
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer srv.Close()
	tr := &Trier{Timeout: time.Second}
	for _, u := range []string{srv.URL + "/u", strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/u", "https://[::1]:1/u", "https://10.0.0.1:1/u"} {
		if r := tr.Try(context.Background(), u); r.Outcome != NotPublic {
			t.Errorf("%s: %+v", u, r)
		}
	}
	if hit {
		t.Error("the guard let a request through")
	}
}
