package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/testerd/testerd/alerts"
	"github.com/testerd/testerd/dmarcreport"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/reply"
	"github.com/testerd/testerd/store"
)

// setupReplies builds the reply planner and the outbound queue from the
// configuration, loading (or generating) the DKIM keys.
func setupReplies(c serveConfig, st *store.Store, resolver dnsx.Resolver, log *slog.Logger) (*outbound.Queue, *reply.Planner, error) {
	mode, err := reply.ParseMode(c.Out.Mode)
	if err != nil {
		return nil, nil, err
	}
	keys, err := outbound.LoadOrCreateKeys(c.DataDir, c.Out.DKIMSelector, c.Out.DKIMEd25519)
	if err != nil {
		return nil, nil, err
	}
	transport, err := transportFor(c, resolver)
	if err != nil {
		return nil, nil, err
	}
	planner := &reply.Planner{Domain: c.Domain, Hostname: c.Hostname, DisplayName: c.Out.DisplayName,
		BaseURL: strings.TrimSuffix(c.Out.PublicURL, "/"), Mode: mode, Limits: c.Out.Limits}
	q := &outbound.Queue{Store: st, Transport: transport, Signer: &outbound.Signer{Domain: c.Domain, Keys: keys},
		Logger: log, GiveUp: c.Out.GiveUp, Backoff: c.Out.Backoff}
	return q, planner, nil
}

func transportFor(c serveConfig, resolver dnsx.Resolver) (outbound.Transport, error) {
	if c.Out.Smarthost == "" {
		return &outbound.Direct{Resolver: resolver, Hostname: c.Hostname, Port: c.Out.MXPort, AllowPrivate: c.Out.MXAllowPrivate}, nil
	}
	if _, _, err := net.SplitHostPort(c.Out.Smarthost); err != nil {
		return nil, fmt.Errorf("--smarthost %q: want host:port", c.Out.Smarthost)
	}
	mode, err := outbound.ParseTLSMode(c.Out.SmarthostTLS)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.Out.SmarthostCA != "" {
		pem, err := os.ReadFile(c.Out.SmarthostCA)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--smarthost-ca %s: no PEM certificate", c.Out.SmarthostCA)
		}
	}
	if c.Out.SmarthostUser != "" && mode == outbound.NoTLS {
		return nil, fmt.Errorf("--smarthost-user needs --smarthost-tls starttls or implicit: the password is never sent in clear")
	}
	return &outbound.Smarthost{Addr: c.Out.Smarthost, Hostname: c.Hostname, TLS: mode, TLSConfig: cfg,
		Username: c.Out.SmarthostUser, Password: c.Out.SmarthostPassword}, nil
}

func transportName(o outConfig) string {
	if o.Smarthost != "" {
		return "smarthost " + o.Smarthost
	}
	return "direct to MX"
}

// defaultPublicURL is http://hostname[:port] for the bound web listener.
func defaultPublicURL(hostname string, addr net.Addr) string {
	_, port, _ := net.SplitHostPort(addr.String())
	if port == "80" || port == "" {
		return "http://" + hostname
	}
	return "http://" + net.JoinHostPort(hostname, port)
}

// addresses reads a flag's comma-separated plain addresses.
func addresses(flagName, list string) ([]string, error) {
	var to []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if err := dmarcreport.CheckAddress(a); err != nil {
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

// setupAlerts builds the watcher of the reported and listed domains.
func setupAlerts(c serveConfig, st *store.Store, resolver dnsx.Resolver, q *outbound.Queue, baseURL string, log *slog.Logger) (*alerts.Watcher, error) {
	to, err := addresses("alert-to", c.AlertTo)
	if err != nil {
		return nil, err
	}
	watch, err := watchDomains(c.WatchDomains)
	if err != nil {
		return nil, err
	}
	return &alerts.Watcher{Store: st, Resolver: resolver, Domains: watch, To: to, Domain: c.Domain, Hostname: c.Hostname, BaseURL: baseURL,
		Cooldown: c.AlertCooldown, Logger: log, Enqueued: q.Notify, STS: &mtasts.Fetcher{Resolver: resolver}}, nil
}

// setupDigest builds the daily DMARC summary, or nil when nobody gets it.
func setupDigest(c serveConfig, st *store.Store, q *outbound.Queue, baseURL string, log *slog.Logger) (*dmarcreport.Digest, error) {
	to, err := addresses("report-summary-to", c.SummaryTo)
	if err != nil {
		return nil, err
	}
	if len(to) == 0 {
		return nil, nil
	}
	h, m, err := dmarcreport.ParseAt(c.SummaryAt)
	if err != nil {
		return nil, fmt.Errorf("--report-summary-at: %w", err)
	}
	return &dmarcreport.Digest{Store: st, Domain: c.Domain, Hostname: c.Hostname, BaseURL: baseURL, To: to, Hour: h, Minute: m,
		Enqueued: q.Notify, Logger: log}, nil
}
