package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/testerd/testerd/alerts"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/lint"
	"github.com/testerd/testerd/metrics"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/reply"
	"github.com/testerd/testerd/reports"
	"github.com/testerd/testerd/smtpd"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/web"
	"github.com/testerd/testerd/webhook"
	"github.com/testerd/testerd/worker"
)

// runServe is "testerd serve": SMTP, verification, storage and web.
func runServe(cl *cli, args []string) int {
	stdout, stderr := cl.stdout, cl.stderr
	fs := flag.NewFlagSet("testerd serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := bindConfig(fs, cl.env)
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "testerd serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if err := c.resolve(); err != nil {
		fmt.Fprintf(stderr, "testerd serve: %v\n", err)
		return 2
	}
	opts := &slog.HandlerOptions{Level: c.logLevel}
	var h slog.Handler = slog.NewTextHandler(stderr, opts)
	if c.LogFormat == "json" {
		h = slog.NewJSONHandler(stderr, opts)
	}
	log := slog.New(h)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, c, log, serveHooks{}); err != nil {
		log.Error("testerd serve", "err", err)
		if errors.Is(err, errNodeTaken) {
			fmt.Fprintf(stderr, "testerd serve: %v\n", err)
			return 2
		}
		return 1
	}
	return 0
}

// serveHooks let tests wait on serve's events instead of polling, and
// read what only the store knows. Any may be nil.
type serveHooks struct {
	// Ready reports the bound addresses (tests listen on port 0).
	Ready func(smtpAddr, httpAddr string)
	// Operator reports the address of each operator listener by its
	// flag (pprof-addr, metrics-addr), before Ready.
	Operator func(flag, addr string)
	// Changed is called after each stored verdict, reply attempt and
	// read report message.
	Changed func()
	// Store is given the store once it is open (a result's view key is
	// only in it and in the reply).
	Store func(*store.Store)
}

// serve builds the server from a resolved config, runs it until ctx
// ends, and releases it.
func serve(ctx context.Context, c *config, log *slog.Logger, hooks serveHooks) error {
	srv, err := build(ctx, c, log, hooks)
	if err != nil {
		return err
	}
	defer srv.Close()
	return srv.Run(ctx)
}

// server is everything serve runs: build makes each part and binds each
// listener, Run starts them, Close releases what build made.
type server struct {
	cfg      *config
	log      *slog.Logger
	hooks    serveHooks
	baseURL  string
	resolver *dnsx.Client
	smtp     *smtpd.Server
	web      *httpServer
	// operators are the operator listeners (--pprof-addr,
	// --metrics-addr), by flag.
	operators map[string]*httpServer
	// parts run in this order and stop in the reverse one.
	parts []part
	// closers release, in reverse, what build made.
	closers []func() error
}

