// Package web serves the tester's pages and JSON API over net/http: the
// latest results per tester (/spf, /dkim, /check), one verdict in full
// (/r/{id}), the JSON API (/api/results, /api/results/{id}) and /healthz,
// the domain checker (/domain), the bounce explainer (/bounce), private
// tests (/new) and the MCP server for AI assistants (/mcp, MCPServer). It
// only reads the store. Every value that came from a probe or from DNS
// is escaped by html/template, and a strict Content-Security-Policy (no
// script at all) backs that up.
package web

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/testerd/testerd/bounce"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/explain"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/rcpt"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/requirements"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is what the web needs of the store.
type Store interface {
	List(ctx context.Context, q store.ListQuery) ([]*store.Result, error)
	Get(ctx context.Context, id string) (*store.Result, error)
}

// Limits of the list pages and API.
const (
	DefaultLimit = 50
	MaxLimit     = 500
	// RefreshSeconds is how often list pages reload themselves.
	RefreshSeconds = 10
	// maxHeaderShown bounds the probe header shown on /r/{id}.
	maxHeaderShown = 64 << 10
)

// Server holds the handlers.
type Server struct {
	Store Store
	// Nodes, if set, lists the live nodes sharing the database, for
	// /healthz: their count for anyone, who they are for the admin.
	Nodes func(ctx context.Context) ([]store.NodeRecord, error)
	// Sessions keeps the login sessions; nil keeps them in this
	// process's memory (lost at a restart, unknown to other nodes).
	Sessions Sessions
	// RepliesOff says the tester sends no replies (--reply off), for the
	// pages that wait for a verdict.
	RepliesOff bool
	// FailureDelay is how long a wrong or blocked token waits for its
	// answer (DefaultFailureDelay when 0).
	FailureDelay time.Duration
	// HideLists keeps the lists of results (/spf, /dkim, /check and
	// GET /api/results) for the admin; people use private tests (/new).
	HideLists bool
	// Reanalyzer, if set, judges a stored probe again for the admin
	// (POST /api/results/{id}/reanalyze).
	Reanalyzer Reanalyzer
	// Domain is the tester domain, for the addresses shown.
	Domain string
	Logger *slog.Logger
	// Lint, if set, serves the domain record checker.
	Lint *lint.Checker
	// Reports and AdminToken, when both are set, serve the DMARC report
	// pages behind the token; Resolver gives their reverse DNS.
	Reports    ReportStore
	AdminToken string
	Resolver   dnsx.Resolver
	// Health, if set, is asked by /healthz beside the store (the DNS
	// resolver's health).
	Health func() error
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// X-Forwarded-Proto are believed.
	TrustedProxies []netip.Prefix
	// Lang is the language of a visitor who asks for none we speak.
	Lang i18n.Lang
	// Tokens, if set, are the API tokens beside the admin token.
	Tokens Tokens
	// TLSReports, if set, takes SMTP TLS reports posted over HTTPS
	// (POST /api/tlsrpt).
	TLSReports ReportKeeper
	// Judge, if set, judges the messages the MCP tool check_message is
	// given (offline: nothing is stored).
	Judge *verify.Judge
	// BaseURL is the tester's public web address, for the links the MCP
	// tools give ("" gives paths).
	BaseURL  string
	posts    posters
	bounces  posters // explanations asked, per client network
	failures failures
	sessions memSessions
	limits   limits
	tmpl     map[i18n.Lang]*template.Template
	domains  domainChecker
	heavy    chan struct{}
	// listBytes overrides MaxListBytes (tests).
	listBytes int
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.heavy = make(chan struct{}, maxHeavyLists)
	funcs := template.FuncMap{
		"tagClass": tagClass,
		"severityClass": func(s lint.Severity) string {
			return map[lint.Severity]string{lint.Error: "bad", lint.Warning: "soso", lint.Info: "ok"}[s]
		},
		"statusClass": func(s requirements.Status) string {
			return map[requirements.Status]string{requirements.Pass: "ok", requirements.Warn: "soso", requirements.Fail: "bad"}[s]
		},
		"replyClass": func(state store.State) string {
			switch state {
			case store.Sent:
				return "ok"
			case store.Queued, store.Deferred, store.Suppressed:
				return "soso"
			}
			return "bad"
		},
		"mask": maskSender,
		"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"join": strings.Join,
		"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"add":  func(a, b int64) int64 { return a + b },
	}
	s.tmpl = map[i18n.Lang]*template.Template{}
	for _, l := range i18n.Langs {
		s.tmpl[l] = template.Must(template.New("").Funcs(funcs).Funcs(template.FuncMap{"T": l.T, "say": l.Say, "pct": l.Percent, "dec": l.Decimal}).ParseFS(templateFS, "templates/*.html"))
	}
	static, _ := fs.Sub(staticFS, "static")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	for _, k := range kind.Testers {
		mux.HandleFunc("GET /"+string(k), s.list(k))
	}
	mux.HandleFunc("GET /r/{id}", s.result)
	mux.HandleFunc("GET /new", s.newTest)
	mux.HandleFunc("GET /new/{token}", s.privateTest)
	mux.HandleFunc("POST /api/tests", s.apiNewTest)
	mux.HandleFunc("GET /api/tests/{token}", s.apiTest)
	if s.Reports != nil && (s.AdminToken != "" || s.Tokens != nil) {
		mux.HandleFunc("GET /login", s.loginForm)
		mux.HandleFunc("POST /login", s.login)
		mux.HandleFunc("POST /logout", s.logout)
		mux.HandleFunc("GET /reports", s.adminPage(store.ScopeReports, s.reportsIndex))
		mux.HandleFunc("GET /reports/{domain}", s.adminPage(store.ScopeReports, s.reportDomain))
		mux.HandleFunc("GET /reports/xml/{id}", s.adminPage(store.ScopeReports, s.reportXML))
		mux.HandleFunc("GET /reports/tls/{domain}", s.adminPage(store.ScopeReports, s.tlsReport))
		mux.HandleFunc("GET /api/reports", need(store.ScopeReports, s.apiReports))
		mux.HandleFunc("GET /api/reports/{domain}", need(store.ScopeReports, s.apiReportDomain))
		mux.HandleFunc("GET /api/tlsreports/{domain}", need(store.ScopeReports, s.apiTLSReports))
		mux.HandleFunc("GET /mail", s.adminPage(store.ScopeAdmin, s.operatorMail))
		mux.HandleFunc("GET /api/mail", need(store.ScopeAdmin, s.apiOperatorMail))
		mux.HandleFunc("GET /mail/{id}", s.adminPage(store.ScopeAdmin, s.operatorMessage))
		mux.HandleFunc("GET /api/mail/{id}", need(store.ScopeAdmin, s.operatorMessage))
	} else {
		mux.HandleFunc("GET /reports", s.noAdmin)
		mux.HandleFunc("GET /mail", s.noAdmin)
	}
	if s.Reanalyzer != nil {
		mux.HandleFunc("POST /api/results/{id}/reanalyze", need(store.ScopeAdmin, s.apiReanalyze))
	}
	if s.Lint != nil {
		mux.HandleFunc("GET /domain", s.domainForm)
		mux.HandleFunc("GET /api/domain/{name}", s.apiDomain)
	}
	mux.HandleFunc("GET /api/openapi.json", serveOpenAPI)
	mux.HandleFunc("GET /bounce", s.bounceForm)
	mux.HandleFunc("POST /bounce", s.bounceForm)
	mux.HandleFunc("POST /api/bounce", s.apiBounce)
	mux.Handle("/mcp", s.MCPHandler())
	if s.TLSReports != nil {
		mux.HandleFunc("POST /api/tlsrpt", s.apiPostTLSReport)
	}
	mux.HandleFunc("GET /api/results", s.apiList)
	mux.HandleFunc("GET /api/results/{id}", s.apiResult)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Store.List(r.Context(), store.ListQuery{Limit: 1}); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if h, ok := s.Store.(interface{ Health(context.Context) error }); ok {
			if err := h.Health(r.Context()); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		if s.Health != nil {
			if err := s.Health(); err != nil {
				http.Error(w, "dns: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
		s.writeNodes(w, r)
	})
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	mux.HandleFunc("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // files only: no directory listings
			return
		}
		files.ServeHTTP(w, r)
	})
	return secure(s.authenticate(mux))
}

