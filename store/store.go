// Package store keeps probes, verdicts, the outgoing mail queue (replies,
// summaries, alerts, webhook events), the DMARC and TLS reports' rows,
// API tokens and the nodes' leases, in SQLite (modernc.org/sqlite, pure
// Go, so the binary stays static) or in a PostgreSQL database several
// nodes share (pgx), through one code path and a small dialect. A probe is
// committed before the SMTP server answers 250 (synchronous=FULL in WAL
// mode on SQLite), so a killed process or a power cut loses no accepted
// probe; verdicts come after, and a restart judges what is pending.
//
// The store knows nothing of verify's types and holds no advice: a
// verdict arrives as JSON plus the few columns lists and filters need, and
// reports come and go as rows of the store's own types. The engines store
// the same bytes, and the same text but for one difference (dialect.clean):
// PostgreSQL's text drops NUL and replaces invalid UTF-8, which SQLite
// keeps as they came.
package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver

	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/rcpt"
)

// ErrNotFound is returned for an unknown id.
var ErrNotFound = errors.New("store: not found")

// TLS describes the SMTP session's TLS, if STARTTLS was used.
type TLS struct {
	Version string `json:"version"`
	Cipher  string `json:"cipher"`
}

// Probe is one accepted message and its envelope.
type Probe struct {
	ID       string    `json:"id"`
	Received time.Time `json:"received"`
	// Address is the recipient as SMTP intake read it: the kind, and
	// what the +extension asks (language, tag, redirect, private test).
	rcpt.Address
	Recipient string     `json:"recipient"`
	ClientIP  netip.Addr `json:"client_ip"`
	Helo      string     `json:"helo"`
	MailFrom  string     `json:"mail_from"`
	TLS       *TLS       `json:"tls,omitempty"`
	Size      int        `json:"size"`
	Raw       []byte     `json:"-"`
	// Session is the id of the SMTP connection it came in, as testerd's
	// logs name it.
	Session string `json:"session,omitempty"`
	// ViewKey opens the full result (its link in the reply): without it
	// or a token with the results scope, /r/{id} shows the masked
	// record the lists show. SaveProbes makes one.
	ViewKey string `json:"-"`
}

// ResultPath is the path of the probe's result page with the key that
// opens its full record: what the reply and the webhooks link to.
func (p *Probe) ResultPath() string {
	if p.ViewKey == "" {
		return "/r/" + p.ID
	}
	return "/r/" + p.ID + "?k=" + p.ViewKey
}

// Verdict is what the store keeps of a verdict: the columns lists show and
// filter on, and the whole verdict as JSON.
type Verdict struct {
	ProbeID    string
	Judged     time.Time
	Tags       []string
	FromDomain string
	// Subject is the probe's Subject, decoded, for the lists.
	Subject string
	JSON    []byte
	// Reply, if not nil, is enqueued in the same transaction.
	Reply *Outgoing
	// Again marks a probe judged again (re-analysis): the verdict it
	// replaces is kept as the previous one.
	Again bool
	// Event, if not nil, is queued in the same transaction for the
	// webhook of every live token that sees the verdict (ScopeResults,
	// or the owner of the probe's private test), once per token unless
	// Again. EventsQueued is set to how many were queued.
	Event        []byte
	EventsQueued int
}

// Result is a probe with its verdict, if judged.
type Result struct {
	Probe
	// Judged is zero while the verdict is pending.
	Judged     time.Time `json:"judged,omitzero"`
	Tags       []string  `json:"tags"`
	FromDomain string    `json:"from_domain"`
	Subject    string    `json:"subject"`
	// Verdict is the verdict JSON, nil while pending.
	Verdict []byte `json:"-"`
	// Reply is the reply to the probe and its delivery state (Get only).
	Reply *Outgoing `json:"reply,omitempty"`
	// Previous is the verdict JSON this one replaced when the probe was
	// judged again, and PreviousJudged when it was made (Get only).
	Previous       []byte    `json:"-"`
	PreviousJudged time.Time `json:"previous_judged,omitzero"`
	// TesterRetries is how many times the probe was put back because
	// testerd's own DNS did not answer (while it waits for its verdict).
	TesterRetries int `json:"tester_retries,omitempty"`
}

