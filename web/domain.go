package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify"
)

// Limits of the domain checker, which asks DNS on behalf of strangers.
const (
	// ChecksPerMinute is what one client IP may start in a minute;
	// answers from the cache do not count.
	ChecksPerMinute = 10
	// CacheFor is how long a report is reused.
	CacheFor     = time.Minute
	cacheEntries = 256
	// maxSeenVerdicts bounds the verdicts read for selectors seen.
	maxSeenVerdicts = 100
)

// domainChecker holds the cache and the per-IP rate limit.
type domainChecker struct {
	mu      sync.Mutex
	cache   map[string]cached
	windows map[string]*window
}

type cached struct {
	rep *lint.Report
	at  time.Time
}

type window struct {
	start time.Time
	n     int
}

func (d *domainChecker) get(key string, now time.Time) *lint.Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.cache[key]; ok && now.Sub(c.at) < CacheFor {
		return c.rep
	}
	return nil
}

func (d *domainChecker) put(key string, rep *lint.Report, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cache == nil {
		d.cache = map[string]cached{}
	}
	if len(d.cache) >= cacheEntries {
		for k, c := range d.cache {
			if now.Sub(c.at) >= CacheFor || len(d.cache) >= cacheEntries {
				delete(d.cache, k)
			}
		}
	}
	d.cache[key] = cached{rep, now}
}

// allow counts a check for ip and reports whether it is within the limit.
func (d *domainChecker) allow(ip string, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.windows == nil || len(d.windows) > 10000 {
		d.windows = map[string]*window{}
	}
	w := d.windows[ip]
	if w == nil || now.Sub(w.start) >= time.Minute {
		w = &window{start: now}
		d.windows[ip] = w
	}
	w.n++
	return w.n <= ChecksPerMinute
}

// errRateLimited is a client network over ChecksPerMinute.
var errRateLimited = i18n.Errorf("domain.err.rate")

// lintRequest runs (or reuses) the check a request asks for.
func (s *Server) lintRequest(r *http.Request, name string) (*lint.Report, int, error) {
	q := r.URL.Query()
	o := lint.Options{}
	for _, sel := range strings.FieldsFunc(q.Get("selectors"), func(r rune) bool { return r == ',' || r == ' ' }) {
		if len(o.Selectors) == lint.MaxSelectors {
			break
		}
		if len(sel) > 63 || strings.ContainsFunc(sel, func(r rune) bool {
			return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
		}) {
			return nil, http.StatusBadRequest, i18n.Errorf("domain.err.selector")
		}
		o.Selectors = append(o.Selectors, strings.ToLower(sel))
	}
	if ip := q.Get("ip"); ip != "" {
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, http.StatusBadRequest, i18n.Errorf("domain.err.ip")
		}
		o.IP = a
		o.MailFrom = q.Get("mail_from")
		if len(o.MailFrom) > 254 || strings.ContainsAny(o.MailFrom, "\r\n") {
			return nil, http.StatusBadRequest, i18n.Errorf("domain.err.mail-from")
		}
		if o.MailFrom == "" {
			o.MailFrom = "postmaster@" + name
		}
	}
	// Counted per /24 or /64, so one network's many addresses share a
	// limit.
	return s.lintDomain(r.Context(), netguard.ClientNet(s.clientIP(r)).String(), name, o)
}

// lintDomain checks name for who (a client network, a token), from the
// cache when it was checked a moment ago, within who's limit.
func (s *Server) lintDomain(ctx context.Context, who, name string, o lint.Options) (*lint.Report, int, error) {
	domain, err := message.Domain(name)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	ip := ""
	if o.IP.IsValid() {
		ip = o.IP.String()
	}
	key := strings.Join([]string{domain, strings.Join(o.Selectors, ","), ip, o.MailFrom}, "|")
	now := time.Now()
	if rep := s.domains.get(key, now); rep != nil {
		return rep, http.StatusOK, nil
	}
	if !s.domains.allow(who, now) {
		return nil, http.StatusTooManyRequests, errRateLimited
	}
	o.Seen = s.seenSelectors(ctx, domain)
	rep, err := s.Lint.Check(ctx, domain, o)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	if !rep.TesterFailure { // testerd's DNS may answer at the next try
		s.domains.put(key, rep, now)
	}
	return rep, http.StatusOK, nil
}

// seenSelectors are the selectors of d= domain signatures in the latest
// verdicts of probes from that domain.
func (s *Server) seenSelectors(ctx context.Context, domain string) []string {
	vs, ok := s.Store.(interface {
		VerdictsFrom(ctx context.Context, domain string, limit int) ([][]byte, error)
	})
	if !ok {
		return nil
	}
	blobs, err := vs.VerdictsFrom(ctx, domain, maxSeenVerdicts)
	if err != nil {
		return nil
	}
	var out []string
	for _, b := range blobs {
		var v verify.Verdict
		if json.Unmarshal(b, &v) != nil || v.DKIM == nil {
			continue
		}
		for _, sig := range v.DKIM.Signatures {
			if strings.EqualFold(sig.Domain, domain) && sig.Selector != "" {
				out = append(out, sig.Selector)
			}
		}
	}
	return out
}

type domainPage struct {
	Chrome
	Domain string
	Query  map[string]string
	Report *lint.Report // in the page's language (lint.Report.In)
	Error  string
}

func (s *Server) domainForm(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("domain.title")
	if n := q.Get("name"); n != "" {
		c.Title += ": " + message.DisplayText(n)
	}
	page := domainPage{Chrome: c, Domain: s.Domain, Query: map[string]string{
		"name": q.Get("name"), "selectors": q.Get("selectors"), "ip": q.Get("ip"), "mail_from": q.Get("mail_from")}}
	if name := q.Get("name"); name != "" {
		rep, code, err := s.lintRequest(r, name)
		if err != nil {
			w.WriteHeader(code)
			page.Error = c.Lang.Say(i18n.Of(err))
		}
		if rep != nil {
			page.Report = rep.In(c.Lang)
		}
	}
	s.render(w, "domain.html", page)
}

func (s *Server) apiDomain(w http.ResponseWriter, r *http.Request) {
	l := s.apiLang(r)
	rep, code, err := s.lintRequest(r, r.PathValue("name"))
	if err != nil {
		apiError(w, code, l.Say(i18n.Of(err)))
		return
	}
	writeJSON(w, http.StatusOK, rep.In(l))
}