// NewHTTPServer wraps h with the timeouts a public server needs.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// secure sets headers that keep probe content inert in browsers.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

type listPage struct {
	Chrome
	Kind    string
	Domain  string
	Tag     string
	Results []*store.Result
}

type homePage struct {
	Chrome
	Domain string
	Lint   bool
	Query  map[string]string
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("home.title")
	s.render(w, "home.html", homePage{Chrome: c, Domain: s.Domain, Lint: s.Lint != nil, Query: map[string]string{}})
}

// MaxTag bounds the +tag filter of the lists.
const MaxTag = 64

func (s *Server) list(k kind.Kind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := s.chrome(w, r, "") // asks s.admin once: a wrong token is counted once
		if !c.Lists {
			s.errorAt(w, r, http.StatusForbidden, "private.lists")
			return
		}
		tag := strings.TrimSpace(r.URL.Query().Get("tag"))
		if len(tag) > MaxTag {
			s.errorAt(w, r, http.StatusBadRequest, "error.tag", MaxTag)
			return
		}
		results, err := s.Store.List(r.Context(), store.ListQuery{Kind: k, Tag: tag, Limit: DefaultLimit})
		if err != nil {
			s.fail(w, err)
			return
		}
		c.Title, c.Refresh = c.Lang.T("list.title", string(k), s.Domain), RefreshSeconds
		s.render(w, "list.html", listPage{Chrome: c, Kind: string(k), Domain: s.Domain, Tag: tag, Results: results})
	}
}

