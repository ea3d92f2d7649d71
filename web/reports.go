package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/reports"
	"github.com/testerd/testerd/store"
)

// ReportStore is what the DMARC report pages read.
type ReportStore interface {
	Reports(ctx context.Context, domain string, since time.Time, limit int) ([]*store.DMARCReport, error)
	Report(ctx context.Context, id int64) (*store.DMARCReport, error)
	ReportDomains(ctx context.Context, since time.Time) ([]store.ReportDomain, error)
	ReportRows(ctx context.Context, domain string, since time.Time) ([]*store.DMARCRecord, error)
	TLSSummaryOf(ctx context.Context, domain string, since time.Time) (*store.TLSSummary, error)
	TLSDomains(ctx context.Context, since time.Time) ([]store.TLSDomain, error)
}

// Report page limits.
const (
	DefaultReportDays = 7
	MaxReportDays     = 90
	// maxPTR bounds the reverse lookups of one page.
	maxPTR = 30
	// adminCookie carries the session after the login form.
	adminCookie = "testerd_admin"
)

// page wraps an admin page: without credentials, the login form.
func (s *Server) adminPage(scope store.Scope, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !grant(r).Has(scope) {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		h(w, r)
	}
}

type loginPage struct {
	Chrome
	Domain string
	Error  string
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) loginPage {
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("login.title")
	return loginPage{Chrome: c, Domain: s.Domain}
}

func (s *Server) loginForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, "login.html", s.loginPage(w, r))
}

// login checks the token from the form and starts a session. Wrong
// tokens are slowed down and counted (see admin), and the form takes no
// more than 4 KB.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	g, err := s.check(r, r.PostFormValue("token"))
	if err == nil && !g.Has(store.ScopeReports) {
		err = errors.New("this token lacks the reports scope")
	}
	if err != nil {
		page := s.loginPage(w, r)
		page.Error = page.Lang.T("login.wrong")
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, "login.html", page)
		return
	}
	id, err := s.startSession(r.Context(), g)
	if err != nil {
		s.fail(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: id, Path: "/", HttpOnly: true,
		Secure: s.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: int(sessionAge / time.Second)})
	http.Redirect(w, r, "/reports", http.StatusSeeOther)
}

