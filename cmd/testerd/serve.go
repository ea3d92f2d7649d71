package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/testerd/testerd/alerts"
	"github.com/testerd/testerd/dmarcreport"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/metrics"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/reply"
	"github.com/testerd/testerd/smtpd"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/requirements"
	"github.com/testerd/testerd/web"
	"github.com/testerd/testerd/webhook"
	"github.com/testerd/testerd/worker"
)

// serveConfig is everything serve reads from flags and the environment.
type serveConfig struct {
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
	Out                outConfig
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

// serveFlags binds every flag of serve, each with its environment variable
// as the default.
func serveFlags(fs *flag.FlagSet, c *serveConfig) {
	str := func(p *string, name, def, usage string) {
		fs.StringVar(p, name, envDefault(envName(name), def), usage+" (env "+envName(name)+")")
	}
	boolean := func(p *bool, name string, def bool, usage string) {
		if v, err := strconv.ParseBool(envDefault(envName(name), "")); err == nil {
			def = v
		}
		fs.BoolVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	num := func(p *int, name string, def int, usage string) {
		if v, err := strconv.Atoi(envDefault(envName(name), "")); err == nil {
			def = v
		}
		fs.IntVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	dur := func(p *time.Duration, name string, def time.Duration, usage string) {
		if v, err := time.ParseDuration(envDefault(envName(name), "")); err == nil {
			def = v
		}
		fs.DurationVar(p, name, def, usage+" (env "+envName(name)+")")
	}
	str(&c.Domain, "domain", "localhost", "the tester domain: probes go to spf@, dkim@ and check@ at it")
	str(&c.Hostname, "hostname", "", "this host's name, for the SMTP greeting and Authentication-Results (default: the domain)")
	str(&c.SMTPAddr, "smtp-addr", ":2525", "SMTP listen address (port 25 in deployment)")
	str(&c.HTTPAddr, "http-addr", ":8080", "HTTP listen address")
	str(&c.DataDir, "data-dir", "testerd-data", "directory for the SQLite database and the generated TLS certificate and keys")
	host, _ := os.Hostname()
	str(&c.NodeID, "node-id", host, "this node's name among the nodes sharing --database (the holder of its probes' and replies' leases); unique per node, stable across restarts")
	dur(&c.ProbeLease, "probe-lease", store.DefaultProbeLease, "how long the probes a node accepted stay its own without renewal: another node judges a dead node's probes after this")
	str(&c.Database, "database", "", "postgres://USER@HOST/DB URL of a PostgreSQL database shared by every node (empty: the SQLite file in --data-dir); prefer the environment variable when it has a password")
	str(&c.Resolver, "resolver", "", "DNS server host:port (default: first nameserver of /etc/resolv.conf)")
	str(&c.TLSCert, "tls-cert", "", "PEM certificate for STARTTLS (default: a self-signed one generated in the data directory)")
	str(&c.TLSKey, "tls-key", "", "PEM private key for --tls-cert")
	maxBytes := int64(smtpd.DefaultMaxMessageBytes)
	if v, err := strconv.ParseInt(envDefault(envName("max-message-bytes"), ""), 10, 64); err == nil {
		maxBytes = v
	}
	fs.Int64Var(&c.Limits.MaxMessageBytes, "max-message-bytes", maxBytes, "largest message accepted (env TESTERD_MAX_MESSAGE_BYTES)")
	num(&c.Limits.MaxRecipients, "max-recipients", smtpd.DefaultMaxRecipients, "recipients per message")
	num(&c.Limits.MaxLineLength, "max-line-length", smtpd.DefaultMaxLineLength, "longest line accepted, in octets")
	dur(&c.Limits.CommandTimeout, "command-timeout", smtpd.DefaultCommandTimeout, "time allowed per SMTP command")
	dur(&c.Limits.SessionTimeout, "session-timeout", smtpd.DefaultSessionTimeout, "longest SMTP session")
	num(&c.Limits.MaxConns, "max-conns", smtpd.DefaultMaxConns, "concurrent SMTP connections")
	num(&c.Limits.MaxConnsPerIP, "max-conns-per-ip", smtpd.DefaultMaxConnsPerIP, "concurrent SMTP connections per client IP")
	num(&c.Limits.MaxConnsPerNet, "max-conns-per-net", smtpd.DefaultMaxConnsPerNet, "concurrent SMTP connections per client /24 (IPv4) or /64 (IPv6)")
	dur(&c.Limits.GreetingTimeout, "greeting-timeout", smtpd.DefaultGreetingTimeout, "time allowed for each line before EHLO or HELO")
	num(&c.Workers, "workers", worker.DefaultWorkers, "verdicts computed at once")
	num(&c.MaxInFlight, "max-in-flight", worker.DefaultMaxInFlight, "probes accepted and not yet judged; past it SMTP waits, then answers 451 4.3.2")
	dur(&c.DNSCache, "dns-cache", dnsx.DefaultCacheTTL, "longest a DNS answer is reused, within its TTL (0: ask every time); keep it short, so a fixed record shows at once")
	dur(&c.Retention, "retention", 7*24*time.Hour, "how long probes and verdicts are kept")
	dur(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "how long shutdown waits for sessions in flight")
	str(&c.LogFormat, "log-format", "text", "log format: text or json")
	publicLists := envDefault(envName("public-lists"), "true") != "false"
	fs.BoolVar(&c.PublicLists, "public-lists", publicLists, "show the lists of results (/spf, /dkim, /check, GET /api/results) to everyone; false keeps them for --admin-token, and people use private tests at /new (env TESTERD_PUBLIC_LISTS)")
	str(&c.AdminToken, "admin-token", "", "token for the DMARC report pages and API (empty: those pages are off); prefer the environment variable")
	str(&c.TrustedProxies, "trusted-proxies", "", "reverse proxies (CIDRs, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are believed, for the admin pages' throttling and Secure cookie")
	str(&c.AlertTo, "alert-to", "", "addresses, comma-separated, that get alerts about the watched domains (webhooks of tokens with the reports scope get them too)")
	str(&c.WatchDomains, "watch-domains", "", "domains, comma-separated, watched for alerts besides those whose reports arrive here")
	dur(&c.AlertCooldown, "alert-cooldown", alerts.DefaultCooldown, "one alert per problem and domain at most this often")
	str(&c.SummaryTo, "report-summary-to", "", "addresses, comma-separated, that get a daily summary of the DMARC reports (empty: none)")
	str(&c.SummaryAt, "report-summary-at", "13:00", "local time of the daily DMARC summary, HH:MM")
	str(&c.PprofAddr, "pprof-addr", "", "loopback address for Go's profiler (/debug/pprof/), off when empty; never expose it")
	str(&c.MetricsAddr, "metrics-addr", "", "loopback address for Prometheus metrics (/metrics), off when empty, e.g. 127.0.0.1:9464")
	boolean(&c.LintMXTLS, "lint-mx-tls", false, "let the domain checker (/domain) connect to each MX on port 25 to check STARTTLS and its certificate")
	boolean(&c.Reputation, "reputation", true, "look check@ probes' IP and From/DKIM domains up in a few DNS block and allow lists (the list operators see them through your resolver); false: no lookups")
	str(&c.SpamhausDQSKey, "spamhaus-dqs-key", "", "a Spamhaus Data Query Service key: Spamhaus is then queried through DQS (needed behind public resolvers)")
	boolean(&c.WebhookAllowPrivate, "webhook-allow-private", false, "let webhooks post to private, loopback and other non-public addresses (receivers on your own network); off, such a webhook fails")
	boolean(&c.MetricsToken, "metrics-token", false, "ask every scrape of /metrics for a token with the metrics scope (testerd token add --scopes metrics); then --metrics-addr may be any address")
	str(&c.Lang, "lang", "en", "language of pages for visitors whose browser asks for neither, and of replies whose recipient asks for none (en or it; check+it@ asks for Italian)")
	str(&c.ReportAddresses, "report-addresses", "", "extra local parts, comma-separated, that take DMARC aggregate reports besides rua@ (each with any +tag)")
	outFlags(fs, &c.Out, str, num, dur)
}

// outFlags binds the reply and delivery flags, shared by serve and
// dns-records.
func outFlags(fs *flag.FlagSet, o *outConfig, str func(*string, string, string, string), num func(*int, string, int, string),
	dur func(*time.Duration, string, time.Duration, string)) {
	str(&o.Mode, "reply", "always", "which probes get their verdict mailed back: always, authenticated (SPF or DKIM passed for the reply's domain) or off")
	str(&o.DisplayName, "reply-name", reply.DefaultDisplayName, "display name in the From of replies")
	str(&o.PublicURL, "public-url", "", "web address for the /r/{id} links in replies (default http://HOSTNAME:HTTP-PORT)")
	num(&o.Limits.PerAddress, "reply-limit-address", reply.DefaultLimits.PerAddress, "replies an hour to one address (0: no limit)")
	num(&o.Limits.PerDomain, "reply-limit-domain", reply.DefaultLimits.PerDomain, "replies an hour to one domain (0: no limit)")
	num(&o.Limits.PerClientIP, "reply-limit-ip", reply.DefaultLimits.PerClientIP, "replies an hour for probes from one client IP (0: no limit)")
	num(&o.Limits.PerRedirect, "reply-limit-redirect", reply.DefaultLimits.PerRedirect, "redirected replies an hour to one address the probe was not authenticated for (0: no limit)")
	dur(&o.GiveUp, "reply-give-up", outbound.DefaultGiveUp, "how long a reply is retried after temporary failures")
	str(&o.DKIMSelector, "dkim-selector", "testerd", "DKIM selector of the replies' RSA key (the Ed25519 key adds -ed25519)")
	fs.BoolVar(&o.DKIMEd25519, "dkim-ed25519", envDefault(envName("dkim-ed25519"), "") == "true",
		"also sign replies with an Ed25519 key (RFC 8463) (env TESTERD_DKIM_ED25519=true)")
	str(&o.Smarthost, "smarthost", "", "host:port to relay replies through, instead of delivering to the recipients' MX hosts")
	str(&o.SmarthostTLS, "smarthost-tls", "starttls", "smarthost TLS: starttls, implicit (port 465) or none (a relay on this host)")
	str(&o.SmarthostCA, "smarthost-ca", "", "PEM CA certificates to verify the smarthost with (default: the system's)")
	str(&o.SmarthostUser, "smarthost-user", "", "user for AUTH PLAIN at the smarthost (over TLS only)")
	str(&o.SmarthostPassword, "smarthost-password", "", "password for --smarthost-user; prefer the environment variable")
}

// runServe is "testerd serve": SMTP, verification, storage and web.
func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testerd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c serveConfig
	serveFlags(fs, &c)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "testerd serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if _, _, err := checkServe(c); err != nil {
		fmt.Fprintf(stderr, "testerd serve: %v\n", err)
		return 2
	}
	var h slog.Handler = slog.NewTextHandler(stderr, nil)
	if c.LogFormat == "json" {
		h = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(h)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c, log, serveHooks{}); err != nil {
		log.Error("testerd serve", "err", err)
		return 1
	}
	return 0
}

// serveHooks let tests wait on serve's events instead of polling. Either
// may be nil.
type serveHooks struct {
	// Ready reports the bound addresses (tests listen on port 0).
	Ready func(smtpAddr, httpAddr string)
	// Operator reports the address of each operator listener by its
	// flag (pprof-addr, metrics-addr), before Ready.
	Operator func(flag, addr string)
	// Changed is called after each stored verdict, reply attempt and
	// read report message.
	Changed func()
}

// checkServe validates every flag of serve before anything starts, and
// returns the parsed trusted proxies and language.
func checkServe(c serveConfig) ([]netip.Prefix, i18n.Lang, error) {
	if _, err := message.Domain(c.Domain); err != nil {
		return nil, "", fmt.Errorf("--domain: %v", err)
	}
	if c.Hostname != "" {
		if _, err := message.Domain(c.Hostname); err != nil {
			return nil, "", fmt.Errorf("--hostname: %v", err)
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return nil, "", fmt.Errorf("--log-format %q: use text or json", c.LogFormat)
	}
	if _, err := reply.ParseMode(c.Out.Mode); err != nil {
		return nil, "", fmt.Errorf("--reply: %v", err)
	}
	if _, err := outbound.ParseTLSMode(c.Out.SmarthostTLS); err != nil {
		return nil, "", fmt.Errorf("--smarthost-tls: %v", err)
	}
	if c.Out.PublicURL != "" {
		u, err := url.Parse(c.Out.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, "", fmt.Errorf("--public-url %q: give the start of a web address, such as https://tester.example.com", c.Out.PublicURL)
		}
	}
	if strings.Trim(c.SpamhausDQSKey, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
		return nil, "", errors.New("--spamhaus-dqs-key: the key is lowercase letters and digits")
	}
	if _, err := addresses("alert-to", c.AlertTo); err != nil {
		return nil, "", err
	}
	if _, err := addresses("report-summary-to", c.SummaryTo); err != nil {
		return nil, "", err
	}
	if _, err := watchDomains(c.WatchDomains); err != nil {
		return nil, "", err
	}
	if c.ProbeLease < time.Second {
		return nil, "", fmt.Errorf("--probe-lease %s: give at least 1s", c.ProbeLease)
	}
	if c.Database != "" && !store.IsPostgres(c.Database) {
		return nil, "", fmt.Errorf("--database %q: give a postgres:// URL (without it, the SQLite file in --data-dir is used)", c.Database)
	}
	if c.AdminToken != "" && len(c.AdminToken) < web.MinAdminToken {
		return nil, "", fmt.Errorf("--admin-token must be at least %d characters (try: openssl rand -hex 24)", web.MinAdminToken)
	}
	var proxies []netip.Prefix
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
			return nil, "", fmt.Errorf("--trusted-proxies: %q is not an address or CIDR", p)
		}
		proxies = append(proxies, pfx)
	}
	lang, ok := i18n.Parse(c.Lang)
	if c.Lang == "" {
		lang, ok = i18n.EN, true
	}
	if !ok {
		return nil, "", fmt.Errorf("--lang %q: use en or it", c.Lang)
	}
	return proxies, lang, nil
}

