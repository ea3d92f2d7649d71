package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/testerd/testerd/alerts"
	"github.com/testerd/testerd/bimi"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/reply"
	"github.com/testerd/testerd/reports"
	"github.com/testerd/testerd/rspamd"
	"github.com/testerd/testerd/smtpd"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/unsubscribe"
	"github.com/testerd/testerd/verify/requirements"
	"github.com/testerd/testerd/web"
	"github.com/testerd/testerd/worker"
)

// config is serve's configuration: every flag as given (each with its
// environment variable), and, once resolve has run, what the values
// parse to. serve, reanalyze, token and dns-records read it.
type config struct {
	Domain, Hostname   string
	SMTPAddr, HTTPAddr string
	DataDir            string
	Resolver           string
	TLSCert, TLSKey    string
	Limits             smtpd.Config
	Workers            int
	Retention          time.Duration
	ShutdownTimeout    time.Duration
	LogFormat          string
	// LogLevel is the least severe level logged; logLevel what it parses to.
	LogLevel string
	logLevel slog.Level
	Out      outConfig
	// AdminToken opens the DMARC report pages; ReportAddresses are extra
	// local parts, besides rua, that take reports.
	AdminToken string
	// PublicLists shows the lists of results to everyone; false keeps
	// them for the admin (private tests at /new work either way).
	PublicLists     bool
	ReportAddresses string
	// SummaryTo and SummaryAt set the daily DMARC summary mail.
	SummaryTo, SummaryAt string
	// AlertTo get the alerts about the WatchDomains and the domains with
	// reports, at most one per problem and AlertCooldown.
	AlertTo, WatchDomains string
	AlertCooldown         time.Duration
	// Lang is the default language of pages and replies.
	Lang string
	// PprofAddr, if set, serves net/http/pprof there (loopback only).
	PprofAddr string
	// MetricsAddr, if set, serves Prometheus metrics at /metrics there
	// (loopback only, unless MetricsToken).
	MetricsAddr string
	// NodeID names this node among those sharing a PostgreSQL database.
	NodeID string
	// ProbeLease is how long a node's accepted probes are its own.
	ProbeLease time.Duration
	// Database, if set, is the PostgreSQL URL the store uses instead of
	// the SQLite file in DataDir.
	Database string
	// LintMXTLS lets /domain connect to MX hosts on port 25 to check their
	// STARTTLS.
	LintMXTLS bool
	// Reputation runs check@'s block list lookups; SpamhausDQSKey queries
	// Spamhaus through its Data Query Service.
	Reputation     bool
	SpamhausDQSKey string
	// RspamdURL, if set, asks that rspamd for its opinion of check@
	// probes.
	RspamdURL string
	// UnsubscribeTry POSTs check@ probes' one-click unsubscription.
	UnsubscribeTry bool
	// BIMIRoots is a PEM file of the mark authorities' roots, which
	// anchor BIMI mark certificates; bimiRoots is what it holds.
	BIMIRoots string
	bimiRoots *x509.CertPool
	// bimiClient fetches BIMI files in tests (nil: the bimi package's
	// client, public addresses only).
	bimiClient *http.Client
	// WebhookAllowPrivate lets webhooks post to private and loopback
	// addresses (receivers on the operator's own network).
	WebhookAllowPrivate bool
	// MetricsToken asks every scrape for a token with the metrics scope;
	// then MetricsAddr may be any address.
	MetricsToken bool
	// TrustedProxies lists the reverse proxies (CIDRs, comma-separated)
	// whose X-Forwarded-For and X-Forwarded-Proto headers are believed.
	TrustedProxies string
	// DNSCache caps how long a DNS answer is reused (0: no cache).
	DNSCache time.Duration
	// MaxInFlight bounds the probes accepted and not yet judged.
	MaxInFlight int
	// FailureDelay and RejudgeDelay are not flags: tests shorten the wait
	// of a wrong token (web.DefaultFailureDelay when 0) and before a
	// probe is judged again after testerd's DNS failed
	// (worker.RejudgeDelay).
	FailureDelay, RejudgeDelay time.Duration

	// What resolve parsed the values above into.
	proxies         []netip.Prefix
	lang            i18n.Lang
	replyMode       reply.Mode
	smarthostTLS    outbound.TLSMode
	alertTo         []string
	summaryTo       []string
	summaryHour     int
	summaryMinute   int
	watch           []string
	reportAddresses []string
}

