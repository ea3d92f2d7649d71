package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scope is what an API token may do.
type Scope string

// Scopes of API tokens.
const (
	// ScopeResults reads every result with its verdict, and the lists when
	// they are private; its webhook gets every verdict.
	ScopeResults Scope = "results"
	// ScopeTests creates private tests the token owns; its webhook gets
	// their verdicts.
	ScopeTests Scope = "tests"
	// ScopeReports reads the DMARC reports.
	ScopeReports Scope = "reports"
	// ScopeMetrics scrapes /metrics when it asks for a token.
	ScopeMetrics Scope = "metrics"
	// ScopeMCP uses the MCP server at /mcp, as an AI assistant does: it
	// creates private tests (owned as with tests), reads their results,
	// checks domains, explains bounces and judges messages offline.
	ScopeMCP Scope = "mcp"
	// ScopeAdmin does everything, as the --admin-token does.
	ScopeAdmin Scope = "admin"
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeResults, ScopeTests, ScopeReports, ScopeMetrics, ScopeMCP, ScopeAdmin}

// Token defaults and bounds.
const (
	// DefaultRate is a token's request limit per minute.
	DefaultRate = 600
	MaxRate     = 100000
	// TokenPrefix starts every API token, so a leaked one is recognisable.
	TokenPrefix  = "tdk_"
	maxTokenName = 100
	// MaxWebhookURL bounds a webhook URL.
	MaxWebhookURL = 2000
)

// ErrRevoked is returned for a revoked token.
var ErrRevoked = errors.New("store: token revoked")

// Token is an API token as the store keeps it: its secret only as a hash.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Scopes  []Scope   `json:"scopes"`
	Rate    int       `json:"rate_per_minute"`
	Webhook string    `json:"webhook,omitempty"`
	Created time.Time `json:"created"`
	Revoked time.Time `json:"revoked,omitzero"`
	// WebhookSecret signs the webhook's requests. It is kept as it is,
	// since signing needs it; it grants nothing on the API.
	WebhookSecret string `json:"-"`
}

// Has reports whether t grants sc (admin grants every scope).
func (t *Token) Has(sc Scope) bool {
	return t != nil && (slices.Contains(t.Scopes, sc) || slices.Contains(t.Scopes, ScopeAdmin))
}

