package webhook

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/rcpt"

	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/store"
)

func TestSignVerify(t *testing.T) {
	body := []byte(`{"event":"verdict"}`)
	now := time.Unix(1764600000, 0)
	h := Sign("whs_secret", now, body)
	if !strings.HasPrefix(h, "t=1764600000,v1=") {
		t.Fatalf("header %q", h)
	}
	if err := Verify("whs_secret", h, body, now.Add(time.Minute), DefaultTolerance); err != nil {
		t.Errorf("a good signature: %v", err)
	}
	for name, c := range map[string]struct {
		secret, header string
		body           []byte
		at             time.Time
	}{
		"other secret":  {"whs_other", h, body, now},
		"other body":    {"whs_secret", h, []byte(`{"event":"verdict","x":1}`), now},
		"replayed late": {"whs_secret", h, body, now.Add(10 * time.Minute)},
		"no v1":         {"whs_secret", "t=1764600000", body, now},
		"garbage":       {"whs_secret", "v1=abc,t=yesterday", body, now},
		"other time":    {"whs_secret", strings.Replace(h, "t=1764600000", "t=1764600001", 1), body, now},
	} {
		if err := Verify(c.secret, c.header, c.body, c.at, DefaultTolerance); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

type tokens map[string]*store.Token

func (ts tokens) Token(_ context.Context, id string) (*store.Token, error) {
	if t, ok := ts[id]; ok {
		return t, nil
	}
	return nil, store.ErrNotFound
}

// TestPost: one attempt against a real HTTP server, each answer
// classified, and the address guard.
func TestPost(t *testing.T) {
	var got struct {
		sig, event, delivery string
		body                 []byte
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.sig, got.event, got.delivery = r.Header.Get(SignatureHeader), r.Header.Get(EventHeader), r.Header.Get(DeliveryHeader)
		got.body, _ = io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusNoContent)
		case "/busy":
			http.Error(w, "try later", http.StatusServiceUnavailable)
		case "/slow-down":
			w.WriteHeader(http.StatusTooManyRequests)
		case "/moved":
			http.Redirect(w, r, "http://169.254.169.254/", http.StatusFound)
		default:
			http.Error(w, "no such hook\r\nInjected: yes", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	ts := tokens{}
	for _, path := range []string{"/ok", "/busy", "/slow-down", "/moved", "/gone"} {
		ts[path] = &store.Token{ID: path, Webhook: srv.URL + path, WebhookSecret: "whs_" + path}
	}
	ts["revoked"] = &store.Token{ID: "revoked", Webhook: srv.URL + "/ok", WebhookSecret: "x", Revoked: time.Now()}
	p := &Poster{Tokens: ts, AllowPrivate: true}
	post := func(tokenID, url string) (*outbound.Delivery, error) {
		return p.Post(context.Background(), &store.Outgoing{ID: "d1", Channel: store.Webhook, TokenID: tokenID, Rcpt: url, Data: []byte(`{"event":"verdict"}`)})
	}

	d, err := post("/ok", srv.URL+"/ok")
	if err != nil || d.Relay == "" {
		t.Fatalf("2xx: %+v %v", d, err)
	}
	if err := Verify("whs_/ok", got.sig, got.body, time.Now(), DefaultTolerance); err != nil || got.event != "verdict" || got.delivery != "d1" {
		t.Errorf("the request's signature %q event %q delivery %q: %v", got.sig, got.event, got.delivery, err)
	}
	for _, c := range []struct {
		token, url string
		permanent  bool
		says       string
	}{
		{"/busy", srv.URL + "/busy", false, "503"},
		{"/slow-down", srv.URL + "/slow-down", false, "429"},
		{"/moved", srv.URL + "/moved", true, "302"},
		{"/gone", srv.URL + "/gone", true, "404 Not Found: no such hook"},
		{"revoked", srv.URL + "/ok", true, "revoked"},
		{"nosuch", srv.URL + "/ok", true, "gone"},
		{"/ok", srv.URL + "/elsewhere", true, "changed"},
	} {
		_, err := post(c.token, c.url)
		var e *outbound.Error
		if !errors.As(err, &e) || e.Permanent != c.permanent || !strings.Contains(err.Error(), c.says) || strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("%s: %v, want permanent=%v saying %q", c.url, err, c.permanent, c.says)
		}
	}

	guarded := &Poster{Tokens: ts}
	_, err = guarded.Post(context.Background(), &store.Outgoing{ID: "d2", TokenID: "/ok", Rcpt: srv.URL + "/ok", Data: []byte("{}")})
	var e *outbound.Error
	if !errors.As(err, &e) || !e.Permanent || !strings.Contains(err.Error(), "--webhook-allow-private") {
		t.Errorf("a loopback webhook without AllowPrivate: %v", err)
	}
}

func TestVerdictEvent(t *testing.T) {
	tag := rcpt.NewPrivate()
	pr := &store.Probe{Address: rcpt.Parse("check", "it+"+tag), ID: "abc", Received: time.Now()}
	b, err := VerdictEvent("https://tester.example", pr, nil, []byte(`{"tags":[]}`), time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"result_id":"abc"`, `"private_test":"` + tag + `"`, `"url":"https://tester.example/r/abc"`, `"tags":[]`, `"verdict":{"tags":[]}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("event %s lacks %s", b, want)
		}
	}
}

func BenchmarkVerdictEvent(b *testing.B) {
	pr := &store.Probe{Address: rcpt.Address{Kind: "check"}, ID: "abc", Received: time.Now()}
	verdict := []byte(`{"tags":["|OK| spf-pass"],"spf":{"result":"pass","trace":"` + strings.Repeat("x", 20<<10) + `"}}`)
	b.SetBytes(int64(len(verdict)))
	for b.Loop() {
		if _, err := VerdictEvent("https://t.example", pr, []string{"|OK| spf-pass"}, verdict, time.Now(), false); err != nil {
			b.Fatal(err)
		}
	}
}
