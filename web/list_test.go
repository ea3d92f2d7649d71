package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/rcpt"

	"github.com/testerd/testerd/store"
)

// TestListBounds: the public list shows what the HTML list shows (the
// sender masked; no HELO, recipient or verdict), stops at its byte budget
// with a next link, and the pages together hold every result once; the
// admin token gets the full records.
func TestListBounds(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	verdict := []byte(`{"padding":"` + strings.Repeat("x", 10000) + `"}`)
	base := time.Now().Add(-time.Hour)
	for i := range 20 {
		p := &store.Probe{Address: rcpt.Parse("spf", "ann=victim.example"), ID: store.NewID(), Received: base.Add(time.Duration(i) * time.Second), Recipient: "spf+ann=victim.example@t",
			ClientIP: netip.MustParseAddr("192.0.2.1"), Helo: "secret-helo.example", MailFrom: "joe@abc.it", Raw: []byte("x")}
		if err := st.SaveProbes(ctx, []*store.Probe{p}); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveVerdict(ctx, &store.Verdict{ProbeID: p.ID, Judged: time.Now(), Tags: []string{"|OK| spf-pass"}, JSON: verdict}); err != nil {
			t.Fatal(err)
		}
	}
	s := &Server{Store: st, Domain: "t", Reports: st, AdminToken: "a-long-enough-admin-token-0123456789"}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	s.listBytes = 30000

	get := func(path string, admin bool) (map[string]json.RawMessage, []map[string]any) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if admin {
			req.Header.Set("Authorization", "Bearer "+s.AdminToken)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]json.RawMessage
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var results []map[string]any
		json.Unmarshal(body["results"], &results)
		return body, results
	}

	body, results := get("/api/results?limit=500", false)
	raw, _ := json.Marshal(results)
	for _, leak := range []string{"secret-helo", "victim.example", "joe@abc.it", "padding"} {
		if strings.Contains(string(raw), leak) {
			t.Errorf("the public list shows %q", leak)
		}
	}
	if len(results) != 20 || results[0]["mail_from"] != "j***@abc.it" {
		t.Errorf("public list: %d results, first %v", len(results), results[0])
	}
	if _, ok := body["next"]; ok {
		t.Error("a next link on a list that is complete")
	}

	seen := map[string]bool{}
	pages := 0
	for path := "/api/results?limit=500"; path != ""; pages++ {
		if pages > 20 {
			t.Fatal("the pages do not end")
		}
		body, results := get(path, true)
		if len(body["results"]) > s.listBytes+1000 {
			t.Errorf("a page of %d bytes, over the budget", len(body["results"]))
		}
		for _, r := range results {
			id := r["id"].(string)
			if seen[id] {
				t.Errorf("%s twice", id)
			}
			seen[id] = true
			if r["verdict"] == nil {
				t.Error("the admin list has no verdict")
			}
		}
		path = ""
		if next, ok := body["next"]; ok {
			json.Unmarshal(next, &path)
		}
	}
	if len(seen) != 20 || pages < 5 {
		t.Errorf("%d results in %d pages", len(seen), pages)
	}
}

// TestStaticNoListing: /static/ serves files, never a directory listing.
func TestStaticNoListing(t *testing.T) {
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer((&Server{Store: st, Domain: "t"}).Handler())
	defer srv.Close()
	for path, want := range map[string]int{"/static/": 404, "/static/style.css": 200} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}