// Store is a SQLite database. Writes go through one connection, so they
// queue in Go instead of sleeping in SQLite's busy handler; reads use a
// pool of their own and, in WAL mode, never wait for writes.
type Store struct {
	// Node names this process among the nodes sharing the database, as
	// the holder of leases ("local" unless set before use).
	Node string
	// ProbeLease is how long a node that stops renewing keeps its probes,
	// and the outgoing messages it is delivering, from the others
	// (DefaultProbeLease when 0).
	ProbeLease time.Duration
	db         *sqlDB // reads
	w          *sqlDB // writes: one connection on SQLite
	d          dialect
	wr         writer // group commit of probes and verdicts
	stats      BatchStats
	// integrity is PRAGMA quick_check's complaint at Open, if any.
	integrity error
	health    healthState
	hooks     atomic.Pointer[hooksCache] // WebhooksLive's last answer
}

// Open opens (creating if needed) the database and applies the schema
// migrations: the SQLite file at path, or, when path is a postgres:// or
// postgresql:// URL, that PostgreSQL database.
func Open(ctx context.Context, path string) (*Store, error) {
	if IsPostgres(path) {
		return openPostgres(ctx, path)
	}
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	w, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	s := &Store{w: &sqlDB{db: w}, Node: "local"}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		w.Close()
		return nil, err
	}
	s.db = &sqlDB{db: r}
	if err := s.startWriter(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	s.integrity = s.quickCheck(ctx)
	return s, nil
}

