package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testerd/testerd/internal/pgtest"
)

// TestServePostgres runs the server on PostgreSQL (--database): probes
// judged and shown, a DMARC report read and listed, a token made by the
// command and honoured by the server, a re-analysis.
func TestServePostgres(t *testing.T) {
	t.Parallel()
	c := testConfig(t)
	c.Resolver, c.AdminToken, c.Database = probeDNS(t), "s3cret-admin-token", pgtest.DSN(t)
	_, reader, _ := addToken(t, c.DataDir, "--database", c.Database, "--scopes", "results")
	smtpAddr, httpAddr := startServeWith(t, c)
	base := "http://" + httpAddr
	for _, m := range []struct{ rcpt, msg string }{
		{"spf@" + probeDomain, probeMessage(t, "on postgres \xff", "Joe <joe@abc.it>")},
		{"dkim@" + probeDomain, probeMessage(t, "on postgres too", "Joe <joe@abc.it>")},
		{"rua@" + probeDomain, reportMail(aggregateReport("r-pg", time.Now().UTC().Truncate(24*time.Hour)))},
	} {
		if err := sendProbe(smtpAddr, m.rcpt, m.msg, false); err != nil {
			t.Fatal(err)
		}
	}
	l := waitJudged(t, httpAddr, "spf", 1)
	if strings.Join(l.Results[0].Tags, " ") != "|OK| spf-pass" {
		t.Fatalf("spf on PostgreSQL: %+v", l.Results[0])
	}
	if d := waitJudged(t, httpAddr, "dkim", 1); strings.Join(d.Results[0].Tags, " ") != "|OK| dkim-pass" {
		t.Fatalf("dkim on PostgreSQL: %+v", d.Results[0])
	}
	if page := get(t, base+"/r/"+l.Results[0].ID); !strings.Contains(page, "on postgres") {
		t.Error("the result page lacks the subject")
	}
	waitFor(t, httpAddr, func() bool {
		_, b := call(t, "GET", base+"/api/reports", c.AdminToken)
		return strings.Contains(b, "r-pg")
	}, func() string { return "the DMARC report did not show" })
	if code, body := call(t, "GET", base+"/api/results", reader); code != http.StatusOK || !strings.Contains(body, `"verdict"`) {
		t.Errorf("a results token on PostgreSQL: %d", code)
	}
	if code, body := call(t, "POST", base+"/api/results/"+l.Results[0].ID+"/reanalyze", c.AdminToken); code != http.StatusOK {
		t.Errorf("re-analysis on PostgreSQL: %d %s", code, body)
	}
	var out bytes.Buffer
	if code := run([]string{"token", "list", "--database", c.Database}, nil, &out, &out); code != 0 || !strings.Contains(out.String(), "results") {
		t.Errorf("token list on PostgreSQL: %s", out.String())
	}
}

// pgProxy forwards TCP connections to the PostgreSQL server of a pgtest
// URL (a Unix socket) until it is cut, which closes every connection and
// refuses new ones: PostgreSQL unreachable, as a network failure makes it.
type pgProxy struct {
	ln     net.Listener
	socket string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func startPGProxy(t *testing.T, dsn string) (*pgProxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	dir := q.Get("host")
	if dir == "" || !strings.HasPrefix(dir, "/") {
		t.Skipf("the proxy reaches PostgreSQL on a Unix socket; %s has none", pgtest.Env)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, socket: filepath.Join(dir, ".s.PGSQL.5432")}
	t.Cleanup(func() { ln.Close(); p.cut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			s, err := net.Dial("unix", p.socket)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, s)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() { io.Copy(c, s); c.Close() }()
		}
	}()
	q.Del("host")
	u.Host = ln.Addr().String()
	u.RawQuery = q.Encode()
	return p, u.String()
}

// cut takes PostgreSQL away (down) or brings it back.
func (p *pgProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestPostgresDown: while PostgreSQL cannot be reached, intake answers 451
// (the client keeps the message and tries again) and /healthz says so;
// once it is back, probes are taken again, and every probe acknowledged
// with 250 is judged.
func TestPostgresDown(t *testing.T) {
	t.Parallel()
	proxy, dsn := startPGProxy(t, pgtest.DSN(t))
	c := testConfig(t)
	c.Resolver, c.Database = probeDNS(t), dsn
	smtpAddr, httpAddr := startServeWith(t, c)
	if err := sendProbe(smtpAddr, "spf@"+probeDomain, probeMessage(t, "before", "Joe <joe@abc.it>"), false); err != nil {
		t.Fatal(err)
	}
	waitJudged(t, httpAddr, "spf", 1)

	proxy.cut(true)
	err := sendProbe(smtpAddr, "spf@"+probeDomain, probeMessage(t, "during", "Joe <joe@abc.it>"), false)
	if err == nil || !strings.Contains(err.Error(), "451") {
		t.Fatalf("a probe while PostgreSQL is unreachable: %v, want 451", err)
	}
	if code, _ := call(t, "GET", "http://"+httpAddr+"/healthz", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz while PostgreSQL is unreachable: %d", code)
	}

	proxy.cut(false)
	var sent bool
	for range 50 { // the pool reconnects at the next use
		if sendProbe(smtpAddr, "spf@"+probeDomain, probeMessage(t, "after", "Joe <joe@abc.it>"), false) == nil {
			sent = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !sent {
		t.Fatal("no probe was taken after PostgreSQL came back")
	}
	// A pooled connection that died with the outage fails its next use
	// once (pgx pings only connections idle over a second): reads may
	// answer 500 until each is replaced.
	for range 50 {
		if code, _ := call(t, "GET", "http://"+httpAddr+"/api/results?kind=spf", ""); code == http.StatusOK {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if l := waitJudged(t, httpAddr, "spf", 2); len(l.Results) != 2 {
		t.Errorf("%d probes stored, want the 2 answered 250", len(l.Results))
	}
}
