package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpCall calls a tool and returns its text and structured content.
func mcpCall(t *testing.T, s *mcp.ClientSession, name string, args map[string]any, out any) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var text strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text.WriteString(tc.Text)
		}
	}
	if res.IsError {
		t.Fatalf("%s: tool error: %s", name, text.String())
	}
	t.Logf("%s %v:\n%s", name, args, text.String()) // the transcript, with -v
	if out != nil {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: structured content %s: %v", name, b, err)
		}
	}
	return text.String()
}

// TestMCP: the SDK's own client against a real server over streamable
// HTTP: the tools are listed; a private test is made, a probe sent to it
// over SMTP, and its result read with the page's headline and steps; a
// domain is checked, a bounce explained and a message judged offline; a
// token without the mcp scope is refused.
func TestMCP(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver = probeDNS(t)
	smtpAddr, httpAddr := startServeWith(t, c)
	_, secret, _ := addToken(t, c.DataDir, "--name", "assistant", "--scopes", "mcp")
	_, other, _ := addToken(t, c.DataDir, "--name", "reader", "--scopes", "results")
	endpoint := "http://" + httpAddr + "/mcp"

	// No token, and a token without the scope, are refused before MCP.
	for tok, want := range map[string]int{"": http.StatusUnauthorized, other: http.StatusForbidden} {
		req, _ := http.NewRequest("POST", endpoint, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token %q: %d, want %d", tok, resp.StatusCode, want)
		}
	}

	client := mcp.NewClient(&mcp.Implementation{Name: "test-assistant", Version: "1"}, nil)
	ctx := context.Background()
	s, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, DisableStandaloneSSE: true,
		HTTPClient: &http.Client{Transport: bearerTransport{token: secret}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tools, err := s.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
		if tl.Description == "" || tl.InputSchema == nil {
			t.Errorf("tool %s has no description or schema", tl.Name)
		}
	}
	for _, want := range []string{"create_test", "get_test_result", "check_domain", "explain_bounce", "check_message"} {
		if !slices.Contains(names, want) {
			t.Errorf("no tool %s in %v", want, names)
		}
	}

	var created struct {
		Token     string
		Addresses struct{ Check string }
		Page      string
	}
	words := mcpCall(t, s, "create_test", map[string]any{"lang": "it"}, &created)
	if !strings.HasPrefix(created.Addresses.Check, "check+it+t-") || !strings.Contains(words, created.Addresses.Check) ||
		!strings.HasPrefix(created.Page, "http://") {
		t.Fatalf("create_test: %+v\n%s", created, words)
	}
	if err := sendProbe(smtpAddr, created.Addresses.Check, probeMessage(t, "MCP probe", "Joe <joe@abc.it>"), true); err != nil {
		t.Fatal(err)
	}
	var results struct {
		Results []struct {
			ID      string
			Judged  bool
			Tags    []string
			Page    string
			Summary struct {
				Headline string
				Lang     string
				Steps    []struct{ Text string }
			}
		}
	}
	words = mcpCall(t, s, "get_test_result", map[string]any{"test": created.Token, "wait_seconds": 30, "lang": "it"}, &results)
	if len(results.Results) != 1 || !results.Results[0].Judged || results.Results[0].Summary.Headline == "" ||
		results.Results[0].Summary.Lang != "it" || !strings.Contains(words, results.Results[0].Summary.Headline) {
		t.Fatalf("get_test_result: %+v\n%s", results, words)
	}
	r := results.Results[0]
	if !slices.Contains(r.Tags, "|OK| dkim-pass") || !strings.Contains(r.Page, "?k=") {
		t.Errorf("result %+v", r)
	}
	// The same summary as the result's own API, which the page renders.
	var api struct {
		Diagnosis struct{ Headline string }
	}
	getJSON(t, "http://"+httpAddr+full(t, httpAddr, r.ID, true)+"&lang=it", &api)
	if api.Diagnosis.Headline != r.Summary.Headline {
		t.Errorf("MCP headline %q, API %q", r.Summary.Headline, api.Diagnosis.Headline)
	}

	var domain struct {
		Domain   string
		Findings []struct{ Severity, Message string }
	}
	words = mcpCall(t, s, "check_domain", map[string]any{"domain": "abc.it"}, &domain)
	if domain.Domain != "abc.it" || len(domain.Findings) == 0 || !strings.Contains(words, "abc.it") {
		t.Errorf("check_domain: %+v\n%s", domain, words)
	}

	var said struct {
		Recognised   bool
		Provider     string `json:"provider"`
		EnhancedCode string `json:"enhanced_code"`
		ProbeAddress string `json:"probe_address"`
		Steps        []string
	}
	dsn, err := os.ReadFile("../../bounce/testdata/gmail-5.7.26-pasted.txt")
	if err != nil {
		t.Fatal(err)
	}
	words = mcpCall(t, s, "explain_bounce", map[string]any{"text": string(dsn)}, &said)
	if !said.Recognised || said.Provider != "Gmail" || said.EnhancedCode != "5.7.26" || !strings.HasPrefix(said.ProbeAddress, "check+t-") ||
		!strings.Contains(words, said.ProbeAddress) {
		t.Errorf("explain_bounce: %+v\n%s", said, words)
	}

	var judged struct {
		Tags    []string
		Summary struct{ Headline string }
	}
	words = mcpCall(t, s, "check_message", map[string]any{"message": probeMessage(t, "offline", "Joe <joe@abc.it>"),
		"ip": "127.0.0.1", "helo": "mail.abc.it", "mail_from": "joe@abc.it", "tester": "dkim"}, &judged)
	if strings.Join(judged.Tags, " ") != "|OK| dkim-pass" || judged.Summary.Headline == "" || !strings.Contains(words, "dkim-pass") {
		t.Errorf("check_message: %+v\n%s", judged, words)
	}
	// Bad input is a tool error the assistant can read, not a failure.
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "check_message", Arguments: map[string]any{"message": "x", "ip": "nope", "helo": "h", "mail_from": ""}})
	if err != nil || !res.IsError {
		t.Errorf("check_message with a bad IP: %v, %+v", err, res)
	}
	var l apiList
	getJSON(t, "http://"+httpAddr+"/api/results", &l)
	if len(l.Results) != 0 {
		t.Errorf("the private test's result or the offline check is listed: %+v", l.Results)
	}
}

