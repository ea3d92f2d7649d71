package rspamd

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestCheck: the answer is read, the symbols sorted by weight and put in
// their areas, and the envelope sent as rspamd's headers, a stranger's
// line breaks removed.
func TestCheck(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		if r.URL.Path != "/checkv2" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `{"is_skipped":false,"score":7.5,"required_score":15,"action":"add header",
			"symbols":{"R_SPF_ALLOW":{"name":"R_SPF_ALLOW","score":-0.2,"description":"SPF verification allows sending"},
			"URIBL_BLACK":{"name":"URIBL_BLACK","score":7.5,"description":"A domain in the message is listed","options":["spam.example"]},
			"MIME_GOOD":{"name":"MIME_GOOD","score":-0.1,"description":"Known content-type"},
			"RBL_SPAMHAUS_SBL":{"name":"RBL_SPAMHAUS_SBL","score":4,"description":"From address is listed"}},
			"messages":{"smtp_message":"spam"}}`)
	}))
	defer srv.Close()
	c := &Client{URL: srv.URL}
	rep := c.Check(context.Background(), []byte("Subject: x\r\n\r\nHi\r\n"), Envelope{IP: netip.MustParseAddr("192.0.2.1"),
		Helo: "mail.example\r\nX-Evil: 1", MailFrom: "a@example.com", Rcpt: "check@tester.example"})
	if rep.Failed() || rep.Score != 7.5 || rep.Reject != 15 || rep.Action != "add header" || rep.Message != "spam" {
		t.Fatalf("%+v", rep)
	}
	if got.Get("Helo") != "mail.exampleX-Evil: 1" || got.Get("X-Evil") != "" || got.Get("IP") != "192.0.2.1" || got.Get("Rcpt") != "check@tester.example" {
		t.Errorf("headers %v", got)
	}
	names := []string{}
	for _, s := range rep.Symbols {
		names = append(names, s.Name+":"+string(s.Area))
	}
	if strings.Join(names, " ") != "URIBL_BLACK:links RBL_SPAMHAUS_SBL:reputation R_SPF_ALLOW:authentication MIME_GOOD:content" {
		t.Errorf("symbols %v", names)
	}
	if g := rep.Groups(); len(g) != 4 || g[0].Area != Authentication || rep.ActionKey() != "spam.action.add-header" {
		t.Errorf("groups %+v, action %s", g, rep.ActionKey())
	}
	rep.Compare(Results{SPF: "fail", DKIM: "pass", DMARC: "pass"})
	if len(rep.Differences) != 1 || rep.Differences[0].Key != "spam.differ" {
		t.Errorf("differences %+v", rep.Differences)
	}
}

// TestFailures: every way of getting no opinion is the tester's failure,
// said as such, within the timeout.
func TestFailures(t *testing.T) {
	for name, tc := range map[string]struct {
		h   http.HandlerFunc
		key string
	}{
		"status":  {func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusInternalServerError) }, "spam.fail.status"},
		"garbage": {func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") }, "spam.fail.answer"},
		"skipped": {func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"is_skipped":true,"score":0}`) }, "spam.fail.skipped"},
		"huge": {func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"symbols":{"A":{"description":"`+strings.Repeat("x", MaxResponse)+`"}}}`)
		}, "spam.fail.answer"},
		"slow": {func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Second) // the client gives up at 300 ms
		}, "spam.fail.timeout"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			start := time.Now()
			rep := (&Client{URL: srv.URL, Timeout: 300 * time.Millisecond}).Check(context.Background(), []byte("x"), Envelope{})
			if rep.Failure.Key != tc.key || len(rep.Symbols) != 0 {
				t.Errorf("%+v", rep)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
	rep := (&Client{URL: "http://127.0.0.1:1"}).Check(context.Background(), []byte("x"), Envelope{})
	if rep.Failure.Key != "spam.fail.connect" {
		t.Errorf("closed port: %+v", rep)
	}
}
