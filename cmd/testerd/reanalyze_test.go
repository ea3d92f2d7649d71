package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/store"
)

// TestReanalyze: the admin API and testerd reanalyze judge a stored probe
// again, the page shows the verdict it replaced, and no second reply is
// queued.
func TestReanalyze(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.AdminToken = probeDNS(t), "s3cret-admin-token"
	smtpAddr, httpAddr := startServeWith(t, c)
	if err := sendProbe(smtpAddr, "spf@"+probeDomain, probeMessage(t, "again", "Joe <joe@abc.it>"), false); err != nil {
		t.Fatal(err)
	}
	id := waitJudged(t, httpAddr, "spf", 1).Results[0].ID
	replyOf := func() string {
		var r struct {
			Reply *struct {
				ID string `json:"id"`
			} `json:"reply"`
		}
		getJSON(t, "http://"+httpAddr+"/api/results/"+id, &r)
		if r.Reply == nil {
			return ""
		}
		return r.Reply.ID
	}
	reply := replyOf()

	// As an older testerd might have judged it: the verdict re-analysis
	// replaces, and keeps.
	old, err := store.Open(context.Background(), filepath.Join(c.DataDir, "testerd.db"))
	if err != nil {
		t.Fatal(err)
	}
	err = old.SaveVerdict(context.Background(), &store.Verdict{ProbeID: id, Judged: time.Now().Add(-time.Hour), Tags: []string{"!! spf-fail !!"},
		FromDomain: "abc.it", JSON: []byte(`{"version":0,"tags":["!! spf-fail !!"]}`)})
	old.Close()
	if err != nil {
		t.Fatal(err)
	}

	post := func(token string) (int, string) {
		t.Helper()
		return call(t, "POST", "http://"+httpAddr+"/api/results/"+id+"/reanalyze", token)
	}
	if code, _ := post(""); code != http.StatusUnauthorized {
		t.Errorf("reanalyze without the token: %d, want 401", code)
	}
	code, body := post(c.AdminToken)
	var got struct {
		Tags         []string `json:"tags"`
		PreviousTags []string `json:"previous_tags"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("reanalyze: %d %s", code, body)
	}
	if strings.Join(got.Tags, " ") != "|OK| spf-pass" || strings.Join(got.PreviousTags, " ") != "!! spf-fail !!" {
		t.Errorf("reanalyze: %+v", got)
	}
	var r struct {
		PreviousJudged string `json:"previous_judged"`
	}
	getJSON(t, "http://"+httpAddr+"/api/results/"+id, &r)
	if r.PreviousJudged == "" {
		t.Error("the result does not say when its previous verdict was made")
	}
	if now := replyOf(); now != reply {
		t.Errorf("the reply changed from %q to %q", reply, now)
	}
	if page := get(t, "http://"+httpAddr+"/r/"+id); !strings.Contains(page, `id="previous"`) || !strings.Contains(page, "Judged again on") || !strings.Contains(page, "spf-fail") {
		t.Error("the result page does not show the previous verdict")
	}
	if code, _ := func() (int, string) { id = "nosuchid"; return post(c.AdminToken) }(); code != http.StatusNotFound {
		t.Errorf("reanalyze of an unknown id: %d, want 404", code)
	}

	// The command, beside the running server on the same data directory.
	var out, errOut bytes.Buffer
	if code := run([]string{"reanalyze", "--data-dir", c.DataDir, "--resolver", c.Resolver, "--since", "1h"}, nil, &out, &errOut); code != 0 {
		t.Fatalf("testerd reanalyze: exit %d, %s %s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "1 probes judged again, 0 with other tags, 0 not judged") {
		t.Errorf("testerd reanalyze: %s", out.String())
	}
}
