package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestOperatorMail: postmaster@ and abuse@ are accepted and judged, never
// answered, never on the public lists, and shown to the admin at /mail.
func TestOperatorMail(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.AdminToken = probeDNS(t), "s3cret-admin-token"
	smtpAddr, httpAddr := startServeWith(t, c)
	for _, to := range []string{"postmaster@", "abuse@"} {
		if err := sendProbe(smtpAddr, to+probeDomain, probeMessage(t, "to "+to, "Joe <joe@abc.it>"), false); err != nil {
			t.Fatalf("%s: %v", to, err)
		}
	}
	if err := sendProbe(smtpAddr, "spf@"+probeDomain, probeMessage(t, "a probe", "Joe <joe@abc.it>"), false); err != nil {
		t.Fatal(err)
	}
	waitJudged(t, httpAddr, "spf", 1)

	get := func(path string, token bool) (int, string) {
		t.Helper()
		if token {
			return call(t, "GET", "http://"+httpAddr+path, c.AdminToken)
		}
		return call(t, "GET", "http://"+httpAddr+path, "")
	}
	var mail struct {
		Mail []struct {
			Kind    string          `json:"kind"`
			Subject string          `json:"subject"`
			Reply   json.RawMessage `json:"reply"`
			Verdict struct {
				Tags []string `json:"tags"`
			} `json:"verdict"`
		} `json:"mail"`
	}
	waitFor(t, httpAddr, func() bool {
		code, body := get("/api/mail", true)
		if code != 200 {
			t.Fatalf("/api/mail with the token: %d %s", code, body)
		}
		mail.Mail = nil
		if err := json.Unmarshal([]byte(body), &mail); err != nil {
			t.Fatal(err)
		}
		judged := 0
		for _, m := range mail.Mail {
			if len(m.Verdict.Tags) > 0 {
				judged++
			}
		}
		return judged == 2
	}, func() string { return "postmaster@ and abuse@ mail not both judged" })
	kinds := map[string]bool{}
	for _, m := range mail.Mail {
		kinds[m.Kind] = true
		if len(m.Reply) > 0 && string(m.Reply) != "null" {
			t.Errorf("%s mail has a reply: %s", m.Kind, m.Reply)
		}
	}
	if !kinds["postmaster"] || !kinds["abuse"] || len(mail.Mail) != 2 {
		t.Errorf("/api/mail: %+v", mail.Mail)
	}

	// Public lists: the probe only.
	var l apiList
	getJSON(t, "http://"+httpAddr+"/api/results?limit=50", &l)
	if len(l.Results) != 1 {
		t.Errorf("the public list has %d results, want the one probe", len(l.Results))
	}
	if code, _ := get("/api/results?kind=postmaster", false); code != 400 {
		t.Errorf("/api/results?kind=postmaster: %d, want 400", code)
	}
	// The page, for the admin only.
	if code, body := get("/mail", true); code != 200 || !strings.Contains(body, "to postmaster@") || !strings.Contains(body, "to abuse@") || !strings.Contains(body, "abuse@"+probeDomain) {
		t.Errorf("/mail with the token: %d", code)
	}
	if code, _ := get("/mail", false); code != http.StatusSeeOther {
		t.Errorf("/mail without a session: %d, want a redirect to /login", code)
	}
	if code, _ := get("/api/mail", false); code != http.StatusUnauthorized {
		t.Errorf("/api/mail without the token: %d, want 401", code)
	}
}