// outConfig is the reply side of serve.
type outConfig struct {
	Mode                             string
	DisplayName                      string
	PublicURL                        string
	Limits                           reply.Limits
	GiveUp                           time.Duration
	DKIMSelector                     string
	DKIMEd25519                      bool
	Smarthost                        string
	SmarthostTLS                     string
	SmarthostCA                      string
	SmarthostUser, SmarthostPassword string

	// Not flags: tests deliver to MX servers on loopback ports.
	MXPort         string
	MXAllowPrivate bool
	Backoff        time.Duration
}

// envName maps a flag to its environment variable: smtp-addr →
// TESTERD_SMTP_ADDR.
func envName(flagName string) string {
	return "TESTERD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flagBinder binds flags whose default is their environment variable's
// value when it is set and parses.
type flagBinder struct {
	fs  *flag.FlagSet
	env func(string) (string, bool)
}

func (b flagBinder) lookup(name string) (string, bool) {
	if b.env == nil {
		return "", false
	}
	return b.env(envName(name))
}

func (b flagBinder) str(p *string, name, def, usage string) {
	if v, ok := b.lookup(name); ok {
		def = v
	}
	b.fs.StringVar(p, name, def, usage+" (env "+envName(name)+")")
}

func (b flagBinder) boolean(p *bool, name string, def bool, usage string) {
	if v, ok := b.lookup(name); ok {
		if x, err := strconv.ParseBool(v); err == nil {
			def = x
		}
	}
	b.fs.BoolVar(p, name, def, usage+" (env "+envName(name)+")")
}

func (b flagBinder) num(p *int, name string, def int, usage string) {
	if v, ok := b.lookup(name); ok {
		if x, err := strconv.Atoi(v); err == nil {
			def = x
		}
	}
	b.fs.IntVar(p, name, def, usage+" (env "+envName(name)+")")
}

func (b flagBinder) num64(p *int64, name string, def int64, usage string) {
	if v, ok := b.lookup(name); ok {
		if x, err := strconv.ParseInt(v, 10, 64); err == nil {
			def = x
		}
	}
	b.fs.Int64Var(p, name, def, usage+" (env "+envName(name)+")")
}

func (b flagBinder) dur(p *time.Duration, name string, def time.Duration, usage string) {
	if v, ok := b.lookup(name); ok {
		if x, err := time.ParseDuration(v); err == nil {
			def = x
		}
	}
	b.fs.DurationVar(p, name, def, usage+" (env "+envName(name)+")")
}

// bindConfig binds every flag of serve on fs, each defaulting to its
// environment variable as env finds it (nil: none), and returns the
// config they fill when fs is parsed.
func bindConfig(fs *flag.FlagSet, env func(string) (string, bool)) *config {
	c := &config{}
	b := flagBinder{fs, env}
	b.str(&c.Domain, "domain", "localhost", "the tester domain: probes go to spf@, dkim@ and check@ at it")
	b.str(&c.Hostname, "hostname", "", "this host's name, for the SMTP greeting and Authentication-Results (default: the domain)")
	b.str(&c.SMTPAddr, "smtp-addr", ":2525", "SMTP listen address (port 25 in deployment)")
	b.str(&c.HTTPAddr, "http-addr", ":8080", "HTTP listen address")
	b.str(&c.DataDir, "data-dir", "testerd-data", "directory for the SQLite database and the generated TLS certificate and keys")
	host, _ := os.Hostname()
	b.str(&c.NodeID, "node-id", host, "this node's name among the nodes sharing --database (the holder of its probes' and replies' leases); unique per node, stable across restarts")
	b.dur(&c.ProbeLease, "probe-lease", store.DefaultProbeLease, "how long the probes a node accepted and the replies it is delivering stay its own without renewal: another node takes a dead node's work after this")
	b.str(&c.Database, "database", "", "postgres://USER@HOST/DB URL of a PostgreSQL database shared by every node (empty: the SQLite file in --data-dir); prefer the environment variable when it has a password")
	b.str(&c.Resolver, "resolver", "", "DNS server host:port (default: first nameserver of /etc/resolv.conf)")
	b.str(&c.TLSCert, "tls-cert", "", "PEM certificate for STARTTLS (default: a self-signed one generated in the data directory)")
	b.str(&c.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	b.num64(&c.Limits.MaxMessageBytes, "max-message-bytes", smtpd.DefaultMaxMessageBytes, "largest message accepted")
	b.num(&c.Limits.MaxRecipients, "max-recipients", smtpd.DefaultMaxRecipients, "recipients per message")
	b.num(&c.Limits.MaxLineLength, "max-line-length", smtpd.DefaultMaxLineLength, "longest line accepted, in octets")
	b.dur(&c.Limits.CommandTimeout, "command-timeout", smtpd.DefaultCommandTimeout, "time allowed per SMTP command")
	b.dur(&c.Limits.SessionTimeout, "session-timeout", smtpd.DefaultSessionTimeout, "longest SMTP session")
	b.num(&c.Limits.MaxConns, "max-conns", smtpd.DefaultMaxConns, "concurrent SMTP connections")
	b.num(&c.Limits.MaxConnsPerIP, "max-conns-per-ip", smtpd.DefaultMaxConnsPerIP, "concurrent SMTP connections per client IP")
	b.num(&c.Limits.MaxConnsPerNet, "max-conns-per-net", smtpd.DefaultMaxConnsPerNet, "concurrent SMTP connections per client /24 (IPv4) or /64 (IPv6)")
	b.dur(&c.Limits.GreetingTimeout, "greeting-timeout", smtpd.DefaultGreetingTimeout, "time allowed from the connection to EHLO or HELO")
	b.num(&c.Limits.MaxMessagesPerSession, "max-messages-per-session", smtpd.DefaultMaxMessagesPerSession, "messages taken in one SMTP connection")
	b.num(&c.Limits.MaxMessagesPerNetHour, "max-messages-per-net-hour", smtpd.DefaultMaxMessagesPerNetHour, "messages taken from one client /24 (IPv4) or /64 (IPv6) in an hour")
	b.num(&c.Workers, "workers", worker.DefaultWorkers, "verdicts computed at once")
	b.num(&c.MaxInFlight, "max-in-flight", worker.DefaultMaxInFlight, "probes accepted and not yet judged; past it SMTP waits, then answers 451 4.3.2")
	b.dur(&c.DNSCache, "dns-cache", dnsx.DefaultCacheTTL, "longest a DNS answer is reused, within its TTL (0: ask every time); keep it short, so a fixed record shows at once")
	b.dur(&c.Retention, "retention", 7*24*time.Hour, "how long probes and verdicts are kept")
	b.dur(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for sessions in flight")
	b.str(&c.LogFormat, "log-format", "text", "log format: text or json")
	b.str(&c.LogLevel, "log-level", "info", "least severe level logged: debug, info, warn or error (warn drops the two lines per probe)")
	b.boolean(&c.PublicLists, "public-lists", true, "show the lists of results (/spf, /dkim, /check, GET /api/results) to everyone; false keeps them for --admin-token, and people use private tests at /new")
	b.str(&c.AdminToken, "admin-token", "", "token for the DMARC report pages and API (empty: those pages are off); prefer the environment variable")
	b.str(&c.TrustedProxies, "trusted-proxies", "", "reverse proxies (CIDRs, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are believed, for the admin pages' throttling and Secure cookie")
	b.str(&c.AlertTo, "alert-to", "", "addresses, comma-separated, that get alerts about the watched domains (webhooks of tokens with the reports scope get them too)")
	b.str(&c.WatchDomains, "watch-domains", "", "domains, comma-separated, watched for alerts besides those whose reports arrive here")
	b.dur(&c.AlertCooldown, "alert-cooldown", alerts.DefaultCooldown, "one alert per problem and domain at most this often")
	b.str(&c.SummaryTo, "report-summary-to", "", "addresses, comma-separated, that get a daily summary of the DMARC reports (empty: none)")
	b.str(&c.SummaryAt, "report-summary-at", "13:00", "local time of the daily DMARC summary, HH:MM")
	b.str(&c.PprofAddr, "pprof-addr", "", "loopback address for Go's profiler (/debug/pprof/), off when empty; never expose it")
	b.str(&c.MetricsAddr, "metrics-addr", "", "loopback address for Prometheus metrics (/metrics), off when empty, e.g. 127.0.0.1:9464")
	b.boolean(&c.LintMXTLS, "lint-mx-tls", false, "let the domain checker (/domain) connect to each MX on port 25 to check STARTTLS and its certificate")
	b.boolean(&c.Reputation, "reputation", true, "look check@ probes' IP and From/DKIM domains up in a few DNS block and allow lists (the list operators see them through your resolver); false: no lookups")
	b.str(&c.BIMIRoots, "bimi-roots", "", "PEM file of the mark certificate authorities' roots, to verify BIMI certificates' chains (empty: chains are read but not anchored, and the check says so)")
	b.str(&c.RspamdURL, "rspamd-url", "", "an rspamd normal worker (http://127.0.0.1:11333) to ask for its opinion of check@ probes, shown beside the verdict; empty: none")
	b.boolean(&c.UnsubscribeTry, "unsubscribe-try", false, "try check@ probes' one-click unsubscribe (RFC 8058) for real: one POST to the signed https URL, public addresses only; it unsubscribes the tester's address")
	b.str(&c.SpamhausDQSKey, "spamhaus-dqs-key", "", "a Spamhaus Data Query Service key: Spamhaus is then queried through DQS (needed behind public resolvers)")
	b.boolean(&c.WebhookAllowPrivate, "webhook-allow-private", false, "let webhooks post to private, loopback and other non-public addresses (receivers on your own network); off, such a webhook fails")
	b.boolean(&c.MetricsToken, "metrics-token", false, "ask every scrape of /metrics for a token with the metrics scope (testerd token add --scopes metrics); then --metrics-addr may be any address")
	b.str(&c.Lang, "lang", "en", "language of pages for visitors whose browser asks for neither, and of replies whose recipient asks for none (en or it; check+it@ asks for Italian)")
	b.str(&c.ReportAddresses, "report-addresses", "", "extra local parts, comma-separated, that take DMARC aggregate reports besides rua@ (each with any +tag)")

	o := &c.Out
	b.str(&o.Mode, "reply", "always", "which probes get their verdict mailed back: always, authenticated (SPF or DKIM passed for the reply's domain) or off")
	b.str(&o.DisplayName, "reply-name", reply.DefaultDisplayName, "display name in the From of replies")
	b.str(&o.PublicURL, "public-url", "", "web address for the /r/{id} links in replies (default http://HOSTNAME:HTTP-PORT)")
	b.num(&o.Limits.PerAddress, "reply-limit-address", reply.DefaultLimits.PerAddress, "replies an hour to one address (0: no limit)")
	b.num(&o.Limits.PerDomain, "reply-limit-domain", reply.DefaultLimits.PerDomain, "replies an hour to one domain (0: no limit)")
	b.num(&o.Limits.PerClientIP, "reply-limit-ip", reply.DefaultLimits.PerClientIP, "replies an hour for probes from one client IP (0: no limit)")
	b.num(&o.Limits.PerRedirect, "reply-limit-redirect", reply.DefaultLimits.PerRedirect, "redirected replies an hour to one mailbox (its +sub-addresses counted as one) the probe was not authenticated for (0: no limit)")
	b.num(&o.Limits.PerRedirectDomain, "reply-limit-redirect-domain", reply.DefaultLimits.PerRedirectDomain, "redirected replies an hour to one domain the probe was not authenticated for (0: no limit)")
	b.dur(&o.GiveUp, "reply-give-up", outbound.DefaultGiveUp, "how long a reply is retried after temporary failures")
	b.str(&o.DKIMSelector, "dkim-selector", "testerd", "DKIM selector of the replies' RSA key (the Ed25519 key adds -ed25519)")
	b.boolean(&o.DKIMEd25519, "dkim-ed25519", false, "also sign replies with an Ed25519 key (RFC 8463)")
	b.str(&o.Smarthost, "smarthost", "", "host:port to relay replies through, instead of delivering to the recipients' MX hosts")
	b.str(&o.SmarthostTLS, "smarthost-tls", "starttls", "smarthost TLS: starttls, implicit (port 465) or none (a relay on this host)")
	b.str(&o.SmarthostCA, "smarthost-ca", "", "PEM CA certificates to verify the smarthost with (default: the system's)")
	b.str(&o.SmarthostUser, "smarthost-user", "", "user for AUTH PLAIN at the smarthost (over TLS only)")
	b.str(&o.SmarthostPassword, "smarthost-password", "", "password for --smarthost-user; prefer the environment variable")
	return c
}

// resolve checks every value before anything starts, fills the defaults
// that depend on others (the host name), and keeps what each value parses
// to. An error names the flag.
func (c *config) resolve() error {
	if _, err := message.Domain(c.Domain); err != nil {
		return fmt.Errorf("--domain: %v", err)
	}
	if c.Hostname == "" {
		c.Hostname = c.Domain
	}
	if _, err := message.Domain(c.Hostname); err != nil {
		return fmt.Errorf("--hostname: %v", err)
	}
	if err := c.logLevel.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("--log-format %q: use text or json", c.LogFormat)
	}
	var err error
	if c.replyMode, err = reply.ParseMode(c.Out.Mode); err != nil {
		return fmt.Errorf("--reply: %v", err)
	}
	if c.smarthostTLS, err = outbound.ParseTLSMode(c.Out.SmarthostTLS); err != nil {
		return fmt.Errorf("--smarthost-tls: %v", err)
	}
	if c.Out.PublicURL != "" {
		u, err := url.Parse(c.Out.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("--public-url %q: give the start of a web address, such as https://tester.example.com", c.Out.PublicURL)
		}
	}
	if c.BIMIRoots != "" {
		pem, err := os.ReadFile(c.BIMIRoots)
		if err != nil {
			return fmt.Errorf("--bimi-roots: %w", err)
		}
		c.bimiRoots = x509.NewCertPool()
		if !c.bimiRoots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--bimi-roots %s: no PEM certificate in it", c.BIMIRoots)
		}
	}
	if c.RspamdURL != "" {
		u, err := url.Parse(c.RspamdURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
			return fmt.Errorf("--rspamd-url %q: give rspamd's address, such as http://127.0.0.1:11333", c.RspamdURL)
		}
	}
	if strings.Trim(c.SpamhausDQSKey, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return errors.New("--spamhaus-dqs-key: the key is lowercase letters and digits")
	}
	if c.alertTo, err = addresses("alert-to", c.AlertTo); err != nil {
		return err
	}
	if c.summaryTo, err = addresses("report-summary-to", c.SummaryTo); err != nil {
		return err
	}
	if c.summaryHour, c.summaryMinute, err = reports.ParseAt(c.SummaryAt); err != nil {
		return fmt.Errorf("--report-summary-at: %w", err)
	}
	if c.watch, err = watchDomains(c.WatchDomains); err != nil {
		return err
	}
	if c.ProbeLease < time.Second {
		return fmt.Errorf("--probe-lease %s: give at least 1s", c.ProbeLease)
	}
	if c.Database != "" && !store.IsPostgres(c.Database) {
		return fmt.Errorf("--database %q: give a postgres:// URL (without it, the SQLite file in --data-dir is used)", c.Database)
	}
	if c.AdminToken != "" && len(c.AdminToken) < web.MinAdminToken {
		return fmt.Errorf("--admin-token must be at least %d characters (try: openssl rand -hex 24)", web.MinAdminToken)
	}
	c.proxies = nil
	for _, p := range strings.Split(c.TrustedProxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			if a, aerr := netip.ParseAddr(p); aerr == nil {
				pfx, err = a.Prefix(a.BitLen())
			}
		}
		if err != nil {
			return fmt.Errorf("--trusted-proxies: %q is not an address or CIDR", p)
		}
		c.proxies = append(c.proxies, pfx)
	}
	lang, ok := i18n.Parse(c.Lang)
	if c.Lang == "" {
		lang, ok = i18n.Default, true
	}
	if !ok {
		return fmt.Errorf("--lang %q: use %s", c.Lang, i18n.Codes())
	}
	c.lang = lang
	c.reportAddresses = nil
	for _, a := range strings.Split(c.ReportAddresses, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.reportAddresses = append(c.reportAddresses, a)
		}
	}
	return nil
}