type resultPage struct {
	Chrome
	Domain    string
	Result    *store.Result
	Verdict   *verify.Verdict
	Diagnosis *explain.Diagnosis
	Header    string
	// PreviousTags are the tags of the verdict this one replaced, when
	// the probe was judged again.
	PreviousTags []string
	// Waiting says what the page waits for; ReplyNote whether a reply
	// will come, and why not.
	Waiting, ReplyNote string
	// Masked: the reader has neither the key of the reply's link nor a
	// token with the results scope, and sees what the lists show of the
	// sender (masked addresses, no headers).
	Masked bool
	// Bounce is the explanation of a bounce forwarded to bounce@ (full
	// view only: it quotes strangers' addresses).
	Bounce *bounce.Said
}

// fullView reports whether r may see res in full: with the key its reply
// links to (?k=), or with a token with the results scope.
func fullView(r *http.Request, res *store.Result) bool {
	if grant(r).Has(store.ScopeResults) {
		return true
	}
	k := r.URL.Query().Get("k")
	return res.ViewKey != "" && subtle.ConstantTimeCompare([]byte(k), []byte(res.ViewKey)) == 1
}

// mask hides of a result and its verdict what identifies the sender
// beyond what the lists show: the addresses' local parts, the display
// name, the headers, the reply's recipient and its delivery errors.
func mask(res *store.Result, v *verify.Verdict) (*store.Result, *verify.Verdict) {
	m := *res
	m.MailFrom = maskSender(res.MailFrom)
	m.Recipient = string(res.Kind) + "@" + res.Recipient[strings.LastIndexByte(res.Recipient, '@')+1:]
	m.Address = rcpt.Address{Kind: res.Kind, Lang: res.Lang} // a tag may hold a redirect address
	m.Raw, m.Verdict, m.Previous = nil, nil, nil
	if res.Reply != nil {
		reply := *res.Reply
		if reply.Rcpt != "" {
			reply.Rcpt = maskSender(reply.Rcpt)
		}
		reply.LastError, reply.Tries = "", nil
		m.Reply = &reply
	}
	if v == nil {
		return &m, nil
	}
	mv := *v
	mv.From.Name, mv.From.Header = "", ""
	if mv.From.Address != "" {
		mv.From.Address = maskSender(v.From.Address)
	}
	mv.AuthenticationResults = ""
	return &m, &mv
}

