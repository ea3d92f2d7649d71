// Package unsubscribe tries a message's one-click unsubscribe (RFC 8058)
// for real, as a mailbox provider does when its user clicks: one POST of
// "List-Unsubscribe=One-Click" to the https URL of List-Unsubscribe. The
// URL is a stranger's, so the request goes only to public addresses
// (netguard, checked on the address dialled), follows no redirect, waits
// 10 s at most and reads 4 KB of the answer. It unsubscribes the
// recipient the message was sent to, which is the tester's own address.
package unsubscribe

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/internal/untrusted"
)

// Bounds of a try.
const (
	DefaultTimeout = 10 * time.Second
	MaxRead        = 4 << 10
)

// Outcome is what the try found.
type Outcome string

// Outcomes.
const (
	// Works: a 2xx answer; the address is unsubscribed.
	Works Outcome = "works"
	// Redirect: a 3xx answer, as for a landing page a browser would
	// show: RFC 8058's POST gets no page.
	Redirect Outcome = "redirect"
	// NoPost: 405 (or 501): the URL takes only GET.
	NoPost Outcome = "no-post"
	// Refused: another 4xx or 5xx.
	Refused Outcome = "refused"
	// Timeout: no answer in time.
	Timeout Outcome = "timeout"
	// Unreachable: no connection (DNS, TCP or TLS failed).
	Unreachable Outcome = "unreachable"
	// NotPublic: the host is at a non-public address: not tried.
	NotPublic Outcome = "not-public"
)

// Result is one try.
type Result struct {
	URL          string  `json:"url"`
	Outcome      Outcome `json:"outcome"`
	Status       int     `json:"status,omitempty"`
	Location     string  `json:"location,omitempty"`
	Error        string  `json:"error,omitempty"`
	Milliseconds int64   `json:"milliseconds"`
}

// Trier makes the tries.
type Trier struct {
	// Timeout bounds one try; 0 is DefaultTimeout.
	Timeout time.Duration
	// AllowPrivate lets tries reach non-public addresses (tests).
	AllowPrivate bool
	// TLS, if set, is the client's TLS configuration (tests' roots).
	TLS *tls.Config

	once   sync.Once
	client *http.Client
}

var errNotPublic = errors.New("a private, loopback or otherwise non-public address")

func (t *Trier) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return DefaultTimeout
}

func (t *Trier) init() {
	t.client = netguard.Client(t.timeout(), t.AllowPrivate, errNotPublic, t.TLS)
}

// Try POSTs the one-click unsubscription to rawURL, an https URL.
func (t *Trier) Try(ctx context.Context, rawURL string) Result {
	t.once.Do(t.init)
	start := time.Now()
	r := Result{URL: rawURL}
	defer func() { r.Milliseconds = time.Since(start).Milliseconds() }()
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		r.Outcome, r.Error = Unreachable, "not an https URL"
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil {
		r.Outcome, r.Error = Unreachable, err.Error()
		return r
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "testerd (one-click unsubscribe test, RFC 8058)")
	resp, err := t.client.Do(req)
	switch {
	case err != nil && errors.Is(err, errNotPublic):
		r.Outcome, r.Error = NotPublic, clip(err.Error())
		return r
	case err != nil && (errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err)):
		r.Outcome = Timeout
		return r
	case err != nil:
		r.Outcome, r.Error = Unreachable, clip(err.Error())
		return r
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, MaxRead))
	r.Status = resp.StatusCode
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.Outcome = Works
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		r.Outcome, r.Location = Redirect, clip(resp.Header.Get("Location"))
	case resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented:
		r.Outcome = NoPost
	default:
		r.Outcome = Refused
	}
	return r
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func clip(s string) string { return untrusted.Line(s, 300) }
