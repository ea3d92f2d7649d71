// Package webhook posts testerd's events (each verdict, each alert) as JSON
// to the URLs of API tokens, signed so the receiver knows they are
// testerd's. An event waits in the store's outbox beside the mail (channel
// "webhook"), so it is retried with the outbound queue's backoff and
// survives a restart; Poster makes one attempt.
//
// The signature, documented for receivers in the README: the header
//
//	Testerd-Signature: t=UNIX-SECONDS,v1=HEX
//
// where HEX is HMAC-SHA256, keyed with the token's webhook secret, over
// the bytes of "UNIX-SECONDS." followed by the request body. A receiver
// recomputes it, compares in constant time, and refuses a timestamp older
// than a few minutes (Verify does all three), so a captured request cannot
// be replayed later.
//
// Where a webhook may point is judged at each connection, on the address
// actually dialled: never a private, loopback or otherwise non-public one
// (netguard) unless the operator allows it, so DNS cannot aim testerd at
// its own network.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/store"
)

// Headers of a webhook request.
const (
	SignatureHeader = "Testerd-Signature"
	EventHeader     = "Testerd-Event"
	DeliveryHeader  = "Testerd-Delivery"
)

// Bounds of one attempt.
const (
	Timeout = 15 * time.Second
	// maxResponse is how much of a response is read, for the error.
	maxResponse = 4 << 10
	// DefaultTolerance is how old a signature Verify accepts.
	DefaultTolerance = 5 * time.Minute
)

// Event is the body of a verdict's webhook request.
type Event struct {
	Event    string    `json:"event"` // "verdict"
	ResultID string    `json:"result_id"`
	Kind     string    `json:"kind"`
	Received time.Time `json:"received"`
	Judged   time.Time `json:"judged"`
	Tags     []string  `json:"tags"`
	// Again: the probe was judged again (re-analysis).
	Again bool `json:"again"`
	// PrivateTest is the private test's tag, if the probe was sent to one.
	PrivateTest string `json:"private_test,omitempty"`
	// URL is the result's page, API its JSON.
	URL     string          `json:"url"`
	API     string          `json:"api"`
	Verdict json.RawMessage `json:"verdict"`
}

// VerdictEvent is the body of the event for a probe's verdict (its JSON).
func VerdictEvent(baseURL string, pr *store.Probe, tags []string, verdict []byte, judged time.Time, again bool) ([]byte, error) {
	e := Event{Event: "verdict", ResultID: pr.ID, Kind: string(pr.Kind), Received: pr.Received.UTC(), Judged: judged.UTC(),
		Tags: tags, Again: again, URL: baseURL + pr.ResultPath(), API: baseURL + "/api/results/" + pr.ID}
	e.PrivateTest = pr.Private
	if e.Tags == nil {
		e.Tags = []string{}
	}
	// The verdict is spliced in as it is: json.Marshal would validate and
	// compact its many kilobytes again, on every verdict's path.
	b, err := json.Marshal(e)
	if err != nil || len(verdict) == 0 {
		return b, err
	}
	const tail = `"verdict":null}`
	if !bytes.HasSuffix(b, []byte(tail)) {
		return nil, errors.New("webhook: the event does not end with its verdict")
	}
	out := make([]byte, 0, len(b)+len(verdict))
	out = append(out, b[:len(b)-len("null}")]...)
	out = append(out, verdict...)
	return append(out, '}'), nil
}

// Sign returns the Testerd-Signature header value for body at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Testerd-Signature header against body: the HMAC, and a
// timestamp no further than tolerance from now.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("webhook: malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: signature timestamp %s is outside the %s tolerance", time.Unix(sec, 0).UTC().Format(time.RFC3339), tolerance)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook: signature does not match")
}

// TokenStore gives a webhook's token, for its URL and secret at the time
// of sending.
type TokenStore interface {
	Token(ctx context.Context, id string) (*store.Token, error)
}

// Poster delivers webhook requests (outbound.Poster).
type Poster struct {
	Tokens TokenStore
	// AllowPrivate lets webhooks reach private and loopback addresses
	// (the operator's own receivers, tests).
	AllowPrivate bool
	// TLS, if set, replaces the default client TLS configuration (tests
	// give their own roots).
	TLS *tls.Config
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	once   sync.Once
	client *http.Client
}

// ErrRefusedAddress is the dial error for a non-public address.
var ErrRefusedAddress = errors.New("resolves to a private, loopback or otherwise non-public address; testerd posts there only with --webhook-allow-private")

func (p *Poster) httpClient() *http.Client {
	p.once.Do(p.init)
	return p.client
}

func (p *Poster) init() {
	// A redirect is the receiver's answer, not an instruction: it is
	// recorded as a failure.
	p.client = netguard.Client(Timeout, p.AllowPrivate, ErrRefusedAddress, p.TLS)
}

// Post makes one attempt at o. A 2xx answer delivers it; 408, 425, 429,
// 5xx and network errors are temporary; any other answer, a revoked token
// and a refused address are permanent.
func (p *Poster) Post(ctx context.Context, o *store.Outgoing) (*outbound.Delivery, error) {
	tok, err := p.Tokens.Token(ctx, o.TokenID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, &outbound.Error{Permanent: true, Err: errors.New("the webhook's token is gone")}
	case err != nil:
		return nil, &outbound.Error{Err: fmt.Errorf("reading the webhook's token: %w", err)}
	case !tok.Revoked.IsZero():
		return nil, &outbound.Error{Permanent: true, Err: errors.New("the webhook's token was revoked")}
	case tok.Webhook != o.Rcpt:
		return nil, &outbound.Error{Permanent: true, Err: errors.New("the token's webhook URL changed")}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.Rcpt, bytes.NewReader(o.Data))
	if err != nil {
		return nil, &outbound.Error{Permanent: true, Err: err}
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "testerd-webhook/1")
	req.Header.Set(EventHeader, eventName(o.Data))
	req.Header.Set(DeliveryHeader, o.ID)
	req.Header.Set(SignatureHeader, Sign(tok.WebhookSecret, now(), o.Data))
	host := req.URL.Host
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return nil, &outbound.Error{Permanent: errors.Is(err, ErrRefusedAddress), Host: host, Err: errors.Unwrap(err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	tlsVersion := ""
	if resp.TLS != nil {
		tlsVersion = tls.VersionName(resp.TLS.Version)
	}
	if resp.StatusCode/100 == 2 {
		return &outbound.Delivery{Relay: host, TLS: tlsVersion, Reply: resp.Status}, nil
	}
	msg := resp.Status
	if t := strings.TrimSpace(untrusted.Line(string(body), 200)); t != "" {
		msg += ": " + t
	}
	switch c := resp.StatusCode; {
	case c == 408, c == 425, c == 429, c >= 500:
		return nil, &outbound.Error{Host: host, Err: errors.New(msg)}
	}
	return nil, &outbound.Error{Permanent: true, Host: host, Err: errors.New(msg)}
}

// eventName is the event a body carries ("verdict", "alert").
func eventName(body []byte) string {
	var e struct {
		Event string `json:"event"`
	}
	if json.Unmarshal(body, &e) != nil || e.Event == "" || len(e.Event) > 32 || strings.ContainsAny(e.Event, "\r\n") {
		return "verdict"
	}
	return e.Event
}