// diagnosis reads a result's verdict and diagnoses it in l; nil while
// the probe waits for its verdict.
func (s *Server) diagnosis(res *store.Result, l i18n.Lang) (*verify.Verdict, *explain.Diagnosis, error) {
	if res.Verdict == nil {
		return nil, nil, nil
	}
	v := &verify.Verdict{}
	if err := json.Unmarshal(res.Verdict, v); err != nil {
		return nil, nil, err
	}
	return v, explain.Diagnose(v, explain.Options{Lang: l, TesterDomain: s.Domain}), nil
}

// waiting says why a probe has no verdict yet: testerd's own DNS is not
// answering (and how many retries it is at), or it is being judged.
func (s *Server) waiting(res *store.Result, l i18n.Lang) string {
	switch {
	case res.Verdict != nil:
		return ""
	case res.TesterRetries > 0:
		return l.T("result.retrying", res.TesterRetries, MaxTesterRetries)
	}
	return l.T("result.verifying")
}

// MaxTesterRetries is how often a probe is judged again while testerd's
// DNS does not answer (worker.MaxRejudge), as the waiting page counts.
const MaxTesterRetries = 5

// replyNote says whether a reply will come, and why not.
func (s *Server) replyNote(res *store.Result, l i18n.Lang) string {
	o := res.Reply
	switch {
	case !res.Kind.Answered():
		return l.T("reply.none-operator", string(res.Kind))
	case o == nil && s.RepliesOff:
		return l.T("reply.no", l.Say(i18n.M("why.reply-off")))
	case o == nil:
		return l.T("reply.later")
	case o.State == store.Suppressed:
		return l.T("reply.no", l.Say(o.Reason))
	case o.State == store.Failed:
		return l.T("reply.failed", o.LastError)
	case o.State == store.Sent:
		return l.T("reply.sent-to", o.Rcpt)
	}
	return l.T("reply.coming", o.Rcpt)
}

func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	res, err := s.Store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		s.notFound(w, r, "notfound.result")
		return
	} else if err != nil {
		s.fail(w, err)
		return
	}
	c := s.chrome(w, r, "")
	page := resultPage{Chrome: c, Domain: s.Domain, Result: res}
	page.Title = c.Lang.T("result.title", res.Kind)
	if res.Reply != nil && (res.Reply.State == store.Queued || res.Reply.State == store.Deferred && time.Until(res.Reply.NextAttempt) < time.Minute) {
		page.Refresh = 5 // the reply's state changes soon
	}
	page.Verdict, page.Diagnosis, err = s.diagnosis(res, c.Lang)
	if err != nil {
		s.fail(w, err)
		return
	}
	if !fullView(r, res) {
		page.Masked = true
		page.Result, page.Verdict = mask(res, page.Verdict)
	}
	page.Waiting, page.ReplyNote = s.waiting(page.Result, c.Lang), s.replyNote(page.Result, c.Lang)
	if res.Kind == kind.Bounce && !page.Masked {
		page.Bounce = bounce.Explain(res.Raw).In(c.Lang, "check@"+s.Domain, "")
	}
	if page.Verdict == nil {
		page.Refresh = 2
	} else {
		page.Title += " · " + strings.Join(page.Verdict.Tags, " ")
	}
	if res.Previous != nil {
		var prev struct {
			Tags []string `json:"tags"`
		}
		if json.Unmarshal(res.Previous, &prev) == nil {
			page.PreviousTags = prev.Tags
		}
	}
	switch v := page.Verdict; {
	case page.Masked:
	case v != nil && !v.Message.BareLF && v.Message.HeaderBytes > 0 && v.Message.HeaderBytes <= len(res.Raw):
		page.Header = string(res.Raw[:v.Message.HeaderBytes]) // no second parse
	default:
		page.Header = string(message.Parse(res.Raw).Header)
	}
	if len(page.Header) > maxHeaderShown {
		page.Header = page.Header[:maxHeaderShown] + "\n[…]"
	}
	s.render(w, "result.html", page)
}