// IsPostgres reports whether a database location names PostgreSQL.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// openPostgres opens a PostgreSQL database through pgx: one pool for
// reads and writes (the writer goroutine still batches probes and
// verdicts into group commits).
func openPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(pgIdle)
	d := dialect{postgres: true}
	s := &Store{db: &sqlDB{db: db, d: d}, d: d, Node: "local"}
	s.w = s.db
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: PostgreSQL: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: PostgreSQL: %w", err)
	}
	if err := s.startWriter(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// NewID returns an unguessable id for a probe or outgoing message: 128
// random bits in lowercase base32 (26 characters).
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// Close finishes the writes in progress and closes the database.
func (s *Store) Close() error {
	s.stopWriter()
	if s.w == s.db {
		return s.db.Close()
	}
	return errors.Join(s.db.Close(), s.w.Close())
}

// migrations are applied in order; the version is their count. Never edit
// one that has shipped: append a new one.
var migrations = []string{
	`CREATE TABLE probes (
		id          TEXT PRIMARY KEY,
		received_at INTEGER NOT NULL,
		kind        TEXT NOT NULL,
		rcpt        TEXT NOT NULL,
		extension   TEXT NOT NULL,
		client_ip   TEXT NOT NULL,
		helo        TEXT NOT NULL,
		mail_from   TEXT NOT NULL,
		tls_version TEXT NOT NULL,
		tls_cipher  TEXT NOT NULL,
		size        INTEGER NOT NULL,
		raw         BLOB NOT NULL
	);
	CREATE INDEX probes_kind_received ON probes (kind, received_at DESC);
	CREATE INDEX probes_received ON probes (received_at);
	CREATE TABLE verdicts (
		probe_id    TEXT PRIMARY KEY REFERENCES probes (id) ON DELETE CASCADE,
		judged_at   INTEGER NOT NULL,
		tags        TEXT NOT NULL,
		from_domain TEXT NOT NULL,
		verdict     BLOB NOT NULL
	);`,
	`CREATE TABLE outbox (
		id           TEXT PRIMARY KEY,
		probe_id     TEXT UNIQUE REFERENCES probes (id) ON DELETE CASCADE,
		created_at   INTEGER NOT NULL,
		updated_at   INTEGER NOT NULL,
		state        TEXT NOT NULL,
		reason       TEXT NOT NULL,
		mail_from    TEXT NOT NULL,
		rcpt         TEXT NOT NULL,
		rcpt_domain  TEXT NOT NULL,
		client_ip    TEXT NOT NULL,
		message_id   TEXT NOT NULL,
		data         BLOB NOT NULL,
		attempts     INTEGER NOT NULL DEFAULT 0,
		next_attempt INTEGER NOT NULL,
		last_error   TEXT NOT NULL DEFAULT '',
		relay        TEXT NOT NULL DEFAULT '',
		tls          TEXT NOT NULL DEFAULT '',
		sent_at      INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX outbox_due ON outbox (state, next_attempt);
	CREATE INDEX outbox_rcpt ON outbox (rcpt, created_at);
	CREATE INDEX outbox_rcpt_domain ON outbox (rcpt_domain, created_at);
	CREATE INDEX outbox_client_ip ON outbox (client_ip, created_at);`,
	`CREATE INDEX verdicts_from_domain ON verdicts (from_domain, judged_at DESC);`,
	`CREATE TABLE dmarc_messages (
		id          TEXT PRIMARY KEY,
		received_at INTEGER NOT NULL,
		rcpt        TEXT NOT NULL,
		client_ip   TEXT NOT NULL,
		mail_from   TEXT NOT NULL,
		raw         BLOB NOT NULL,
		problems    TEXT NOT NULL
	);
	CREATE INDEX dmarc_messages_received ON dmarc_messages (received_at);
	CREATE TABLE dmarc_reports (
		id           INTEGER PRIMARY KEY AUTOINCREMENT,
		message_id   TEXT NOT NULL REFERENCES dmarc_messages (id) ON DELETE CASCADE,
		received_at  INTEGER NOT NULL,
		org          TEXT NOT NULL,
		email        TEXT NOT NULL,
		report_id    TEXT NOT NULL,
		domain       TEXT NOT NULL,
		begin_at     INTEGER NOT NULL,
		end_at       INTEGER NOT NULL,
		policy       TEXT NOT NULL,
		records      INTEGER NOT NULL,
		messages     INTEGER NOT NULL,
		container    TEXT NOT NULL,
		xml          BLOB NOT NULL,
		error        TEXT NOT NULL,
		duplicate_of INTEGER
	);
	CREATE UNIQUE INDEX dmarc_reports_unique ON dmarc_reports (org, report_id) WHERE error = '' AND duplicate_of IS NULL;
	CREATE INDEX dmarc_reports_domain ON dmarc_reports (domain, begin_at);
	CREATE INDEX dmarc_reports_message ON dmarc_reports (message_id);
	CREATE TABLE dmarc_records (
		report        INTEGER NOT NULL REFERENCES dmarc_reports (id) ON DELETE CASCADE,
		source_ip     TEXT NOT NULL,
		count         INTEGER NOT NULL,
		disposition   TEXT NOT NULL,
		dkim          TEXT NOT NULL,
		spf           TEXT NOT NULL,
		header_from   TEXT NOT NULL,
		envelope_from TEXT NOT NULL,
		envelope_to   TEXT NOT NULL,
		dkim_pass     INTEGER NOT NULL,
		spf_pass      INTEGER NOT NULL,
		auth          TEXT NOT NULL
	);
	CREATE INDEX dmarc_records_report ON dmarc_records (report);`,
	`ALTER TABLE verdicts ADD COLUMN subject TEXT NOT NULL DEFAULT '';
	CREATE INDEX probes_extension ON probes (extension, received_at DESC);`,
	`ALTER TABLE outbox ADD COLUMN rcpt_key TEXT NOT NULL DEFAULT '';
	UPDATE outbox SET rcpt_key = lower(rcpt);
	CREATE INDEX outbox_rcpt_key ON outbox (rcpt_key, created_at);
	ALTER TABLE outbox ADD COLUMN authenticated INTEGER NOT NULL DEFAULT 0;`,
	`CREATE TABLE health (id INTEGER PRIMARY KEY, checked_at INTEGER NOT NULL);`,
	// A message to several recipients is stored once: its probes point at
	// one raws row (and keep an empty raw of their own).
	`CREATE TABLE raws (id TEXT PRIMARY KEY, raw BLOB NOT NULL);
	ALTER TABLE probes ADD COLUMN raw_id TEXT;`,
	// Report mail is stored before it is read.
	`ALTER TABLE dmarc_messages ADD COLUMN unread INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX dmarc_messages_unread ON dmarc_messages (unread, received_at);`,
	// A verdict judged again keeps the one before it.
	`ALTER TABLE verdicts ADD COLUMN previous BLOB;
	ALTER TABLE verdicts ADD COLUMN previous_judged_at INTEGER NOT NULL DEFAULT 0;`,
	// Private tests: the token of check+t-TOKEN@, never listed.
	`ALTER TABLE probes ADD COLUMN private TEXT NOT NULL DEFAULT '';
	CREATE INDEX probes_private ON probes (private, received_at) WHERE private != '';`,
	// The SMTP session id of the logs.
	`ALTER TABLE probes ADD COLUMN session TEXT NOT NULL DEFAULT '';`,
	// Each delivery attempt of outgoing mail.
	`CREATE TABLE outbox_attempts (
		outbox_id TEXT NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
		at        INTEGER NOT NULL,
		state     TEXT NOT NULL,
		relay     TEXT NOT NULL,
		tls       TEXT NOT NULL,
		error     TEXT NOT NULL
	);
	CREATE INDEX outbox_attempts_outbox ON outbox_attempts (outbox_id, at);`,
	// API tokens, kept as SHA-256 hashes, and the private tests each made.
	`CREATE TABLE api_tokens (
		id             TEXT PRIMARY KEY,
		hash           TEXT NOT NULL UNIQUE,
		name           TEXT NOT NULL,
		scopes         TEXT NOT NULL,
		rate           INTEGER NOT NULL,
		webhook        TEXT NOT NULL,
		webhook_secret TEXT NOT NULL,
		created_at     INTEGER NOT NULL,
		revoked_at     INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE test_owners (
		test       TEXT PRIMARY KEY,
		token_id   TEXT NOT NULL REFERENCES api_tokens (id),
		created_at INTEGER NOT NULL
	);`,
	// Webhook deliveries wait in the outbox beside the mail: channel
	// 'webhook', rcpt the URL, token_id the token whose secret signs them,
	// about the probe the event is about (probe_id is a reply's, unique).
	`ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT '';
	ALTER TABLE outbox ADD COLUMN token_id TEXT NOT NULL DEFAULT '';
	ALTER TABLE outbox ADD COLUMN about TEXT NOT NULL DEFAULT '';
	CREATE INDEX outbox_about ON outbox (about, token_id);`,
	// Several nodes on one database: a probe is judged, and an outgoing
	// message tried, by the node holding its lease (lease_until 0: done);
	// periodic jobs run once per period (singleton_runs); the keys every
	// node signs and encrypts with (secrets).
	`ALTER TABLE probes ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
	ALTER TABLE probes ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
	UPDATE probes SET lease_until = 1 WHERE id NOT IN (SELECT probe_id FROM verdicts);
	CREATE INDEX probes_lease ON probes (lease_until) WHERE lease_until > 0;
	ALTER TABLE outbox ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
	ALTER TABLE outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE singleton_runs (
		name     TEXT NOT NULL,
		period   TEXT NOT NULL,
		node     TEXT NOT NULL,
		at       INTEGER NOT NULL,
		PRIMARY KEY (name, period)
	);
	CREATE TABLE secrets (
		name       TEXT PRIMARY KEY,
		value      BLOB NOT NULL,
		created_at INTEGER NOT NULL
	);`,
	// SMTP TLS reports (RFC 8460), read from report mail like DMARC's.
	`CREATE TABLE tls_reports (
		id           INTEGER PRIMARY KEY AUTOINCREMENT,
		message_id   TEXT NOT NULL REFERENCES dmarc_messages (id) ON DELETE CASCADE,
		received_at  INTEGER NOT NULL,
		org          TEXT NOT NULL,
		report_id    TEXT NOT NULL,
		contact      TEXT NOT NULL,
		begin_at     INTEGER NOT NULL,
		end_at       INTEGER NOT NULL,
		json         BLOB NOT NULL,
		duplicate_of INTEGER
	);
	CREATE INDEX tls_reports_key ON tls_reports (org, report_id);
	CREATE TABLE tls_policies (
		report  INTEGER NOT NULL REFERENCES tls_reports (id) ON DELETE CASCADE,
		domain  TEXT NOT NULL,
		type    TEXT NOT NULL,
		success INTEGER NOT NULL,
		failure INTEGER NOT NULL
	);
	CREATE INDEX tls_policies_domain ON tls_policies (domain);
	CREATE TABLE tls_failures (
		report       INTEGER NOT NULL REFERENCES tls_reports (id) ON DELETE CASCADE,
		domain       TEXT NOT NULL,
		type         TEXT NOT NULL,
		receiving_mx TEXT NOT NULL,
		sending_ip   TEXT NOT NULL,
		sessions     INTEGER NOT NULL
	);
	CREATE INDEX tls_failures_domain ON tls_failures (domain);`,
	// Alerts for watched domains: what was last seen of each (a DMARC
	// record), and when each kind of alert was last sent (the cooldown).
	// (Shipped: see TestMigrationsFrozen.)
	`CREATE TABLE watch_state (
		domain TEXT NOT NULL,
		key    TEXT NOT NULL,
		value  TEXT NOT NULL,
		at     INTEGER NOT NULL,
		PRIMARY KEY (domain, key)
	);
	CREATE TABLE alerts_sent (
		domain  TEXT NOT NULL,
		kind    TEXT NOT NULL,
		sent_at INTEGER NOT NULL,
		PRIMARY KEY (domain, kind)
	);`,
	// The recipient read once at intake (rcpt.Address): its language and
	// tag, the lists filtering on the tag. Older rows are read here as
	// intake reads them (i18n's languages were en and it).
	`ALTER TABLE probes ADD COLUMN lang TEXT NOT NULL DEFAULT '';
	ALTER TABLE probes ADD COLUMN tag TEXT NOT NULL DEFAULT '';
	UPDATE probes SET tag = extension;
	UPDATE probes SET lang = lower(extension), tag = '' WHERE lower(extension) IN ('en', 'it');
	UPDATE probes SET lang = lower(substr(extension, 1, 2)), tag = substr(extension, 4) WHERE lower(substr(extension, 1, 3)) IN ('en+', 'it+');
	CREATE INDEX probes_tag ON probes (tag, received_at DESC);`,
	// A probe judged again because testerd's own DNS did not answer: how
	// many times so far, for the page that waits.
	`ALTER TABLE probes ADD COLUMN tester_retries INTEGER NOT NULL DEFAULT 0;`,
	// The key that opens a result's full record (empty for older probes:
	// only a token with the results scope sees those in full).
	`ALTER TABLE probes ADD COLUMN view_key TEXT NOT NULL DEFAULT '';`,
	// The replies the limits count (live ones, not webhook requests):
	// indexes of those alone, so that counting does not walk the
	// suppressed replies of a flood (quadratic in one session's probes).
	`CREATE INDEX outbox_live_rcpt_key ON outbox (rcpt_key, created_at) WHERE state != 'suppressed' AND channel = '';
	CREATE INDEX outbox_live_rcpt_domain ON outbox (rcpt_domain, authenticated, created_at) WHERE state != 'suppressed' AND channel = '';
	CREATE INDEX outbox_live_client_ip ON outbox (client_ip, created_at) WHERE state != 'suppressed' AND channel = '';`,
	// Many nodes, finished: the moment an attempt began (0 once its
	// outcome is recorded, so a claim that finds it set resumes an
	// attempt cut short); the nodes alive on this database; the login
	// sessions, by the SHA-256 of their ids.
	`ALTER TABLE outbox ADD COLUMN attempt_started INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE nodes (
		name TEXT PRIMARY KEY,
		instance TEXT NOT NULL,
		addr TEXT NOT NULL,
		started_at INTEGER NOT NULL,
		heartbeat INTEGER NOT NULL
	);
	CREATE TABLE sessions (
		id_hash TEXT PRIMARY KEY,
		grant_id TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL
	);
	CREATE INDEX sessions_grant ON sessions (grant_id, created_at);
	CREATE INDEX sessions_expires ON sessions (expires_at);`,
}

func (s *Store) migrate(ctx context.Context) error {
	create := `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`
	if _, err := s.w.ExecContext(ctx, s.d.ddl(create)); err != nil {
		// Two nodes creating it at once on PostgreSQL: one wins, and the
		// other finds it there the second time.
		if _, err2 := s.w.ExecContext(ctx, s.d.ddl(create)); err2 != nil {
			return err
		}
	}
	// One transaction for every pending migration; on PostgreSQL the lock
	// makes nodes that start together wait for the one that migrates, and
	// then find nothing left to do.
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if s.d.postgres {
		if _, err := tx.ExecContext(ctx, `LOCK TABLE schema_version IN EXCLUSIVE MODE`); err != nil {
			return err
		}
	}
	var v int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version VALUES (0)`); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this testerd (%d)", v, len(migrations))
	}
	if v == len(migrations) {
		return nil
	}
	for i := v; i < len(migrations); i++ {
		if _, err := tx.ExecContext(ctx, s.d.ddl(migrations[i])); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if i+1 == privateBackfill {
			if err := backfillPrivate(ctx, tx); err != nil {
				return fmt.Errorf("migration %d: %w", i+1, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return err
	}
	return tx.Commit()
}

// privateBackfill is the migration after which the probes stored before
// a private test's token was found anywhere in the extension
// (check+t-TOKEN+x@, check+x+t-TOKEN@) are marked private, as intake now
// marks them: they were listed publicly, token and all.
const privateBackfill = 21

func backfillPrivate(ctx context.Context, tx interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, kind, extension FROM probes WHERE private = '' AND lower(extension) LIKE '%t-%'`)
	if err != nil {
		return err
	}
	found := map[string]string{}
	for rows.Next() {
		var id, k, ext string
		if err := rows.Scan(&id, &k, &ext); err != nil {
			rows.Close()
			return err
		}
		if tok := rcpt.Parse(kind.Kind(k), ext).Private; tok != "" {
			found[id] = tok
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for id, tok := range found {
		if _, err := tx.ExecContext(ctx, `UPDATE probes SET private = ? WHERE id = ?`, tok, id); err != nil {
			return err
		}
	}
	return nil
}

// SaveProbe commits a probe. When it returns nil the probe is on disk.
func (s *Store) SaveProbe(ctx context.Context, p *Probe) error {
	return s.SaveProbes(ctx, []*Probe{p})
}

// SaveProbes commits probes in one transaction: all are on disk
// (synchronous=FULL) when it returns nil, none when it fails. Concurrent
// callers share transactions (group commit).
func (s *Store) SaveProbes(ctx context.Context, ps []*Probe) error {
	if len(ps) == 0 {
		return nil
	}
	for _, p := range ps {
		if p.ViewKey == "" {
			p.ViewKey = NewID()
		}
	}
	return s.submit(ctx, &write{probes: ps})
}

// SaveVerdict stores (or replaces) the verdict of a probe and enqueues
// its reply, if any, in the same transaction. A batch of verdicts alone
// commits without waiting for the disk (synchronous=NORMAL): a verdict
// lost to a power cut is lost with its reply and recomputed from its
// probe, which Pending lists again.
func (s *Store) SaveVerdict(ctx context.Context, v *Verdict) error {
	return s.submit(ctx, &write{verdict: v})
}

// JudgedSince returns the ids of judged probes and operator mail received
// at or after since, oldest first, at most limit (re-analysis).
func (s *Store) JudgedSince(ctx context.Context, since time.Time, limit int) ([]string, error) {
	return s.ids(ctx, `SELECT p.id FROM probes p JOIN verdicts v ON v.probe_id = p.id
		WHERE p.received_at >= ? AND p.kind != ? ORDER BY p.received_at LIMIT ?`, since.UnixNano(), string(kind.Report), limit)
}

// ids runs a query of one id column.
func (s *Store) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	return scanIDs(s.db.QueryContext(ctx, query, args...))
}

// scanIDs reads the rows of one id column.
func scanIDs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// Pending returns the ids of probes without a verdict, oldest first.
func (s *Store) Pending(ctx context.Context) ([]string, error) {
	return s.ids(ctx, `SELECT p.id FROM probes p LEFT JOIN verdicts v ON v.probe_id = p.id
		WHERE v.probe_id IS NULL ORDER BY p.received_at`)
}

const resultColumns = `p.id, p.received_at, p.kind, p.rcpt, p.extension, p.lang, p.tag, p.private, p.client_ip, p.helo, p.mail_from,
	p.tls_version, p.tls_cipher, p.size, p.session, p.view_key, COALESCE(v.judged_at, 0), COALESCE(v.tags, ''), COALESCE(v.from_domain, ''), COALESCE(v.subject, '')`

// Get returns one result with its raw message and verdict JSON.
func (s *Store) Get(ctx context.Context, id string) (*Result, error) {
	row := s.db.QueryRowContext(ctx, `SELECT `+resultColumns+`,
		CASE WHEN p.raw_id IS NULL THEN p.raw ELSE (SELECT raw FROM raws WHERE id = p.raw_id) END, v.verdict,
		v.previous, COALESCE(v.previous_judged_at, 0), p.tester_retries
		FROM probes p LEFT JOIN verdicts v ON v.probe_id = p.id WHERE p.id = ?`, id)
	r := &Result{}
	var prevJudged int64
	err := scanResult(row, r, &r.Raw, &r.Verdict, &r.Previous, &prevJudged, &r.TesterRetries)
	if prevJudged != 0 {
		r.PreviousJudged = time.Unix(0, prevJudged).UTC()
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	r.Reply, err = s.replyOf(ctx, id)
	return r, err
}

// ListQuery selects results for List.
type ListQuery struct {
	// Kind is a tester ("" for all).
	Kind kind.Kind
	// Tag, if set, keeps probes whose recipient extension is that tag,
	// with or without a language (check+team@, check+it+team@).
	Tag   string
	Limit int
	// Before, if set, keeps probes received before it (the next page).
	Before time.Time
	// WithVerdict adds the verdict JSON.
	WithVerdict bool
	// Operator lists the operator's own mail (postmaster@, abuse@)
	// instead of probes: a list never mixes the two.
	Operator bool
	// Private lists the probes of one private test (its tag, from
	// NewPrivate); without it, private tests are never listed.
	Private string
}

// operatorKinds is kind.Operators as an SQL list.
var operatorKinds = func() string {
	q := make([]string, len(kind.Operators))
	for i, k := range kind.Operators {
		q[i] = "'" + string(k) + "'"
	}
	return strings.Join(q, ", ")
}()

// List returns the latest results of a query, newest first, without raw
// messages.
func (s *Store) List(ctx context.Context, q ListQuery) ([]*Result, error) {
	verdict := "NULL"
	if q.WithVerdict {
		verdict = "v.verdict"
	}
	var where conds
	where.add("(p.kind IN ("+operatorKinds+")) = ?", q.Operator)
	where.add("p.private = ?", q.Private)
	if q.Kind != "" {
		where.add("p.kind = ?", q.Kind)
	}
	if q.Tag != "" {
		where.add("p.tag = ?", q.Tag)
	}
	if !q.Before.IsZero() {
		where.add("p.received_at < ?", q.Before.UnixNano())
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+resultColumns+`, `+verdict+`
		FROM probes p LEFT JOIN verdicts v ON v.probe_id = p.id
		WHERE `+where.sql()+` ORDER BY p.received_at DESC LIMIT ?`, append(where.args, q.Limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Result
	for rows.Next() {
		r := &Result{}
		if err := scanResult(rows, r, nil, &r.Verdict); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(dest ...any) error }

func scanResult(sc scanner, r *Result, raw *[]byte, verdict *[]byte, more ...any) error {
	var received, judged int64
	var ip, tags, tlsVersion, tlsCipher string
	dest := []any{&r.ID, &received, &r.Kind, &r.Recipient, &r.Extension, &r.Lang, &r.Tag, &r.Private, &ip, &r.Helo, &r.MailFrom,
		&tlsVersion, &tlsCipher, &r.Size, &r.Session, &r.ViewKey, &judged, &tags, &r.FromDomain, &r.Subject}
	if raw != nil {
		dest = append(dest, raw)
	}
	dest = append(append(dest, verdict), more...)
	if err := sc.Scan(dest...); err != nil {
		return err
	}
	r.Received = time.Unix(0, received).UTC()
	if judged != 0 {
		r.Judged = time.Unix(0, judged).UTC()
	}
	r.ClientIP, _ = netip.ParseAddr(ip)
	if tlsVersion != "" {
		r.TLS = &TLS{Version: tlsVersion, Cipher: tlsCipher}
	}
	r.Tags = []string{}
	if tags != "" {
		r.Tags = strings.Split(tags, "\n")
	}
	return nil
}

// VerdictsFrom returns the JSON of the latest verdicts of probes whose From
// domain is domain, newest first.
func (s *Store) VerdictsFrom(ctx context.Context, domain string, limit int) ([][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT verdict FROM verdicts WHERE from_domain = ? ORDER BY judged_at DESC LIMIT ?`, domain, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// DeleteBefore deletes probes received before t, with their verdicts and
// replies, and returns how many probes went. Mail of testerd's own in the
// outbox goes when it is finished (not queued or deferred) and as old.
//
// Probes go RetentionBatch at a time, each batch a transaction of its own,
// so intake's writes get in between and a day of probes never holds the
// writer for long.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	var deleted int64
	for {
		n, err := s.deleteProbes(ctx, t)
		deleted += n
		if err != nil {
			return deleted, err
		}
		if n < RetentionBatch {
			break
		}
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM outbox WHERE probe_id IS NULL AND state NOT IN (?, ?) AND created_at < ?`,
		Queued, Deferred, t.UnixNano()); err != nil {
		return deleted, err
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM dmarc_messages WHERE received_at < ?`, t.UnixNano()); err != nil {
		return deleted, err
	}
	return deleted, nil
}

// deleteProbes deletes up to RetentionBatch probes received before t,
// with the messages they point at, in one transaction. A message shared
// by several recipients' probes goes with the first batch that meets one
// of them: they were all received at once, so the rest go in this run.
func (s *Store) deleteProbes(ctx context.Context, t time.Time) (int64, error) {
	tx, release, err := s.begin(ctx, true)
	if err != nil {
		return 0, err
	}
	defer release()
	rows, err := tx.QueryContext(ctx, `SELECT id, COALESCE(raw_id, '') FROM probes WHERE received_at < ? LIMIT ?`, t.UnixNano(), RetentionBatch)
	if err != nil {
		return 0, err
	}
	var ids, raws []any
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
		if raw != "" {
			raws = append(raws, raw)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(ids) == 0 {
		return 0, err
	}
	in := func(n int) string { return "(?" + strings.Repeat(", ?", n-1) + ")" }
	if len(raws) > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM raws WHERE id IN `+in(len(raws)), raws...); err != nil {
			return 0, err
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM probes WHERE id IN `+in(len(ids)), ids...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// NoteTesterRetry records that a probe is put back to be judged again
// because testerd's own DNS did not answer, for the n-th time.
func (s *Store) NoteTesterRetry(ctx context.Context, id string, n int) error {
	_, err := s.w.ExecContext(ctx, `UPDATE probes SET tester_retries = ? WHERE id = ?`, n, id)
	return err
}

// RetentionBatch is how many probes one retention transaction deletes.
const RetentionBatch = 2000