// mxTLS is the domain checker's MX STARTTLS check, nil when off.
func (c serveConfig) mxTLS() *lint.MXTLS {
	if !c.LintMXTLS {
		return nil
	}
	return &lint.MXTLS{Hostname: c.Hostname}
}

// reputation is the block list configuration, nil when off.
func (c serveConfig) reputation() *requirements.Reputation {
	if !c.Reputation {
		return nil
	}
	return &requirements.Reputation{SpamhausDQSKey: c.SpamhausDQSKey}
}

// databaseLocation is where the store is: --database, or the SQLite file
// in the data directory.
func (c serveConfig) databaseLocation() string {
	if c.Database != "" {
		return c.Database
	}
	return filepath.Join(c.DataDir, "testerd.db")
}

// serve runs until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, c serveConfig, log *slog.Logger, hooks serveHooks) error {
	if c.Hostname == "" {
		c.Hostname = c.Domain
	}
	proxies, lang, err := checkServe(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return err
	}
	st, err := store.Open(ctx, c.databaseLocation())
	if err != nil {
		return err
	}
	defer st.Close()
	if c.NodeID != "" {
		st.Node = c.NodeID
	}
	st.ProbeLease = c.ProbeLease
	if c.Database != "" {
		if err := shareIdentity(ctx, st, c); err != nil {
			return err
		}
	}

	var cert tls.Certificate
	if c.TLSCert != "" {
		cert, err = tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	} else {
		cert, err = smtpd.LoadOrCreateCert(c.DataDir, c.Hostname)
	}
	if err != nil {
		return err
	}
	resolver, err := dnsx.NewClient(c.Resolver, dnsx.DefaultTimeout)
	if err != nil {
		return err
	}
	resolver.CacheTTL = c.DNSCache

	queue, planner, err := setupReplies(c, st, resolver, log)
	if err != nil {
		return err
	}
	reports := &dmarcreport.Ingester{Store: st, Logger: log}
	var met *metrics.Metrics // nil, recording nothing, without --metrics-addr
	var pool *worker.Pool
	if c.MetricsAddr != "" {
		met = metrics.New(metrics.Sources{Batches: st.Stats, Outbox: st.OutboxStates, Queued: func() int { return pool.Queued() }})
	}
	changed := hooks.Changed
	if changed == nil {
		changed = func() {}
	}
	pool = &worker.Pool{Store: st, Judge: &verify.Judge{Resolver: met.Resolver(resolver), Receiver: c.Hostname, Reputation: c.reputation()}, Workers: c.Workers, MaxInFlight: c.MaxInFlight,
		Logger: log, Reply: planner, Enqueued: queue.Notify, Reports: reports,
		Done: func(pr *store.Probe, v *verify.Verdict, elapsed time.Duration) {
			met.Judged(pr.Kind, v.Tags, elapsed)
			changed()
		}}
	pool.Event = func(pr *store.Probe, tags []string, verdict []byte, judged time.Time, again bool) ([]byte, error) {
		return webhook.VerdictEvent(planner.BaseURL, pr, tags, verdict, judged, again)
	}
	queue.Webhooks = &webhook.Poster{Tokens: st, AllowPrivate: c.WebhookAllowPrivate}
	queue.Done = func(o *store.Outgoing) { met.Attempt(o); changed() }
	reports.Done = func(_ *store.ReportMessage, rs []*store.DMARCReport) { met.ReportMail(rs); changed() }
	lim := c.Limits
	lim.Domain, lim.Hostname, lim.Logger = c.Domain, c.Hostname, log
	for _, a := range strings.Split(c.ReportAddresses, ",") {
		if a = strings.TrimSpace(a); a != "" {
			lim.ReportAddresses = append(lim.ReportAddresses, a)
		}
	}
	lim.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS10}
	lim.Observe = met.SMTP
	smtpSrv := smtpd.New(lim, pool)
	smtpLn, err := net.Listen("tcp", c.SMTPAddr)
	if err != nil {
		return err
	}
	httpLn, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		smtpLn.Close()
		return err
	}
	if planner.BaseURL == "" {
		planner.BaseURL = defaultPublicURL(c.Hostname, httpLn.Addr())
	}
	w := &web.Server{Store: st, Reanalyzer: pool, HideLists: !c.PublicLists, Domain: c.Domain, Logger: log, Lint: &lint.Checker{Resolver: resolver, Receiver: c.Hostname, MaxLookups: WebLintLookups, STS: &mtasts.Fetcher{Resolver: resolver}, MXTLS: c.mxTLS()},
		Reports: st, AdminToken: c.AdminToken, Tokens: st, TLSReports: reports, Resolver: resolver, Health: resolver.Health().Err, Lang: lang, TrustedProxies: proxies}
	planner.Lang = lang
	if c.AdminToken == "" {
		log.Info("DMARC report pages are off: set --admin-token (TESTERD_ADMIN_TOKEN) to see the reports received at rua@")
	}
	httpSrv := web.NewHTTPServer(c.HTTPAddr, w.Handler())
	for _, op := range []struct {
		flag, addr, what string
		handler          func() http.Handler
	}{
		{"pprof-addr", c.PprofAddr, "profiler", pprofHandler},
		{"metrics-addr", c.MetricsAddr, "metrics", func() http.Handler {
			mux := http.NewServeMux()
			if c.MetricsToken {
				mux.Handle("/metrics", w.Protect(store.ScopeMetrics, met.Handler()))
			} else {
				mux.Handle("/metrics", met.Handler())
			}
			return mux
		}},
	} {
		if op.addr == "" {
			continue
		}
		srv, ln, err := listenOperator(op.flag, op.addr, op.flag == "metrics-addr" && c.MetricsToken, op.handler())
		if err != nil {
			smtpLn.Close()
			httpLn.Close()
			return err
		}
		defer srv.Close()
		go srv.Serve(ln)
		log.Info(op.what+" listening", "addr", ln.Addr().String())
		if hooks.Operator != nil {
			hooks.Operator(op.flag, ln.Addr().String())
		}
	}

	log.Info("testerd serving", "domain", c.Domain, "reply", c.Out.Mode, "transport", transportName(c.Out), "smtp", smtpLn.Addr().String(), "http", httpLn.Addr().String(),
		"data_dir", c.DataDir, "resolver", resolver.Server)
	log.Info("open "+planner.BaseURL+" in a browser; send probes to spf@, dkim@ or check@"+c.Domain+" at "+smtpLn.Addr().String(), "replies", c.Out.Mode)
	if hooks.Ready != nil {
		hooks.Ready(smtpLn.Addr().String(), httpLn.Addr().String())
	}

	digest, err := setupDigest(c, st, queue, planner.BaseURL, log)
	if err != nil {
		smtpLn.Close()
		httpLn.Close()
		return err
	}
	watcher, err := setupAlerts(c, st, resolver, queue, planner.BaseURL, log)
	if err != nil {
		return err
	}
	poolCtx, stopPool := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); watcher.Run(poolCtx) }()
	if digest != nil {
		wg.Add(1)
		go func() { defer wg.Done(); digest.Run(poolCtx) }()
	}
	wg.Add(4)
	go func() { defer wg.Done(); pool.Run(poolCtx) }()
	wg.Add(1)
	go func() { defer wg.Done(); reports.Run(poolCtx) }()
	go func() { defer wg.Done(); queue.Run(poolCtx) }()
	go func() { defer wg.Done(); retain(poolCtx, st, c.Retention, log) }()
	errs := make(chan error, 2)
	go func() {
		defer wg.Done()
		if err := smtpSrv.Serve(smtpLn); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, smtp.ErrServerClosed) {
			errs <- fmt.Errorf("smtp: %w", err)
		}
	}()
	go func() {
		if err := httpSrv.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs <- fmt.Errorf("http: %w", err)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: finishing sessions in flight")
	case runErr = <-errs:
	}
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := smtpSrv.Shutdown(sctx); err != nil {
		log.Warn("smtp shutdown", "err", err)
		smtpSrv.Close()
	}
	httpSrv.Shutdown(sctx)
	stopPool()
	wg.Wait()
	log.Info("stopped")
	return runErr
}

// retain deletes probes older than the retention age, hourly, on one node
// of the cluster each hour.
func retain(ctx context.Context, st *store.Store, age time.Duration, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		mine, err := st.RunOnce(ctx, "retention", time.Now().UTC().Format("2006-01-02T15"))
		var n int64
		if err == nil && mine { // otherwise another node has it this hour
			n, err = st.DeleteBefore(ctx, time.Now().Add(-age))
		}
		if err != nil && ctx.Err() == nil {
			log.Error("retention", "err", err)
		} else if n > 0 {
			log.Info("retention: deleted old probes", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// WebLintLookups bounds the DNS questions one domain check from the web
// may ask for a stranger: half of testerd lint's.
const WebLintLookups = lint.DefaultMaxLookups / 2

// The parts wired here fit the interfaces the others declare.
var (
	_ smtpd.Sink      = (*worker.Pool)(nil)
	_ worker.Planner  = (*reply.Planner)(nil)
	_ worker.Ingester = (*dmarcreport.Ingester)(nil)
	_ web.Reanalyzer  = (*worker.Pool)(nil)
	_ web.Store       = (*store.Store)(nil)
	_ web.ReportStore = (*store.Store)(nil)
)