// apiResult is the JSON form of a result: the probe's envelope and the
// verdict struct that testerd check --json prints.
type apiResult struct {
	*store.Result
	Verdict json.RawMessage `json:"verdict"`
}

// resultDetail is GET /api/results/{id}: the result with its diagnosis in
// the language asked, what it waits for, and whether a reply will come.
type resultDetail struct {
	apiResult
	Diagnosis *explain.Diagnosis `json:"diagnosis"`
	Waiting   string             `json:"waiting,omitempty"`
	ReplyNote string             `json:"reply_note"`
	// Masked: without the result's key or the results scope, the sender
	// is masked and the verdict left out.
	Masked bool `json:"masked,omitempty"`
}

// Bounds of the JSON list: a response stops at MaxListBytes (with a next
// link to go on from), and at most maxHeavyLists full responses (with
// verdicts, for the admin token) are built at once.
const (
	MaxListBytes  = 4 << 20
	maxHeavyLists = 2
)

// publicResult is what anyone may see of a result in the list: what the
// HTML list shows, with the sender masked. The full record is at
// /r/{id} and /api/results/{id}, reachable by the unguessable id, and in
// the list for the admin token.
type publicResult struct {
	ID         string     `json:"id"`
	Received   time.Time  `json:"received"`
	Kind       kind.Kind  `json:"kind"`
	ClientIP   string     `json:"client_ip"`
	MailFrom   string     `json:"mail_from"`
	TLS        *store.TLS `json:"tls,omitempty"`
	Size       int        `json:"size"`
	Judged     time.Time  `json:"judged,omitzero"`
	Tags       []string   `json:"tags"`
	FromDomain string     `json:"from_domain"`
	Subject    string     `json:"subject"`
}