// build makes every part of the server and binds every listener, and
// starts nothing: a bind error is just an error, and whatever was made
// before it is released.
func build(ctx context.Context, c *config, log *slog.Logger, hooks serveHooks) (_ *server, err error) {
	s := &server{cfg: c, log: log, hooks: hooks, operators: map[string]*httpServer{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	st, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, st.Close)
	if hooks.Store != nil {
		hooks.Store(st)
	}
	cert, err := loadCert(c)
	if err != nil {
		return nil, err
	}
	resolver, err := dnsx.NewClient(c.Resolver, dnsx.DefaultTimeout)
	if err != nil {
		return nil, err
	}
	resolver.CacheTTL = c.DNSCache
	s.resolver = resolver

	queue, planner, err := setupReplies(c, st, resolver, log)
	if err != nil {
		return nil, err
	}
	ingester := &reports.Ingester{Store: st, Logger: log}
	var met *metrics.Metrics // nil, recording nothing, without --metrics-addr
	var pool *worker.Pool
	if c.MetricsAddr != "" {
		met = metrics.New(metrics.Sources{Batches: st.Stats, Outbox: st.OutboxStates, Queued: func() int { return pool.Queued() },
			Nodes: func(ctx context.Context) ([]store.NodeRecord, error) { return st.LiveNodes(ctx, time.Now()) }})
	}
	changed := hooks.Changed
	if changed == nil {
		changed = func() {}
	}
	pool = &worker.Pool{Store: st, Judge: &verify.Judge{Resolver: met.Resolver(resolver), Receiver: c.Hostname, Reputation: c.reputation(), Spam: c.spam(), Unsubscribe: c.unsubscribeTrier(), BIMI: c.bimi()}, Workers: c.Workers, MaxInFlight: c.MaxInFlight, RejudgeDelay: c.RejudgeDelay,
		Logger: log, Reply: planner, Enqueued: queue.Notify, Reports: ingester,
		Done: func(pr *store.Probe, v *verify.Verdict, elapsed time.Duration) {
			met.Judged(pr.Kind, v.Tags, elapsed)
			changed()
		}}
	pool.Event = func(pr *store.Probe, tags []string, verdict []byte, judged time.Time, again bool) ([]byte, error) {
		return webhook.VerdictEvent(planner.BaseURL, pr, tags, verdict, judged, again)
	}
	queue.Webhooks = &webhook.Poster{Tokens: st, AllowPrivate: c.WebhookAllowPrivate}
	queue.Done = func(o *store.Outgoing) { met.Attempt(o); changed() }
	queue.Resumed = met.Resumed
	ingester.Done = func(_ *store.ReportMessage, rs []*store.DMARCReport) { met.ReportMail(rs); changed() }

	lim := c.Limits
	lim.Domain, lim.Hostname, lim.Logger, lim.ReportAddresses = c.Domain, c.Hostname, log, c.reportAddresses
	lim.ShutdownTimeout = c.ShutdownTimeout
	// TLS 1.2 and up, as testerd asks of others (RFC 8996 deprecates 1.0
	// and 1.1); a client that cannot is judged without TLS.
	lim.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	lim.Observe = met.SMTP
	if s.smtp, err = smtpd.Listen(c.SMTPAddr, lim, pool); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.smtp.Close)
	httpLn, err := net.Listen("tcp", c.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	s.closers = append(s.closers, httpLn.Close)
	if planner.BaseURL == "" {
		planner.BaseURL = defaultPublicURL(c.Hostname, httpLn.Addr())
	}
	s.baseURL = planner.BaseURL
	planner.Lang = c.lang
	w := &web.Server{Store: st, FailureDelay: c.FailureDelay, RepliesOff: c.replyMode == reply.Off, Reanalyzer: pool, HideLists: !c.PublicLists, Domain: c.Domain, Logger: log, Lint: &lint.Checker{Resolver: resolver, Receiver: c.Hostname, MaxLookups: WebLintLookups, STS: &mtasts.Fetcher{Resolver: resolver}, MXTLS: c.mxTLS(), BIMI: c.bimi()},
		Reports: st, AdminToken: c.AdminToken, Tokens: st, TLSReports: ingester, Resolver: resolver, Health: resolver.Health().Err, Lang: c.lang, TrustedProxies: c.proxies,
		Judge: pool.Judge, BaseURL: s.baseURL, Sessions: st,
		Nodes: func(ctx context.Context) ([]store.NodeRecord, error) { return st.LiveNodes(ctx, time.Now()) }}
	s.web = &httpServer{srv: web.NewHTTPServer(c.HTTPAddr, w.Handler()), ln: httpLn, shutdown: c.ShutdownTimeout}

	if err := s.listenOperators(w, met); err != nil {
		return nil, err
	}
	mem, err := join(ctx, st, c.DataDir, "smtp "+s.smtp.Addr().String()+" http "+httpLn.Addr().String(), log)
	if err != nil {
		return nil, err
	}
	s.closers = append(s.closers, mem.unlock)

	watcher := &alerts.Watcher{Lang: c.lang, Store: st, Resolver: resolver, Domains: c.watch, To: c.alertTo, Domain: c.Domain, Hostname: c.Hostname, BaseURL: s.baseURL,
		Cooldown: c.AlertCooldown, Logger: log, Enqueued: queue.Notify, STS: &mtasts.Fetcher{Resolver: resolver}}
	ret := &retention{store: st, age: c.Retention, log: log}

	// Started in this order, stopped in the reverse one: SMTP intake
	// first, then the web, the judges, the reports, the queue, the
	// summary, the alerts and retention last.
	s.parts = []part{{"node registry", mem.run}, {"garbage collector", gcTuner{}.run}, {"retention", ret.run}, {"alerts", watcher.Run}}
	if len(c.summaryTo) > 0 {
		digest := &reports.Digest{Lang: c.lang, Store: st, Domain: c.Domain, Hostname: c.Hostname, BaseURL: s.baseURL, To: c.summaryTo,
			Hour: c.summaryHour, Minute: c.summaryMinute, Enqueued: queue.Notify, Logger: log}
		s.parts = append(s.parts, part{"dmarc summary", digest.Run})
	}
	s.parts = append(s.parts, part{"outbound queue", queue.Run}, part{"report reader", ingester.Run}, part{"judges", pool.Run})
	for _, flag := range []string{"metrics-addr", "pprof-addr"} {
		if h := s.operators[flag]; h != nil {
			s.parts = append(s.parts, part{flag, h.run})
		}
	}
	s.parts = append(s.parts, part{"http", s.web.run}, part{"smtp", s.smtp.Run})
	return s, nil
}

// openStore opens the database, names this node in it, and, on a
// database several nodes share, gives them one identity.
func openStore(ctx context.Context, c *config) (*store.Store, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, err
	}
	st, err := store.Open(ctx, c.databaseLocation())
	if err != nil {
		return nil, err
	}
	if c.NodeID != "" {
		st.Node = c.NodeID
	}
	st.ProbeLease = c.ProbeLease
	if c.Database != "" {
		if err := shareIdentity(ctx, st, c); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// loadCert is the STARTTLS certificate: the operator's, or one generated
// in the data directory.
func loadCert(c *config) (tls.Certificate, error) {
	if c.TLSCert != "" {
		return tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	}
	return smtpd.LoadOrCreateCert(c.DataDir, c.Hostname)
}

// listenOperators binds the operator listeners that are set: the profiler
// and the metrics.
func (s *server) listenOperators(w *web.Server, met *metrics.Metrics) error {
	c := s.cfg
	for _, op := range []struct {
		flag, addr string
		handler    func() http.Handler
	}{
		{"pprof-addr", c.PprofAddr, pprofHandler},
		{"metrics-addr", c.MetricsAddr, func() http.Handler {
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
		h, err := listenOperator(op.flag, op.addr, op.flag == "metrics-addr" && c.MetricsToken, op.handler())
		if err != nil {
			return err
		}
		s.closers = append(s.closers, h.Close)
		s.operators[op.flag] = h
	}
	return nil
}

// Run starts the parts in order, says the server is ready once every one
// runs, and stops them in reverse when ctx ends or one fails.
func (s *server) Run(ctx context.Context) error {
	c := s.cfg
	if c.AdminToken == "" {
		s.log.Info("DMARC report pages are off: set --admin-token (TESTERD_ADMIN_TOKEN) to see the reports received at rua@")
	}
	smtpAddr, httpAddr := s.smtp.Addr().String(), s.web.ln.Addr().String()
	err := runParts(ctx, s.parts, func() {
		for flag, h := range s.operators {
			s.log.Info(flag+" listening", "addr", h.ln.Addr().String())
			if s.hooks.Operator != nil {
				s.hooks.Operator(flag, h.ln.Addr().String())
			}
		}
		s.log.Info("testerd serving", "domain", c.Domain, "reply", c.Out.Mode, "transport", transportName(c.Out), "smtp", smtpAddr, "http", httpAddr,
			"data_dir", c.DataDir, "resolver", s.resolver.Server)
		s.log.Info("open "+s.baseURL+" in a browser; send probes to spf@, dkim@ or check@"+c.Domain+" at "+smtpAddr, "replies", c.Out.Mode)
		if s.hooks.Ready != nil {
			s.hooks.Ready(smtpAddr, httpAddr)
		}
	})
	s.log.Info("stopped")
	return err
}

// Close releases, in reverse, whatever build made: the listeners of parts
// that never ran (the others closed their own), then the store.
func (s *server) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	s.closers = nil
	return errors.Join(errs...)
}

// retention deletes probes older than age, hourly, on one node of the
// cluster each hour.
type retention struct {
	store *store.Store
	age   time.Duration
	log   *slog.Logger
}

func (r *retention) run(ctx context.Context) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		mine, err := r.store.RunOnce(ctx, "retention", time.Now().UTC().Format("2006-01-02T15"))
		var n int64
		if err == nil && mine { // otherwise another node has it this hour
			n, err = r.store.DeleteBefore(ctx, time.Now().Add(-r.age))
			if err == nil {
				_, err = r.store.SweepSessions(ctx, time.Now())
			}
		}
		if err != nil && ctx.Err() == nil {
			r.log.Error("retention", "err", err)
		} else if n > 0 {
			r.log.Info("retention: deleted old probes", "count", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// WebLintLookups bounds the DNS questions one domain check from the web
// may ask for a stranger: half of testerd lint's.
const WebLintLookups = lint.DefaultMaxLookups / 2

// The parts wired here fit the interfaces the others declare.
var (
	_ web.Sessions    = (*store.Store)(nil)
	_ smtpd.Sink      = (*worker.Pool)(nil)
	_ worker.Planner  = (*reply.Planner)(nil)
	_ worker.Ingester = (*reports.Ingester)(nil)
	_ web.Reanalyzer  = (*worker.Pool)(nil)
	_ web.Store       = (*store.Store)(nil)
	_ web.ReportStore = (*store.Store)(nil)
)
