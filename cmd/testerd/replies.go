package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/reply"
	"github.com/testerd/testerd/store"
)

// setupReplies builds the reply planner and the outbound queue from the
// configuration, loading (or generating) the DKIM keys.
func setupReplies(c *config, st *store.Store, resolver dnsx.Resolver, log *slog.Logger) (*outbound.Queue, *reply.Planner, error) {
	keys, err := outbound.LoadOrCreateKeys(c.DataDir, c.Out.DKIMSelector, c.Out.DKIMEd25519)
	if err != nil {
		return nil, nil, err
	}
	transport, err := transportFor(c, resolver)
	if err != nil {
		return nil, nil, err
	}
	planner := &reply.Planner{Domain: c.Domain, Hostname: c.Hostname, DisplayName: c.Out.DisplayName,
		BaseURL: strings.TrimSuffix(c.Out.PublicURL, "/"), Mode: c.replyMode, Limits: c.Out.Limits}
	q := &outbound.Queue{Store: st, Transport: transport, Signer: &outbound.Signer{Domain: c.Domain, Keys: keys},
		Logger: log, GiveUp: c.Out.GiveUp, Backoff: c.Out.Backoff}
	return q, planner, nil
}

func transportFor(c *config, resolver dnsx.Resolver) (outbound.Transport, error) {
	if c.Out.Smarthost == "" {
		// MTA-STS policies are fetched (and DANE looked up) for each
		// recipient domain: replies go as securely as testerd advises.
		sts := &mtasts.Fetcher{Resolver: resolver, AllowPrivate: c.Out.MXAllowPrivate}
		return &outbound.Direct{Resolver: resolver, Hostname: c.Hostname, Port: c.Out.MXPort, AllowPrivate: c.Out.MXAllowPrivate, STS: sts}, nil
	}
	if _, _, err := net.SplitHostPort(c.Out.Smarthost); err != nil {
		return nil, fmt.Errorf("--smarthost %q: want host:port", c.Out.Smarthost)
	}
	mode := c.smarthostTLS
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