func (s *Server) apiList(w http.ResponseWriter, r *http.Request) {
	full := grant(r).Has(store.ScopeResults)
	if s.HideLists && !full && grant(r) != nil {
		apiError(w, http.StatusForbidden, "this token lacks the results scope, which the lists need on this tester")
		return
	}
	if s.HideLists && !full {
		apiError(w, http.StatusUnauthorized, "the lists are private on this tester: start a private test with POST /api/tests")
		return
	}
	q := r.URL.Query()
	k := kind.Kind(q.Get("kind"))
	if !k.Tester() && k != "" {
		apiError(w, http.StatusBadRequest, "kind must be spf, dkim or check")
		return
	}
	limit := DefaultLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLimit {
			apiError(w, http.StatusBadRequest, "limit must be 1 to "+strconv.Itoa(MaxLimit))
			return
		}
		limit = n
	}
	tag := q.Get("tag")
	if len(tag) > MaxTag {
		apiError(w, http.StatusBadRequest, "tag too long")
		return
	}
	var before time.Time
	if b := q.Get("before"); b != "" {
		t, err := time.Parse(time.RFC3339Nano, b)
		if err != nil {
			apiError(w, http.StatusBadRequest, "before must be an RFC 3339 time, as the next link gives it")
			return
		}
		before = t
	}
	if full {
		select {
		case s.heavy <- struct{}{}:
			defer func() { <-s.heavy }()
		case <-time.After(5 * time.Second):
			apiError(w, http.StatusServiceUnavailable, "too many full lists are being built; try again")
			return
		case <-r.Context().Done():
			return
		}
	}
	results, err := s.Store.List(r.Context(), store.ListQuery{Kind: k, Tag: tag, Limit: limit, Before: before, WithVerdict: full})
	if err != nil {
		s.fail(w, err)
		return
	}
	var body bytes.Buffer
	body.WriteString(`{"results":[`)
	n := 0
	for _, res := range results {
		var item any = publicResult{ID: res.ID, Received: res.Received, Kind: res.Kind, ClientIP: res.ClientIP.String(), MailFrom: maskSender(res.MailFrom),
			TLS: res.TLS, Size: res.Size, Judged: res.Judged, Tags: res.Tags, FromDomain: res.FromDomain, Subject: res.Subject}
		if full {
			item = apiResult{Result: res, Verdict: rawOrNull(res.Verdict)}
		}
		b, err := json.Marshal(item)
		if err != nil {
			s.fail(w, err)
			return
		}
		budget := MaxListBytes
		if s.listBytes > 0 {
			budget = s.listBytes
		}
		if n > 0 && body.Len()+len(b) > budget {
			break
		}
		if n > 0 {
			body.WriteByte(',')
		}
		body.Write(b)
		n++
	}
	body.WriteString("]")
	if n > 0 && (n < len(results) || len(results) == limit) {
		next := url.Values{}
		for k, v := range q {
			next[k] = v
		}
		next.Set("before", results[n-1].Received.Format(time.RFC3339Nano))
		fmt.Fprintf(&body, `,"next":%q`, "/api/results?"+next.Encode())
	}
	body.WriteString("}\n")
	w.Header().Set("Content-Type", "application/json")
	w.Write(body.Bytes())
}

func (s *Server) apiResult(w http.ResponseWriter, r *http.Request) {
	res, err := s.Store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		apiError(w, http.StatusNotFound, "no such result")
		return
	} else if err != nil {
		s.fail(w, err)
		return
	}
	l := s.apiLang(r)
	_, d, err := s.diagnosis(res, l)
	if err != nil {
		s.fail(w, err)
		return
	}
	detail := resultDetail{apiResult: apiResult{Result: res, Verdict: rawOrNull(res.Verdict)}, Diagnosis: d}
	if !fullView(r, res) {
		// The diagnosis and tags, and the sender as the lists show it.
		masked, _ := mask(res, nil)
		detail.Result, detail.Verdict, detail.Masked = masked, rawOrNull(nil), true
	}
	detail.Waiting, detail.ReplyNote = s.waiting(detail.Result, l), s.replyNote(detail.Result, l)
	writeJSON(w, http.StatusOK, detail)
}

// apiLang is the language a JSON answer's sentences are in: ?lang=, else
// Accept-Language, else the server's.
func (s *Server) apiLang(r *http.Request) i18n.Lang {
	if l, ok := i18n.Parse(r.URL.Query().Get("lang")); ok {
		return l
	}
	if h := r.Header.Get("Accept-Language"); h != "" {
		return i18n.Match(h)
	}
	if s.Lang != "" {
		return s.Lang
	}
	return i18n.Default
}

func rawOrNull(b []byte) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	return b
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// Chrome is what every page's frame needs: its language, title, reload
// interval and the links to the same page in the other languages.
type Chrome struct {
	Lang    i18n.Lang
	Title   string
	Refresh int
	Langs   []LangLink
	// Lists says whether this reader may see the lists of results
	// (Server.HideLists).
	Lists bool
}

// LangLink is one entry of the language switch.
type LangLink struct {
	Lang    i18n.Lang
	Name    string
	URL     string
	Current bool
}

// langCookie remembers a visitor's choice of the switch.
const langCookie = "testerd_lang"

