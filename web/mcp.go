package web

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/testerd/testerd/bounce"
	"github.com/testerd/testerd/explain"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/rcpt"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
)

// The MCP server (Model Context Protocol): the tester as tools for an AI
// assistant, over streamable HTTP at /mcp (a token with the mcp scope,
// rate limited as every token is) or over stdio (testerd mcp). Each tool
// answers with the words a person reads on the page (the diagnosis, its
// steps) as text, and the same as structured JSON.

// Bounds of the MCP tools.
const (
	// MaxMCPMessage bounds the message check_message judges.
	MaxMCPMessage = 2 << 20
	// MaxMCPWait bounds how long get_test_result waits for a verdict.
	MaxMCPWait = 60 * time.Second
	// maxMCPBody bounds one HTTP request to /mcp: the largest message,
	// JSON-escaped, fits.
	maxMCPBody = 3*MaxMCPMessage + 64<<10
)

// mcpSchemas is shared by the servers made per request, so the tools'
// schemas are inferred once.
var mcpSchemas = mcp.NewSchemaCache()

// MCPHandler is /mcp: a stateless streamable HTTP endpoint, each request
// served by an MCP server for its token. The SDK's localhost protection is
// off: every request must carry a token, which a page rebinding DNS
// cannot, and testerd commonly runs behind a proxy on loopback.
func (s *Server) MCPHandler() http.Handler {
	h := mcp.NewStreamableHTTPHandler(func(r *http.Request) *mcp.Server {
		return s.MCPServer(grant(r))
	}, &mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, DisableLocalhostProtection: true,
		MaxRequestBodyBytes: maxMCPBody, Logger: s.Logger})
	return need(store.ScopeMCP, h.ServeHTTP)
}

// MCPServer is the MCP server of the tester's tools for owner (the token
// of the assistant; nil for testerd mcp, which the operator runs).
func (s *Server) MCPServer(owner *store.Token) *mcp.Server {
	srv := mcp.NewServer(&mcp.Implementation{Name: "testerd", Title: "testerd, the mail tester", Version: "1"},
		&mcp.ServerOptions{SchemaCache: mcpSchemas, Capabilities: &mcp.ServerCapabilities{},
			Instructions: "testerd judges how mailbox providers see a sender's mail: SPF, DKIM, DMARC and their sender rules. " +
				"To test a real sending system, call create_test, have the user send one message from that system to the check address, " +
				"then call get_test_result with the token. check_domain reads a domain's records; explain_bounce explains a bounce the user pastes; " +
				"check_message judges a raw message offline. Answer the user with the headline and the steps, which say what to change."})
	t := &mcpTools{s: s, owner: owner}
	readOnly := &mcp.ToolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(true)}
	mcp.AddTool(srv, &mcp.Tool{Name: "create_test", Title: "Create a private test",
		Description: "Makes a private test: three tester addresses (spf, dkim, check) whose results only this test's token lists. " +
			"Send one message from the system to test to the check address (it judges everything), then call get_test_result with the token."},
		t.createTest)
	mcp.AddTool(srv, &mcp.Tool{Name: "get_test_result", Title: "Read a test's results", Annotations: readOnly,
		Description: "The results of a private test (by its token), or of one result (by its id and key, as a reply's link gives them): " +
			"for each message, its tags, what the mailbox providers would do, the score and the steps that fix what fails. " +
			"wait_seconds (at most 60) waits for a first verdict when none is in yet."},
		t.getTestResult)
	mcp.AddTool(srv, &mcp.Tool{Name: "check_domain", Title: "Check a domain's mail records", Annotations: readOnly,
		Description: "Reads a domain's SPF (with every include), DMARC, DKIM keys (at the selectors given, and those seen in its probes), MX, MTA-STS and TLS-RPT records, " +
			"and says what is wrong and how to fix it."},
		t.checkDomain)
	mcp.AddTool(srv, &mcp.Tool{Name: "explain_bounce", Title: "Explain a bounce", Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true},
		Description: "Explains a bounce (the returned message, or the error text the user pasted): which provider refused, what its code means, " +
			"whose side must act and what to do; when authentication is involved, a private test address to send a probe to."},
		t.explainBounce)
	mcp.AddTool(srv, &mcp.Tool{Name: "check_message", Title: "Judge one message offline", Annotations: readOnly,
		Description: "Judges a raw message (RFC 5322, headers and body) as if it had arrived from ip with that HELO and MAIL FROM: SPF, DKIM, DMARC, the tags " +
			"and, for the check tester, the providers' sender requirements. Nothing is stored."},
		t.checkMessage)
	return srv
}