// ParseScopes reads a comma-separated list of scopes.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.Split(s, ",") {
		sc := Scope(strings.TrimSpace(strings.ToLower(f)))
		if !slices.Contains(Scopes, sc) {
			return nil, fmt.Errorf("unknown scope %q (scopes: %s)", f, joinScopes(Scopes))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

func joinScopes(scs []Scope) string {
	var b []string
	for _, sc := range scs {
		b = append(b, string(sc))
	}
	return strings.Join(b, ",")
}

// HashToken is how a token's secret is kept: SHA-256, enough for 256
// random bits (a slow hash guards guessable passwords, not these).
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// AddToken stores a new token with t's Name, Scopes, Rate and Webhook,
// filling in its ID, Created and (with a webhook) WebhookSecret, and
// returns the token's secret: shown once, never stored.
func (s *Store) AddToken(ctx context.Context, t *Token) (string, error) {
	if len(t.Scopes) == 0 {
		return "", errors.New("a token needs at least one scope")
	}
	if len(t.Name) > maxTokenName || strings.ContainsAny(t.Name, "\r\n") {
		return "", fmt.Errorf("a token's name is one line of at most %d bytes", maxTokenName)
	}
	if t.Rate == 0 {
		t.Rate = DefaultRate
	}
	if t.Rate < 0 || t.Rate > MaxRate {
		return "", fmt.Errorf("rate must be 1 to %d requests a minute", MaxRate)
	}
	if len(t.Webhook) > MaxWebhookURL {
		return "", fmt.Errorf("webhook URL over %d bytes", MaxWebhookURL)
	}
	t.ID = randomText(5) // 8 characters, for list and revoke
	secret := TokenPrefix + randomText(32)
	if t.Webhook != "" {
		t.WebhookSecret = "whs_" + randomText(32)
	}
	t.Created = time.Now().UTC()
	_, err := s.w.ExecContext(ctx, `INSERT INTO api_tokens (id, hash, name, scopes, rate, webhook, webhook_secret, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, HashToken(secret), t.Name, joinScopes(t.Scopes), t.Rate, t.Webhook, t.WebhookSecret, t.Created.UnixNano())
	if err != nil {
		return "", err
	}
	return secret, nil
}

const tokenColumns = `id, name, scopes, rate, webhook, webhook_secret, created_at, revoked_at`

func scanToken(sc scanner) (*Token, error) {
	t := &Token{}
	var scopes string
	var created, revoked int64
	if err := sc.Scan(&t.ID, &t.Name, &scopes, &t.Rate, &t.Webhook, &t.WebhookSecret, &created, &revoked); err != nil {
		return nil, err
	}
	for _, f := range strings.Split(scopes, ",") {
		if f != "" {
			t.Scopes = append(t.Scopes, Scope(f))
		}
	}
	t.Created, t.Revoked = time.Unix(0, created).UTC(), fromUnixNano(revoked)
	return t, nil
}

// TokenBySecret returns the token a secret is, ErrNotFound for none and
// ErrRevoked (with the token) for a revoked one.
func (s *Store) TokenBySecret(ctx context.Context, secret string) (*Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) {
		return nil, ErrNotFound
	}
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE hash = ?`, HashToken(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if !t.Revoked.IsZero() {
		return t, ErrRevoked
	}
	return t, nil
}

// Token returns a token by id, revoked or not.
func (s *Store) Token(ctx context.Context, id string) (*Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return t, err
}

// Tokens lists the tokens, oldest first.
func (s *Store) Tokens(ctx context.Context) ([]*Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM api_tokens ORDER BY created_at`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken revokes a token at once; revoking it again changes nothing.
func (s *Store) RevokeToken(ctx context.Context, id string) error {
	res, err := s.w.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, time.Now().UnixNano(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Token(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// OwnTest records that a token created a private test, so its webhook
// gets the test's verdicts.
func (s *Store) OwnTest(ctx context.Context, test, tokenID string) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO test_owners (test, token_id, created_at) VALUES (?, ?, ?)`,
		strings.ToLower(test), tokenID, time.Now().UnixNano())
	return err
}

// webhookCacheAge is how long WebhooksLive trusts its last answer: a
// webhook added meanwhile (by testerd token add, another process) gets
// verdicts from then on.
const webhookCacheAge = 2 * time.Second

// WebhooksLive reports whether any live token has a webhook, so the
// probe path builds and queues events only then. The answer is at most
// webhookCacheAge old; a failed query answers true (an event too many is
// dropped by the queueing, one too few is lost).
func (s *Store) WebhooksLive(ctx context.Context) bool {
	now := time.Now().UnixNano()
	if c := s.hooks.Load(); c != nil && now-c.at < int64(webhookCacheAge) {
		return c.live
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens WHERE webhook != '' AND revoked_at = 0`).Scan(&n)
	live := err != nil || n > 0
	s.hooks.Store(&hooksCache{at: now, live: live})
	return live
}

type hooksCache struct {
	at   int64
	live bool
}

// webhookRows is the statement that queues one webhook request for each
// live token with a webhook that sees an event: scope (a ? argument,
// after created, updated, state, data, next attempt and about), admin,
// or the extra condition or (SQL, "" for none). Verdicts and alerts queue
// theirs through it.
func (s *Store) webhookRows(or string) string {
	if or != "" {
		or = " OR " + or
	}
	return `INSERT INTO outbox
		(id, created_at, updated_at, state, reason, mail_from, rcpt, rcpt_key, rcpt_domain, client_ip, message_id, data, next_attempt,
		 channel, token_id, about)
		SELECT ` + s.d.randomID() + `, ?, ?, ?, '', '', t.webhook, t.webhook, '', '', '', ?, ?, '` + Webhook + `', t.id, ?
		FROM api_tokens t
		WHERE t.webhook != '' AND t.revoked_at = 0
		AND (',' || t.scopes || ',' LIKE '%,' || ? || ',%' OR ',' || t.scopes || ',' LIKE '%,admin,%'` + or + `)`
}