// logout ends the session (POST only, so no link or image can do it).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(adminCookie); err == nil {
		s.endSession(r.Context(), c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: adminCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type reportsPage struct {
	Chrome
	Domain  string
	Days    int
	Domains []store.ReportDomain
	Reports []*store.DMARCReport
	TLS     []store.TLSDomain
}

func (s *Server) reportsIndex(w http.ResponseWriter, r *http.Request) {
	days, err := reportDays(r)
	if err != nil {
		s.badRequest(w, r, err)
		return
	}
	since := time.Now().AddDate(0, 0, -days)
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("reports.title")
	page := reportsPage{Chrome: c, Domain: s.Domain, Days: days}
	if page.Domains, err = s.Reports.ReportDomains(r.Context(), since); err == nil {
		page.Reports, err = s.Reports.Reports(r.Context(), "", since, 200)
	}
	if err == nil {
		page.TLS, err = s.Reports.TLSDomains(r.Context(), since)
	}
	if err != nil {
		s.fail(w, err)
		return
	}
	s.render(w, "reports.html", page)
}

func reportDays(r *http.Request) (int, error) {
	days := DefaultReportDays
	if d := r.URL.Query().Get("days"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > MaxReportDays {
			return 0, i18n.Errorf("error.days", MaxReportDays)
		}
		days = n
	}
	return days, nil
}

// summary builds a domain's summary over the last days, with the
// reverse DNS of its main sources.
func (s *Server) summary(r *http.Request) (*reports.Summary, []*store.DMARCReport, int, error) {
	domain, err := message.Domain(r.PathValue("domain"))
	if err != nil {
		return nil, nil, http.StatusBadRequest, err
	}
	days, err := reportDays(r)
	if err != nil {
		return nil, nil, http.StatusBadRequest, err
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	since := today.AddDate(0, 0, 1-days)
	rows, err := s.Reports.ReportRows(r.Context(), domain, since)
	if err != nil {
		return nil, nil, http.StatusInternalServerError, err
	}
	list, err := s.Reports.Reports(r.Context(), domain, since, 500)
	if err != nil {
		return nil, nil, http.StatusInternalServerError, err
	}
	sum := reports.Summarize(domain, since, days, rows)
	s.reverse(r.Context(), sum)
	return sum, list, http.StatusOK, nil
}

// reverse fills the PTR names of the first sources, in parallel, under
// one short deadline.
func (s *Server) reverse(ctx context.Context, sum *reports.Summary) {
	if s.Resolver == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	ptr := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, src := range sum.Sources {
		if i == maxPTR {
			break
		}
		a, err := netip.ParseAddr(src.IP)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			names, err := s.Resolver.LookupAddr(ctx, a)
			if err == nil && len(names) > 0 {
				mu.Lock()
				ptr[src.IP] = strings.TrimSuffix(names[0], ".")
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for i := range sum.Sources {
		sum.Sources[i].PTR = ptr[sum.Sources[i].IP]
	}
	for i := range sum.Fixes {
		sum.Fixes[i].PTR = ptr[sum.Fixes[i].IP]
	}
}

type reportDomainPage struct {
	Chrome
	Domain  string
	Summary *reports.Summary
	Reports []*store.DMARCReport
	Chart   template.HTML
}

func (s *Server) reportDomain(w http.ResponseWriter, r *http.Request) {
	sum, list, code, err := s.summary(r)
	if err != nil {
		s.errorAt(w, r, code, "error.bad", i18n.Of(err))
		return
	}
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("reportdomain.title", sum.Domain)
	s.render(w, "reportdomain.html", reportDomainPage{Chrome: c, Domain: s.Domain, Summary: sum, Reports: list, Chart: chart(c.Lang, sum.Daily)})
}

func (s *Server) apiReports(w http.ResponseWriter, r *http.Request) {
	days, err := reportDays(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	since := time.Now().AddDate(0, 0, -days)
	domains, err := s.Reports.ReportDomains(r.Context(), since)
	if err != nil {
		s.fail(w, err)
		return
	}
	list, err := s.Reports.Reports(r.Context(), "", since, 200)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, reportList{Domains: orEmpty(domains), Reports: orEmpty(list)})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (s *Server) apiReportDomain(w http.ResponseWriter, r *http.Request) {
	sum, list, code, err := s.summary(r)
	if err != nil {
		apiError(w, code, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, domainReports{Summary: sum, Reports: orEmpty(list)})
}

// reportXML serves a report's XML (or the message, when nothing could be
// extracted) as plain text, so the browser shows it and never renders it.
func (s *Server) reportXML(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		s.errorAt(w, r, http.StatusBadRequest, "error.id")
		return
	}
	rep, err := s.Reports.Report(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		s.fail(w, err)
		return
	}
	// A report that was read is kept compressed in its message: decompress
	// it again; one that could not be read has its excerpt; a message with
	// no report shows as received.
	body := rep.XML
	if len(body) == 0 {
		body = rep.Raw
		if x, ok := reports.Original(rep.Raw, rep.ReportID); ok && rep.Error == "" {
			body = x
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(body)
}

// chart draws daily volume (bars) and DMARC pass rate (a line) as inline
// SVG. Only numbers and dates formatted here go into it.
func chart(l i18n.Lang, days []reports.Day) template.HTML {
	const w, h, pad = 720, 200, 30
	if len(days) == 0 {
		return ""
	}
	var max int64 = 1
	for _, d := range days {
		if d.Messages > max {
			max = d.Messages
		}
	}
	slot := float64(w-2*pad) / float64(len(days))
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="%s">`, w, h+20, w, h+20, template.HTMLEscapeString(l.T("chart.label")))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#999"/>`, pad, h-pad, w-pad, h-pad)
	var line []string
	for i, d := range days {
		x := float64(pad) + slot*float64(i)
		bh := float64(h-2*pad) * float64(d.Messages) / float64(max)
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#9cc3e6"><title>%s</title></rect>`,
			x+2, float64(h-pad)-bh, slot-4, bh, template.HTMLEscapeString(l.T("chart.bar", d.Date, d.Messages, l.Percent(d.DMARCPass, d.Messages))))
		if d.Messages > 0 {
			y := float64(h-pad) - float64(h-2*pad)*d.PassRate()/100
			line = append(line, fmt.Sprintf("%.1f,%.1f", x+slot/2, y))
		}
		if len(days) <= 14 || i%7 == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%s</text>`, x+slot/2, h-pad+14, d.Date[5:])
		}
	}
	if len(line) > 0 {
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="#2a7d2a" stroke-width="2"/>`, strings.Join(line, " "))
	}
	fmt.Fprintf(&b, `<text x="%d" y="14" font-size="11">%s</text></svg>`, pad, template.HTMLEscapeString(l.T("chart.legend", max)))
	return template.HTML(b.String())
}

// noAdmin explains the report pages are off.
func (s *Server) noAdmin(w http.ResponseWriter, r *http.Request) {
	s.notFound(w, r, "error.no-admin")
}

// apiTLSReports is GET /api/tlsreports/{domain}: the domain's SMTP TLS
// reports (RFC 8460) summed per day, and its failures by type and MX.
func (s *Server) apiTLSReports(w http.ResponseWriter, r *http.Request) {
	days, err := reportDays(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	domain, err := message.Domain(r.PathValue("domain"))
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	sum, err := s.Reports.TLSSummaryOf(r.Context(), domain, time.Now().AddDate(0, 0, -days))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, reports.ExplainTLS(sum))
}

type tlsReportPage struct {
	Chrome
	Domain  string
	Days    int
	Summary *reports.TLSSummary
}

// tlsReport is /reports/tls/{domain}: apiTLSReports as a page.
func (s *Server) tlsReport(w http.ResponseWriter, r *http.Request) {
	days, err := reportDays(r)
	if err != nil {
		s.badRequest(w, r, err)
		return
	}
	domain, err := message.Domain(r.PathValue("domain"))
	if err != nil {
		s.badRequest(w, r, err)
		return
	}
	sum, err := s.Reports.TLSSummaryOf(r.Context(), domain, time.Now().AddDate(0, 0, -days))
	if err != nil {
		s.fail(w, err)
		return
	}
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("tlsreport.title", domain)
	s.render(w, "tlsreport.html", tlsReportPage{Chrome: c, Domain: s.Domain, Days: days, Summary: reports.ExplainTLS(sum)})
}
