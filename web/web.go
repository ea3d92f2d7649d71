// Package web serves the tester's pages and JSON API over net/http: the
// latest results per tester (/spf, /dkim, /check), one verdict in full
// (/r/{id}), the JSON API (/api/results, /api/results/{id}) and /healthz.
// It only reads the store. Every value that came from a probe or from DNS
// is escaped by html/template, and a strict Content-Security-Policy (no
// script at all) backs that up.
package web

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/testerd/testerd/dmarcreport"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/message"
	"github.com/testerd/testerd/verify/requirements"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is what the web needs of the store.
type Store interface {
	List(ctx context.Context, kind string, limit int, withVerdict bool) ([]*store.Result, error)
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
	Health  func() error
	tmpl    *template.Template
	domains domainChecker
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"tagClass": tagClass,
		"severityClass": func(s lint.Severity) string {
			return map[lint.Severity]string{lint.Error: "bad", lint.Warning: "soso", lint.Info: "ok"}[s]
		},
		"statusClass": func(s requirements.Status) string {
			return map[requirements.Status]string{requirements.Pass: "ok", requirements.Warn: "soso", requirements.Fail: "bad"}[s]
		},
		"replyClass": func(state string) string {
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
		"pct":  dmarcreport.Percent,
		"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
	}).ParseFS(templateFS, "templates/*.html"))
	static, _ := fs.Sub(staticFS, "static")

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	for _, k := range verify.Kinds {
		mux.HandleFunc("GET /"+string(k), s.list(string(k)))
	}
	mux.HandleFunc("GET /r/{id}", s.result)
	if s.Reports != nil && s.AdminToken != "" {
		mux.HandleFunc("GET /login", s.loginForm)
		mux.HandleFunc("POST /login", s.login)
		mux.HandleFunc("GET /logout", s.logout)
		mux.HandleFunc("GET /reports", s.adminPage(s.reportsIndex))
		mux.HandleFunc("GET /reports/{domain}", s.adminPage(s.reportDomain))
		mux.HandleFunc("GET /reports/xml/{id}", s.adminPage(s.reportXML))
		mux.HandleFunc("GET /api/reports", s.adminAPI(s.apiReports))
		mux.HandleFunc("GET /api/reports/{domain}", s.adminAPI(s.apiReportDomain))
	} else {
		mux.HandleFunc("GET /reports", s.noAdmin)
	}
	if s.Lint != nil {
		mux.HandleFunc("GET /domain", s.domainForm)
		mux.HandleFunc("GET /api/domain/{name}", s.apiDomain)
	}
	mux.HandleFunc("GET /api/results", s.apiList)
	mux.HandleFunc("GET /api/results/{id}", s.apiResult)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Store.List(r.Context(), "", 1, false); err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if s.Health != nil {
			if err := s.Health(); err != nil {
				http.Error(w, "dns: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return secure(mux)
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
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

type listPage struct {
	Kind    string
	Domain  string
	Refresh int
	Results []*store.Result
}

type homePage struct {
	Domain  string
	Lint    bool
	Query   map[string]string
	Refresh int
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	s.render(w, "home.html", homePage{Domain: s.Domain, Lint: s.Lint != nil, Query: map[string]string{}})
}

func (s *Server) list(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		results, err := s.Store.List(r.Context(), kind, DefaultLimit, false)
		if err != nil {
			s.fail(w, err)
			return
		}
		s.render(w, "list.html", listPage{Kind: kind, Domain: s.Domain, Refresh: RefreshSeconds, Results: results})
	}
}

type resultPage struct {
	Domain  string
	Result  *store.Result
	Verdict *verify.Verdict
	Text    string
	Header  string
	Refresh int
}

func (s *Server) result(w http.ResponseWriter, r *http.Request) {
	res, err := s.Store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "no such result (results are kept for a limited time)", http.StatusNotFound)
		return
	} else if err != nil {
		s.fail(w, err)
		return
	}
	page := resultPage{Domain: s.Domain, Result: res}
	if res.Reply != nil && (res.Reply.State == store.Queued || res.Reply.State == store.Deferred && time.Until(res.Reply.NextAttempt) < time.Minute) {
		page.Refresh = 5 // the reply's state changes soon
	}
	if res.Verdict == nil {
		page.Refresh = 2
	} else {
		v := &verify.Verdict{}
		if err := json.Unmarshal(res.Verdict, v); err != nil {
			s.fail(w, err)
			return
		}
		page.Verdict = v
		var text strings.Builder
		v.WriteText(&text, s.Domain)
		page.Text = text.String()
	}
	m := message.Parse(res.Raw)
	page.Header = string(m.Header)
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

func (s *Server) apiList(w http.ResponseWriter, r *http.Request) {
	kind := r.URL.Query().Get("kind")
	if _, ok := verify.ParseKind(kind); !ok && kind != "" {
		apiError(w, http.StatusBadRequest, "kind must be spf, dkim or check")
		return
	}
	limit := DefaultLimit
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > MaxLimit {
			apiError(w, http.StatusBadRequest, "limit must be 1 to "+strconv.Itoa(MaxLimit))
			return
		}
		limit = n
	}
	results, err := s.Store.List(r.Context(), kind, limit, true)
	if err != nil {
		s.fail(w, err)
		return
	}
	out := make([]apiResult, len(results))
	for i, res := range results {
		out[i] = apiResult{Result: res, Verdict: rawOrNull(res.Verdict)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
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
	writeJSON(w, http.StatusOK, apiResult{Result: res, Verdict: rawOrNull(res.Verdict)})
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
	writeJSON(w, code, map[string]string{"error": msg})
}

func (s *Server) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := s.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(b.String()))
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	s.Logger.Error("web", "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

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
