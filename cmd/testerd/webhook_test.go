package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/testerd/testerd/webhook"
)

// receiver is an in-process webhook receiver that verifies each request's
// signature; it answers 500 to its first request, to be retried.
type receiver struct {
	secret string
	mu     sync.Mutex
	tries  int
	events []webhook.Event
	bodies [][]byte
	bad    []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tries++
	if rc.tries == 1 {
		http.Error(w, "not yet", http.StatusInternalServerError)
		return
	}
	if err := webhook.Verify(rc.secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), webhook.DefaultTolerance); err != nil {
		rc.bad = append(rc.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var e webhook.Event
	if err := json.Unmarshal(body, &e); err != nil {
		rc.bad = append(rc.bad, err.Error())
	}
	rc.events = append(rc.events, e)
	rc.bodies = append(rc.bodies, body)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) got() ([]webhook.Event, int, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]webhook.Event(nil), rc.events...), rc.tries, append([]string(nil), rc.bad...)
}

// TestWebhooks: a token that made a private test gets that test's verdict,
// a results token gets every verdict, each signed and verified by the
// receiver, retried after a failure, and never twice.
func TestWebhooks(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.WebhookAllowPrivate, c.Out.Backoff = probeDNS(t), true, 100*time.Millisecond
	owner, all := &receiver{}, &receiver{}
	ownerSrv, allSrv := httptest.NewServer(owner), httptest.NewServer(all)
	defer ownerSrv.Close()
	defer allSrv.Close()
	var secret string
	_, secret, owner.secret = addToken(t, c.DataDir, "--name", "ci", "--scopes", "tests", "--webhook", ownerSrv.URL+"/hook")
	_, _, all.secret = addToken(t, c.DataDir, "--name", "monitor", "--scopes", "results", "--webhook", allSrv.URL+"/all")
	smtpAddr, httpAddr := startServeWith(t, c)
	base := "http://" + httpAddr

	req, _ := http.NewRequest("POST", base+"/api/tests", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var test struct {
		Token     string            `json:"token"`
		Addresses map[string]string `json:"addresses"`
	}
	json.NewDecoder(resp.Body).Decode(&test)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || test.Token == "" {
		t.Fatalf("POST /api/tests with a tests token: %s", resp.Status)
	}
	if err := sendProbe(smtpAddr, test.Addresses["check"], probeMessage(t, "hooked", "Joe <joe@abc.it>"), false); err != nil {
		t.Fatal(err)
	}
	if err := sendProbe(smtpAddr, "spf@"+probeDomain, probeMessage(t, "public", "Joe <joe@abc.it>"), false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, httpAddr, func() bool {
		o, _, _ := owner.got()
		a, _, _ := all.got()
		return len(o) == 1 && len(a) == 2
	}, func() string {
		o, ot, ob := owner.got()
		a, at, ab := all.got()
		return fmt.Sprintf("webhooks: owner %d events in %d tries %v; all %d in %d tries %v", len(o), ot, ob, len(a), at, ab)
	})
	o, tries, bad := owner.got()
	if len(bad) > 0 || tries != 2 {
		t.Errorf("owner's receiver: %d tries, refused %v", tries, bad)
	}
	e := o[0]
	if e.Event != "verdict" || e.PrivateTest != test.Token || len(e.Tags) == 0 || e.Kind != "check" || !bytes.Contains(e.Verdict, []byte(`"tags"`)) {
		t.Errorf("the owner's event: %+v", e)
	}
	if code, _ := call(t, "GET", base+"/r/"+e.ResultID, ""); code != http.StatusOK {
		t.Errorf("the event's result %s: %d", e.ResultID, code)
	}
	if a, _, _ := all.got(); a[0].ResultID == a[1].ResultID {
		t.Errorf("the results token got one verdict twice: %s", a[0].ResultID)
	}
	// The body is the VerdictEvent that openapi.json documents.
	comp, _ := openAPICompiler(t)
	sch, err := comp.Compile("openapi.json#/components/schemas/VerdictEvent")
	if err != nil {
		t.Fatal(err)
	}
	owner.mu.Lock()
	body := owner.bodies[0]
	owner.mu.Unlock()
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err := sch.Validate(v); err != nil {
		t.Errorf("the webhook's body is not a VerdictEvent: %v", err)
	}
}