// chrome picks the page's language: ?lang= (which the switch links set,
// and which is remembered in a cookie), then the cookie, then
// Accept-Language, then the server's default.
func (s *Server) chrome(w http.ResponseWriter, r *http.Request, title string) Chrome {
	w.Header().Add("Vary", "Accept-Language, Cookie")
	l, ok := i18n.Parse(r.URL.Query().Get("lang"))
	if ok {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600, SameSite: http.SameSiteLaxMode, HttpOnly: true})
	} else if c, err := r.Cookie(langCookie); err == nil {
		l, ok = i18n.Parse(c.Value)
	}
	if !ok {
		if h := r.Header.Get("Accept-Language"); h != "" {
			l, ok = i18n.Match(h), true
		}
	}
	if !ok {
		l = s.Lang
		if l == "" {
			l = i18n.EN
		}
	}
	c := Chrome{Lang: l, Title: title, Lists: !s.HideLists || grant(r).Has(store.ScopeResults)}
	for _, o := range i18n.Langs {
		q := r.URL.Query()
		q.Set("lang", string(o))
		c.Langs = append(c.Langs, LangLink{Lang: o, Name: o.Name(), URL: r.URL.Path + "?" + q.Encode(), Current: o == l})
	}
	return c
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	lang := i18n.EN
	if c, ok := data.(interface{ chrome() Chrome }); ok {
		lang = c.chrome().Lang
	}
	var b strings.Builder
	if err := s.tmpl[lang].ExecuteTemplate(&b, name, data); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(b.String()))
}

// errorPage is an error as a page in the reader's language, with its
// status code: a sentence of the catalog, and a way on.
type errorPage struct {
	Chrome
	Message string
}

// errorAt answers code with the page of the catalog's key.
func (s *Server) errorAt(w http.ResponseWriter, r *http.Request, code int, key string, args ...any) {
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("error.title", code)
	var b strings.Builder
	if err := s.tmpl[c.Lang].ExecuteTemplate(&b, "error.html", errorPage{Chrome: c, Message: c.Lang.Say(i18n.M(key, args...))}); err != nil {
		s.Logger.Error("web", "err", err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	w.Write([]byte(b.String()))
}

// notFound answers 404 with the page of key.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request, key string, args ...any) {
	s.errorAt(w, r, http.StatusNotFound, key, args...)
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	s.Logger.Error("web", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// badRequest answers 400 with the page saying err.
func (s *Server) badRequest(w http.ResponseWriter, r *http.Request, err error) {
	s.errorAt(w, r, http.StatusBadRequest, "error.bad", i18n.Of(err))
}

func (c Chrome) chrome() Chrome { return c }

// tagClass picks a CSS class for a verdict tag.
func tagClass(tag string) string {
	switch {
	case strings.HasPrefix(tag, "|OK|"):
		return "ok"
	case strings.HasPrefix(tag, "|~OK|"):
		return "soso"
	}
	return "bad"
}

// maskSender hides most of the local part: a***@example.com.
func maskSender(addr string) string {
	if addr == "" {
		return "<>"
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		return "***"
	}
	first := addr[:1]
	if addr[0] >= 0x80 {
		first = "*"
	}
	return first + "***" + addr[at:]
}

// writeNodes adds the live nodes to /healthz: how many for anyone, and
// for the admin each one's name, instance, address, start and heartbeat.
func (s *Server) writeNodes(w http.ResponseWriter, r *http.Request) {
	if s.Nodes == nil {
		return
	}
	nodes, err := s.Nodes(r.Context())
	if err != nil {
		fmt.Fprintf(w, "nodes: unknown (%v)\n", err)
		return
	}
	fmt.Fprintf(w, "nodes: %d live\n", len(nodes))
	if !s.admin(r) {
		return
	}
	now := time.Now()
	for _, n := range nodes {
		fmt.Fprintf(w, "node %s: instance %s at %s, started %s, heartbeat %.1fs ago\n", n.Name, n.Instance, n.Addr,
			n.Started.UTC().Format(time.RFC3339), now.Sub(n.Heartbeat).Seconds())
	}
}