func ptr[T any](v T) *T { return &v }

type mcpTools struct {
	s     *Server
	owner *store.Token
}

// own makes the private test tok the assistant's token's, as POST
// /api/tests does: its webhook gets the test's verdicts.
func (t *mcpTools) own(ctx context.Context, tok string, l i18n.Lang) error {
	if t.owner == nil || t.owner == AdminGrant || t.s.Tokens == nil {
		return nil
	}
	if err := t.s.Tokens.OwnTest(ctx, tok, t.owner.ID); err != nil {
		return t.s.mcpFailure(l, err)
	}
	return nil
}

// lang is the language an assistant asked for, else the server's.
func (t *mcpTools) lang(asked string) i18n.Lang {
	if l, ok := i18n.Parse(asked); ok {
		return l
	}
	if t.s.Lang != "" {
		return t.s.Lang
	}
	return i18n.Default
}

// url is path on the tester's web, absolute when its address is known.
func (t *mcpTools) url(path string) string {
	return strings.TrimSuffix(t.s.BaseURL, "/") + path
}

// text is a tool result whose content is words for people.
func text(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}

type mcpCreateIn struct {
	Lang string `json:"lang,omitempty" jsonschema:"en or it: the language of the replies testerd mails to the sender"`
}

type mcpCreated struct {
	Token     string        `json:"token"`
	Addresses testAddresses `json:"addresses"`
	Page      string        `json:"page"`
}

func (t *mcpTools) createTest(ctx context.Context, _ *mcp.CallToolRequest, in mcpCreateIn) (*mcp.CallToolResult, mcpCreated, error) {
	l := t.lang(in.Lang)
	tok := rcpt.NewPrivate()
	if err := t.own(ctx, tok, l); err != nil {
		return nil, mcpCreated{}, err
	}
	ext := tok
	if l, ok := i18n.Parse(in.Lang); ok {
		ext = string(l) + "+" + tok
	}
	out := mcpCreated{Token: tok, Page: t.url("/new/" + tok), Addresses: testAddresses{
		SPF: "spf+" + ext + "@" + t.s.Domain, DKIM: "dkim+" + ext + "@" + t.s.Domain, Check: "check+" + ext + "@" + t.s.Domain}}
	return text(l.T("mcp.created", out.Addresses.Check, out.Token, out.Page)), out, nil
}

type mcpResultIn struct {
	Test        string `json:"test,omitempty" jsonschema:"the private test's token, from create_test"`
	ID          string `json:"id,omitempty" jsonschema:"one result's id (instead of test)"`
	Key         string `json:"key,omitempty" jsonschema:"the key of that result, the k= of its link"`
	WaitSeconds int    `json:"wait_seconds,omitempty" jsonschema:"wait up to this many seconds (at most 60) for a first verdict"`
	Lang        string `json:"lang,omitempty" jsonschema:"en or it"`
}

// mcpResult is one message's result as the page shows it.
type mcpResult struct {
	ID       string             `json:"id"`
	Tester   kind.Kind          `json:"tester"`
	Received time.Time          `json:"received"`
	Judged   bool               `json:"judged"`
	From     string             `json:"from,omitempty"`
	Subject  string             `json:"subject,omitempty"`
	Tags     []string           `json:"tags"`
	Page     string             `json:"page"`
	Waiting  string             `json:"waiting,omitempty"`
	Summary  *explain.Diagnosis `json:"summary,omitempty"`
}

type mcpResults struct {
	Test    string      `json:"test,omitempty"`
	Results []mcpResult `json:"results"`
}

