package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/testerd/testerd/web"
)

// TestOpenAPIConformance calls every operation of /api/openapi.json on a
// real server with real probes, reports and operator mail, and validates
// each answer against the schema documented for its status code: every
// required field there, nothing undocumented (the schemas allow no other
// properties), every status documented.
func TestOpenAPIConformance(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.AdminToken = probeDNS(t), "s3cret-admin-token"
	smtpAddr, httpAddr := startServeWith(t, c)
	base := "http://" + httpAddr

	served := get(t, base+"/api/openapi.json")
	if served != string(web.OpenAPI) {
		t.Fatal("/api/openapi.json is not the repository's openapi.json")
	}
	comp, doc := openAPICompiler(t)

	// Something of every kind to answer about.
	for _, m := range []struct{ rcpt, msg string }{
		{"spf@" + probeDomain, probeMessage(t, "spf one", "Joe <joe@abc.it>")},
		{"check@" + probeDomain, probeMessage(t, "check one", "Joe <joe@abc.it>")},
		{"postmaster@" + probeDomain, probeMessage(t, "hello postmaster", "Joe <joe@abc.it>")},
		{"rua@" + probeDomain, reportMail(aggregateReport("r-openapi", time.Now().UTC().Truncate(24*time.Hour)))},
	} {
		if err := sendProbe(smtpAddr, m.rcpt, m.msg, false); err != nil {
			t.Fatal(err)
		}
	}
	spfID := waitJudged(t, httpAddr, "spf", 1).Results[0].ID
	waitJudged(t, httpAddr, "check", 1)
	var test struct {
		Token string `json:"token"`
	}
	code, body := call(t, "POST", base+"/api/tests", "")
	json.Unmarshal([]byte(body), &test)
	var mailID string
	waitFor(t, httpAddr, func() bool {
		_, b := call(t, "GET", base+"/api/reports", c.AdminToken)
		_, m := call(t, "GET", base+"/api/mail", c.AdminToken)
		var mail struct {
			Mail []struct {
				ID string `json:"id"`
			} `json:"mail"`
		}
		if json.Unmarshal([]byte(m), &mail) == nil && len(mail.Mail) > 0 {
			mailID = mail.Mail[0].ID
		}
		return strings.Contains(b, "r-openapi") && strings.Contains(m, "hello postmaster")
	}, func() string { return "the report and the operator mail did not show" })

	calls := []struct {
		method, path, pathKey, token string
		want                         int
	}{
		{"GET", "/api/openapi.json", "/api/openapi.json", "", 200},
		{"GET", "/healthz", "/healthz", "", 200},
		{"GET", "/api/results", "/api/results", "", 200},
		{"GET", "/api/results?kind=spf&limit=1", "/api/results", c.AdminToken, 200},
		{"GET", "/api/results?limit=0", "/api/results", "", 400},
		{"GET", "/api/results", "/api/results", "tdk_wrong", 401},
		{"GET", "/api/results/" + spfID, "/api/results/{id}", "", 200},
		{"GET", "/api/results/nosuch", "/api/results/{id}", "", 404},
		{"POST", "/api/results/" + spfID + "/reanalyze", "/api/results/{id}/reanalyze", c.AdminToken, 200},
		{"POST", "/api/results/" + spfID + "/reanalyze", "/api/results/{id}/reanalyze", "", 401},
		{"POST", "/api/results/nosuch/reanalyze", "/api/results/{id}/reanalyze", c.AdminToken, 404},
		{"POST", "/api/tests", "/api/tests", "", 201},
		{"GET", "/api/tests/" + test.Token, "/api/tests/{token}", "", 200},
		{"GET", "/api/tests/t-nope", "/api/tests/{token}", "", 404},
		{"GET", "/api/reports", "/api/reports", c.AdminToken, 200},
		{"GET", "/api/reports?days=0", "/api/reports", c.AdminToken, 400},
		{"GET", "/api/reports", "/api/reports", "", 401},
		{"GET", "/api/reports/abc.it", "/api/reports/{domain}", c.AdminToken, 200},
		{"GET", "/api/reports/not..a.domain", "/api/reports/{domain}", c.AdminToken, 400},
		{"GET", "/api/mail", "/api/mail", c.AdminToken, 200},
		{"GET", "/api/mail/" + mailID, "/api/mail/{id}", c.AdminToken, 200},
		{"GET", "/api/mail/" + spfID, "/api/mail/{id}", c.AdminToken, 404},
		{"GET", "/api/mail/" + mailID, "/api/mail/{id}", "", 401},
		{"GET", "/api/tlsreports/abc.it", "/api/tlsreports/{domain}", c.AdminToken, 200},
		{"GET", "/api/tlsreports/abc.it?days=0", "/api/tlsreports/{domain}", c.AdminToken, 400},
		{"GET", "/api/domain/abc.it?selectors=s1&ip=127.0.0.1", "/api/domain/{name}", "", 200},
		{"GET", "/api/domain/bad..name", "/api/domain/{name}", "", 400},
	}
	if code != http.StatusCreated {
		t.Fatalf("POST /api/tests: %d", code)
	}
	covered := map[string]bool{}
	for _, cl := range calls {
		req, _ := http.NewRequest(cl.method, base+cl.path, nil)
		if cl.token != "" {
			req.Header.Set("Authorization", "Bearer "+cl.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != cl.want {
			t.Errorf("%s %s: %d, want %d: %.200s", cl.method, cl.path, resp.StatusCode, cl.want, b)
			continue
		}
		covered[strings.ToLower(cl.method)+" "+cl.pathKey] = true
		ptr := "/paths/" + escape(cl.pathKey) + "/" + strings.ToLower(cl.method) + "/responses/" + strconv.Itoa(resp.StatusCode)
		ctype, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
		sch, err := comp.Compile("openapi.json#" + ptr + "/content/" + escape(ctype) + "/schema")
		if err != nil {
			t.Errorf("%s %s: status %d with %s is not documented: %v", cl.method, cl.path, resp.StatusCode, ctype, err)
			continue
		}
		var v any = string(b)
		if ctype == "application/json" {
			v, err = jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Errorf("%s %s: %v", cl.method, cl.path, err)
				continue
			}
		}
		if err := sch.Validate(v); err != nil {
			t.Errorf("%s %s (%d) does not match openapi.json: %v", cl.method, cl.path, resp.StatusCode, err)
		}
	}
	// The POSTs that take a body.
	for _, post := range []struct {
		path, ctype string
		body        []byte
		want        int
	}{
		{"/api/tlsrpt", "application/tlsrpt+json", tlsReport("posted-1", time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)), 201},
		{"/api/tlsrpt", "text/plain", []byte("hello"), 415},
		{"/api/bounce", "text/plain", []byte("550-5.7.26 Unauthenticated email from abc.it is not accepted due to domain's DMARC policy - gsmtp"), 200},
		{"/api/bounce", "message/rfc822", []byte("From: a@b\r\nSubject: x\r\n\r\nnothing to read\r\n"), 200},
		{"/api/bounce", "application/pdf", []byte("%PDF"), 415},
	} {
		resp, err := http.Post(base+post.path, post.ctype, bytes.NewReader(post.body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != post.want {
			t.Errorf("POST %s %s: %d, want %d: %s", post.path, post.ctype, resp.StatusCode, post.want, b)
			continue
		}
		sch, err := comp.Compile("openapi.json#/paths/" + strings.ReplaceAll(post.path, "/", "~1") + "/post/responses/" + strconv.Itoa(resp.StatusCode) + "/content/application~1json/schema")
		if err != nil {
			t.Fatal(err)
		}
		v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err := sch.Validate(v); err != nil {
			t.Errorf("POST %s (%d): %v", post.path, resp.StatusCode, err)
		}
		covered["post "+post.path] = true
	}
	waitFor(t, httpAddr, func() bool {
		_, b := call(t, "GET", base+"/api/tlsreports/abc.it", c.AdminToken)
		return strings.Contains(b, `"certificate-expired"`)
	}, func() string { return "the posted TLS report was not read" })

	paths := doc.(map[string]any)["paths"].(map[string]any)
	for p, ops := range paths {
		for m := range ops.(map[string]any) {
			if !covered[m+" "+p] {
				t.Errorf("no call of %s %s checked its answer", m, p)
			}
		}
	}
}

// openAPICompiler compiles schemas of openapi.json (at "openapi.json#PTR")
// as JSON Schema 2020-12 with formats asserted, and returns the document.
func openAPICompiler(t *testing.T) (*jsonschema.Compiler, any) {
	t.Helper()
	var doc any
	if err := json.Unmarshal(web.OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	comp.DefaultDraft(jsonschema.Draft2020)
	comp.AssertFormat()
	if err := comp.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	return comp, doc
}

// escape is a JSON Pointer token (RFC 6901).
func escape(s string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}