// TestMCPStdio runs "testerd mcp" on a data directory, in process, with
// the SDK's client on its standard input and output, and relays a running
// server's /mcp with --server.
func TestMCPStdio(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver = probeDNS(t)
	smtpAddr, httpAddr := startServeWith(t, c)
	_, secret, _ := addToken(t, c.DataDir, "--name", "assistant", "--scopes", "mcp")

	for _, mode := range []struct {
		name string
		args []string
	}{
		{"data directory", []string{"mcp", "--data-dir", c.DataDir, "--domain", probeDomain, "--resolver", c.Resolver}},
		{"relay", []string{"mcp", "--server", "http://" + httpAddr, "--token", secret}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			done := make(chan int, 1)
			go func() {
				var errb strings.Builder
				code := run(mode.args, inR, outW, &errb)
				if code != 0 {
					t.Errorf("testerd mcp: exit %d: %s", code, errb.String())
				}
				outW.Close()
				done <- code
			}()
			client := mcp.NewClient(&mcp.Implementation{Name: "test-assistant", Version: "1"}, nil)
			s, err := client.Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var created struct {
				Token     string
				Addresses struct{ Check string }
			}
			mcpCall(t, s, "create_test", nil, &created)
			if err := sendProbe(smtpAddr, created.Addresses.Check, probeMessage(t, "stdio probe", "Joe <joe@abc.it>"), false); err != nil {
				t.Fatal(err)
			}
			var results struct {
				Results []struct {
					Judged bool
					Tags   []string
				}
			}
			mcpCall(t, s, "get_test_result", map[string]any{"test": created.Token, "wait_seconds": 30}, &results)
			if len(results.Results) != 1 || !results.Results[0].Judged || !slices.Contains(results.Results[0].Tags, "|OK| dkim-pass") {
				t.Errorf("results %+v", results)
			}
			s.Close()
			inW.Close()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("testerd mcp did not end when its input closed")
			}
		})
	}
}