func (t *mcpTools) getTestResult(ctx context.Context, _ *mcp.CallToolRequest, in mcpResultIn) (*mcp.CallToolResult, mcpResults, error) {
	l := t.lang(in.Lang)
	if (in.Test == "") == (in.ID == "") {
		return nil, mcpResults{}, errors.New(l.T("mcp.err.which"))
	}
	if in.Test != "" && !rcpt.IsPrivate(in.Test) {
		return nil, mcpResults{}, errors.New(l.T("mcp.err.test"))
	}
	wait := min(time.Duration(max(in.WaitSeconds, 0))*time.Second, MaxMCPWait)
	deadline := time.Now().Add(wait)
	for {
		out, done, err := t.results(ctx, in, l)
		if err != nil || done || !time.Now().Before(deadline) {
			if err != nil {
				return nil, out, err
			}
			return text(t.resultsText(out, in, l)), out, nil
		}
		select {
		case <-ctx.Done():
			return nil, out, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// results reads the results in asks for; done when one is judged.
func (t *mcpTools) results(ctx context.Context, in mcpResultIn, l i18n.Lang) (mcpResults, bool, error) {
	var list []*store.Result
	full := t.owner.Has(store.ScopeResults)
	if in.Test != "" {
		rs, err := t.s.Store.List(ctx, store.ListQuery{Private: in.Test, Limit: MaxPrivateResults, WithVerdict: true})
		if err != nil {
			return mcpResults{Test: in.Test, Results: []mcpResult{}}, false, t.s.mcpFailure(l, err)
		}
		list, full = rs, true // the token is the test's key
	} else {
		res, err := t.s.Store.Get(ctx, in.ID)
		if errors.Is(err, store.ErrNotFound) {
			return mcpResults{Results: []mcpResult{}}, false, errors.New(l.T("mcp.err.no-result"))
		} else if err != nil {
			return mcpResults{Results: []mcpResult{}}, false, t.s.mcpFailure(l, err)
		}
		if res.ViewKey != "" && subtle.ConstantTimeCompare([]byte(in.Key), []byte(res.ViewKey)) == 1 {
			full = true
		}
		list = []*store.Result{res}
	}
	out := mcpResults{Test: in.Test, Results: []mcpResult{}}
	done := false
	for _, res := range list {
		r := mcpResult{ID: res.ID, Tester: res.Kind, Received: res.Received, Judged: !res.Judged.IsZero(), Tags: res.Tags}
		if r.Tags == nil {
			r.Tags = []string{}
		}
		if full {
			r.From, r.Subject, r.Page = res.FromDomain, message.DisplayText(res.Subject), t.url(res.ResultPath())
		} else {
			r.Page = t.url("/r/" + res.ID)
		}
		_, d, err := t.s.diagnosis(res, l)
		if err != nil {
			return out, false, t.s.mcpFailure(l, err)
		}
		r.Summary = d
		if d == nil {
			r.Waiting = t.s.waiting(res, l)
		} else {
			done = true
		}
		out.Results = append(out.Results, r)
	}
	return out, done, nil
}

func (t *mcpTools) resultsText(out mcpResults, in mcpResultIn, l i18n.Lang) string {
	var b bytes.Buffer
	if len(out.Results) == 0 {
		return l.T("mcp.no-results", in.Test)
	}
	for i, r := range out.Results {
		if i > 0 {
			b.WriteString("\n---\n\n")
		}
		fmt.Fprintf(&b, "%s %s (%s)\n%s\n\n", l.T("mcp.result", string(r.Tester)), strings.Join(r.Tags, " "), r.ID, r.Page)
		if r.Summary == nil {
			fmt.Fprintf(&b, "%s\n", orWord(r.Waiting, l.T("mcp.waiting")))
			continue
		}
		r.Summary.WriteText(&b)
	}
	return b.String()
}

func orWord(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

type mcpDomainIn struct {
	Domain    string   `json:"domain" jsonschema:"the domain whose records to check, such as example.com"`
	Selectors []string `json:"selectors,omitempty" jsonschema:"DKIM selectors to check (at most 10)"`
	IP        string   `json:"ip,omitempty" jsonschema:"a sending IP to evaluate against the SPF record"`
	MailFrom  string   `json:"mail_from,omitempty" jsonschema:"the MAIL FROM address for that evaluation"`
	Lang      string   `json:"lang,omitempty" jsonschema:"en or it"`
}

type mcpDomain struct {
	Domain        string         `json:"domain"`
	Errors        int            `json:"errors"`
	Warnings      int            `json:"warnings"`
	TesterFailure bool           `json:"tester_failure,omitempty"`
	Findings      []mcpLintFound `json:"findings"`
	Page          string         `json:"page"`
}

type mcpLintFound struct {
	Area     string        `json:"area"`
	Severity lint.Severity `json:"severity"`
	Message  string        `json:"message"`
	Fix      string        `json:"fix,omitempty"`
}

func (t *mcpTools) checkDomain(ctx context.Context, _ *mcp.CallToolRequest, in mcpDomainIn) (*mcp.CallToolResult, mcpDomain, error) {
	l := t.lang(in.Lang)
	if t.s.Lint == nil {
		return nil, mcpDomain{}, errors.New(l.T("mcp.err.no-lint"))
	}
	o := lint.Options{MailFrom: in.MailFrom}
	for _, sel := range in.Selectors {
		if len(o.Selectors) == lint.MaxSelectors {
			break
		}
		o.Selectors = append(o.Selectors, strings.ToLower(sel))
	}
	if in.IP != "" {
		a, err := netip.ParseAddr(in.IP)
		if err != nil {
			return nil, mcpDomain{}, errors.New(l.Say(i18n.M("domain.err.ip")))
		}
		o.IP = a
		if len(o.MailFrom) > 254 || strings.ContainsAny(o.MailFrom, "\r\n") {
			return nil, mcpDomain{}, errors.New(l.Say(i18n.M("domain.err.mail-from")))
		}
		if o.MailFrom == "" {
			o.MailFrom = "postmaster@" + in.Domain
		}
	}
	rep, _, err := t.s.lintDomain(ctx, t.who(), in.Domain, o)
	if err != nil {
		return nil, mcpDomain{}, errors.New(l.Say(i18n.Of(err)))
	}
	said := rep.In(l)
	out := mcpDomain{Domain: said.Domain, Errors: said.Errors, Warnings: said.Warnings, TesterFailure: said.TesterFailure,
		Findings: []mcpLintFound{}, Page: t.url("/domain?name=" + said.Domain)}
	for _, f := range said.Findings {
		out.Findings = append(out.Findings, mcpLintFound{Area: f.Area, Severity: f.Severity, Message: f.Text, Fix: f.FixText})
	}
	var b bytes.Buffer
	rep.WriteText(&b, l)
	return text(b.String()), out, nil
}

// who is whose limit a check counts against: the token, or the operator.
func (t *mcpTools) who() string {
	if t.owner == nil {
		return "mcp:local"
	}
	return "mcp:" + t.owner.ID
}

type mcpBounceIn struct {
	Text string `json:"text" jsonschema:"the bounce: the returned message as received, or the error text"`
	Lang string `json:"lang,omitempty" jsonschema:"en or it"`
}

// mcpBounce is bounce.Said as the tool gives it.
type mcpBounce struct {
	Recognised     bool     `json:"recognised"`
	Provider       string   `json:"provider,omitempty"`
	Code           string   `json:"code,omitempty"`
	EnhancedCode   string   `json:"enhanced_code,omitempty"`
	Category       string   `json:"category"`
	WhoseSide      string   `json:"whose_side"`
	WhoseSideText  string   `json:"whose_side_text"`
	Temporary      bool     `json:"temporary"`
	Authentication bool     `json:"authentication"`
	Meaning        string   `json:"meaning"`
	Steps          []string `json:"steps"`
	ProbeAddress   string   `json:"probe_address,omitempty"`
	ProbePage      string   `json:"probe_page,omitempty"`
	Source         string   `json:"source,omitempty"`
	Diagnostic     string   `json:"diagnostic,omitempty"`
}

func (t *mcpTools) explainBounce(ctx context.Context, _ *mcp.CallToolRequest, in mcpBounceIn) (*mcp.CallToolResult, mcpBounce, error) {
	l := t.lang(in.Lang)
	raw := []byte(in.Text)
	if len(raw) > bounce.MaxInput {
		return nil, mcpBounce{}, errors.New(l.T("bounce.too-big"))
	}
	said := t.s.explainBounce(raw, l)
	if said.ProbePage != "" {
		if err := t.own(ctx, strings.TrimPrefix(said.ProbePage, "/new/"), l); err != nil {
			return nil, mcpBounce{}, err
		}
		said.ProbePage = t.url(said.ProbePage)
	}
	e := said.Explanation
	out := mcpBounce{Recognised: e.Recognised, Provider: e.Provider, Code: e.Code, EnhancedCode: e.EnhancedCode, Category: string(e.Category),
		WhoseSide: string(e.WhoseSide), WhoseSideText: said.SideText, Temporary: e.Temporary, Authentication: e.Auth, Meaning: said.MeaningText,
		Steps: said.StepsText, ProbeAddress: said.ProbeAddress, ProbePage: said.ProbePage, Source: e.Source, Diagnostic: e.Diagnostic}
	var b bytes.Buffer
	bounce.WriteText(&b, said, l)
	return text(b.String()), out, nil
}

type mcpMessageIn struct {
	Message  string `json:"message" jsonschema:"the raw message: header fields, a blank line, the body"`
	IP       string `json:"ip" jsonschema:"the IP address the message came from"`
	Helo     string `json:"helo" jsonschema:"the name the sending server gave in HELO/EHLO"`
	MailFrom string `json:"mail_from" jsonschema:"the envelope sender (MAIL FROM); empty for a bounce"`
	Tester   string `json:"tester,omitempty" jsonschema:"spf, dkim or check (the default): the tester it was sent to"`
	TLS      string `json:"tls,omitempty" jsonschema:"the session's TLS version (1.2 or 1.3) or none; unset, TLS is not judged"`
	Lang     string `json:"lang,omitempty" jsonschema:"en or it"`
}

type mcpJudged struct {
	Tags    []string           `json:"tags"`
	Summary *explain.Diagnosis `json:"summary"`
}

func (t *mcpTools) checkMessage(ctx context.Context, _ *mcp.CallToolRequest, in mcpMessageIn) (*mcp.CallToolResult, mcpJudged, error) {
	l := t.lang(in.Lang)
	if t.s.Judge == nil {
		return nil, mcpJudged{}, errors.New(l.T("mcp.err.no-judge"))
	}
	if len(in.Message) > MaxMCPMessage {
		return nil, mcpJudged{}, errors.New(l.T("mcp.err.too-big", MaxMCPMessage>>20))
	}
	if strings.TrimSpace(in.Message) == "" {
		return nil, mcpJudged{}, errors.New(l.T("mcp.err.empty"))
	}
	ip, err := netip.ParseAddr(in.IP)
	if err != nil {
		return nil, mcpJudged{}, errors.New(l.T("mcp.err.ip", in.IP))
	}
	k := kind.Check
	if in.Tester != "" {
		var ok bool
		if k, ok = kind.ParseTester(in.Tester); !ok {
			return nil, mcpJudged{}, errors.New(l.T("mcp.err.tester", in.Tester))
		}
	}
	if strings.ContainsAny(in.Helo+in.MailFrom, "\r\n") || len(in.Helo) > 255 || len(in.MailFrom) > 320 {
		return nil, mcpJudged{}, errors.New(l.T("mcp.err.envelope"))
	}
	raw, _ := message.FileLineEnds([]byte(in.Message)) // as it travelled over SMTP
	p := verify.Probe{Kind: k, IP: ip, Helo: in.Helo, MailFrom: in.MailFrom, Raw: raw}
	switch in.TLS {
	case "":
	case "none":
		p.Session = &verify.Session{}
	case "1.2", "1.3", "TLS 1.2", "TLS 1.3":
		p.Session = &verify.Session{TLS: "TLS " + strings.TrimPrefix(in.TLS, "TLS ")}
	default:
		return nil, mcpJudged{}, errors.New(l.T("mcp.err.tls", in.TLS))
	}
	v := t.s.Judge.Judge(ctx, p)
	d := explain.Diagnose(v, explain.Options{Lang: l, TesterDomain: t.s.Domain})
	out := mcpJudged{Tags: v.Tags, Summary: d}
	if out.Tags == nil {
		out.Tags = []string{}
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n\n", strings.Join(v.Tags, " "))
	d.WriteText(&b)
	return text(b.String()), out, nil
}

// mcpFailure logs testerd's own failure and says it is testerd's.
func (s *Server) mcpFailure(l i18n.Lang, err error) error {
	s.Logger.Error("mcp", "err", err)
	return errors.New(l.T("mcp.err.storage"))
}
