package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestPrivateTests: POST /api/tests gives addresses whose results show at
// the test's page and API and never on the lists; with
// --public-lists=false the lists are for the admin only.
func TestPrivateTests(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.AdminToken, c.PublicLists = probeDNS(t), "s3cret-admin-token", false
	smtpAddr, httpAddr := startServeWith(t, c)
	base := "http://" + httpAddr

	resp, err := http.Post(base+"/api/tests", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var test struct {
		Token     string            `json:"token"`
		Addresses map[string]string `json:"addresses"`
		Page      string            `json:"page"`
		Results   string            `json:"results"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&test); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /api/tests: %s %v", resp.Status, err)
	}
	resp.Body.Close()
	if test.Addresses["check"] != "check+"+test.Token+"@"+probeDomain || !strings.HasPrefix(test.Token, "t-") {
		t.Fatalf("test: %+v", test)
	}
	if page := get(t, base+test.Page); !strings.Contains(page, `id="waiting"`) || !strings.Contains(page, "check+"+test.Token+"@") {
		t.Fatal("the test's page does not wait with its addresses")
	}
	if err := sendProbe(smtpAddr, test.Addresses["check"], probeMessage(t, "private one", "Joe <joe@abc.it>"), false); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Results []struct {
			ID      string          `json:"id"`
			Tags    []string        `json:"tags"`
			Verdict json.RawMessage `json:"verdict"`
		} `json:"results"`
	}
	waitFor(t, httpAddr, func() bool {
		got.Results = nil
		getJSON(t, base+test.Results, &got)
		return len(got.Results) == 1 && len(got.Results[0].Tags) > 0
	}, func() string { return "the private test's result did not come" })
	if string(got.Results[0].Verdict) == "null" {
		t.Error("the test's API gives no verdict")
	}
	if page := get(t, base+test.Page); !strings.Contains(page, "/r/"+got.Results[0].ID) || !strings.Contains(page, "private one") {
		t.Error("the test's page does not show its result")
	}
	if page := get(t, base+"/r/"+got.Results[0].ID); !strings.Contains(page, "private one") {
		t.Error("/r/{id} of a private test is not reachable")
	}

	status := func(method, path string, token bool) (int, string) {
		t.Helper()
		if token {
			return call(t, method, base+path, c.AdminToken)
		}
		return call(t, method, base+path, "")
	}
	if code, _ := status("GET", "/api/results", false); code != http.StatusUnauthorized {
		t.Errorf("GET /api/results with hidden lists: %d, want 401", code)
	}
	if code, _ := status("GET", "/check", false); code != http.StatusForbidden {
		t.Errorf("GET /check with hidden lists: %d, want 403", code)
	}
	if _, home := status("GET", "/", false); strings.Contains(home, `href="/check"`) || !strings.Contains(home, `href="/new"`) {
		t.Error("the home page links to hidden lists, or not to private tests")
	}
	if _, home := status("GET", "/", true); !strings.Contains(home, `href="/check"`) {
		t.Error("the home page hides the lists from the admin")
	}
	code, body := status("GET", "/api/results?kind=check", true)
	if code != 200 || strings.Contains(body, got.Results[0].ID) {
		t.Errorf("the admin's list: %d, private result listed %v", code, strings.Contains(body, got.Results[0].ID))
	}
	if code, _ := status("GET", "/api/tests/t-nottoken", false); code != http.StatusNotFound {
		t.Errorf("a malformed token: %d, want 404", code)
	}
	if code, body := status("GET", "/new", false); code != http.StatusSeeOther || !strings.Contains(body, `href="/new/t-`) {
		t.Errorf("GET /new: %d %q, want a redirect to a fresh test", code, body)
	}
}

// TestMaskedResult: without the key of the reply's link or a results
// token, /r/{id} and /api/results/{id} show the sender as the lists do:
// masked addresses, no display name, no headers, no verdict in the API.
// The private test's page links to its results with their keys.
func TestMaskedResult(t *testing.T) {
	t.Parallel()
	smtpAddr, httpAddr := startServe(t)
	if err := sendProbe(smtpAddr, "spf+team@"+probeDomain, probeMessage(t, "masked", "Joe Bloggs <joe@abc.it>"), false); err != nil {
		t.Fatal(err)
	}
	id := waitJudged(t, httpAddr, "spf", 1).Results[0].ID
	base := "http://" + httpAddr
	anon := get(t, base+"/r/"+id)
	for _, leak := range []string{"joe@abc.it", "Joe Bloggs", "spf+team@", "Received: ", "smtp.mailfrom=joe"} {
		if strings.Contains(anon, leak) {
			t.Errorf("the anonymous page shows %q", leak)
		}
	}
	for _, want := range []string{"j***@abc.it", "|OK| spf-pass", `id="masked"`} {
		if !strings.Contains(anon, want) {
			t.Errorf("the anonymous page lacks %q", want)
		}
	}
	if page := get(t, base+"/r/"+id+"?k=wrong"); !strings.Contains(page, `id="masked"`) {
		t.Error("a wrong key opened the full record")
	}
	if page := get(t, base+full(t, httpAddr, id)); !strings.Contains(page, "joe@abc.it") || !strings.Contains(page, "Joe Bloggs") || strings.Contains(page, `id="masked"`) {
		t.Error("the key did not open the full record")
	}
	var api struct {
		MailFrom string          `json:"mail_from"`
		Masked   bool            `json:"masked"`
		Verdict  json.RawMessage `json:"verdict"`
		Tag      string          `json:"tag"`
	}
	getJSON(t, base+"/api/results/"+id, &api)
	if !api.Masked || api.MailFrom != "j***@abc.it" || string(api.Verdict) != "null" || api.Tag != "" {
		t.Errorf("anonymous API: %+v", api)
	}
	api.Verdict, api.Masked = nil, false
	getJSON(t, base+full(t, httpAddr, id, true), &api)
	if api.Masked || api.MailFrom != "joe@abc.it" || len(api.Verdict) < 100 {
		t.Errorf("API with the key: masked %v, mail_from %q", api.Masked, api.MailFrom)
	}
}