// mxTLS is the domain checker's MX STARTTLS check, nil when off.
func (c *config) mxTLS() *lint.MXTLS {
	if !c.LintMXTLS {
		return nil
	}
	return &lint.MXTLS{Hostname: c.Hostname, Probe: outbound.ProbeTLS}
}

// reputation is the block list configuration, nil when off.
func (c *config) reputation() *requirements.Reputation {
	if !c.Reputation {
		return nil
	}
	return &requirements.Reputation{SpamhausDQSKey: c.SpamhausDQSKey}
}

// spam is the rspamd client, nil without --rspamd-url.
func (c *config) spam() *rspamd.Client {
	if c.RspamdURL == "" {
		return nil
	}
	return &rspamd.Client{URL: c.RspamdURL}
}

// bimi is the BIMI checker (its resolver is set where it is used).
func (c *config) bimi() *bimi.Checker { return &bimi.Checker{Roots: c.bimiRoots, Client: c.bimiClient} }

// unsubscribeTrier tries one-click unsubscriptions, nil without
// --unsubscribe-try.
func (c *config) unsubscribeTrier() *unsubscribe.Trier {
	if !c.UnsubscribeTry {
		return nil
	}
	return &unsubscribe.Trier{}
}

// databaseLocation is where the store is: --database, or the SQLite file
// in the data directory.
func (c *config) databaseLocation() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.DataDir, "testerd.db")
}

// addresses reads a flag's comma-separated plain addresses.
func addresses(flagName, list string) ([]string, error) {
	var to []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if err := reports.CheckAddress(a); err != nil {
			return nil, fmt.Errorf("--%s: %w", flagName, err)
		}
		to = append(to, a)
	}
	return to, nil
}

// watchDomains reads --watch-domains.
func watchDomains(list string) ([]string, error) {
	var watch []string
	for _, d := range strings.Split(list, ",") {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		dom, err := message.Domain(d)
		if err != nil {
			return nil, fmt.Errorf("--watch-domains: %q: %v", d, err)
		}
		watch = append(watch, dom)
	}
	return watch, nil
}
