package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/testerd/testerd/internal/pgtest"
)

// child is a testerd serve run as a real process (the test binary as
// main), which a test can SIGKILL.
type child struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	smtp string
	http string
}

// syncBuffer is a bytes.Buffer a child process and the test share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startChild starts testerd serve with args (beside its own listeners'
// addresses) and, with ready, waits until its SMTP port answers.
func startChild(t *testing.T, ready bool, args ...string) *child {
	t.Helper()
	c := &child{log: &syncBuffer{}, smtp: freeAddr(t), http: freeAddr(t)}
	c.cmd = exec.Command(os.Args[0], append([]string{"serve", "--domain", probeDomain, "--smtp-addr", c.smtp, "--http-addr", c.http}, args...)...)
	c.cmd.Stdout, c.cmd.Stderr, c.cmd.Env = c.log, c.log, childEnv()
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
	if !ready {
		return c
	}
	for range 400 {
		if conn, err := net.Dial("tcp", c.http); err == nil {
			conn.Close()
			return c
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("the node did not start:\n%s", c.log.String())
	return nil
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

// blackHole takes SMTP connections and never answers: a delivery to it
// hangs for as long as its node lives.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestReplyFailover: two nodes on one PostgreSQL; node B's deliveries
// hang (its relay never answers), so it holds the replies it claimed,
// renewing their leases: node A leaves them alone for two leases. Then B
// is SIGKILLed: A delivers every one of them within about 1.5 × the
// lease, each probe's reply exactly once, and counts the attempts B had
// begun as resumed (the only ones that could reach a recipient twice).
func TestReplyFailover(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	mx, port, resolver := replyRig(t)
	const lease = 3 * time.Second
	b := startChild(t, true, "--data-dir", t.TempDir(), "--database", dsn, "--node-id", "b", "--probe-lease", lease.String(),
		"--resolver", resolver, "--smarthost", blackHole(t), "--smarthost-tls", "none",
		"--reply-limit-address", "0", "--reply-limit-ip", "0", "--reply-limit-domain", "0")
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const n = 8
	for i := range n {
		if err := sendProbe(b.smtp, "spf@"+probeDomain, probeMessage(t, fmt.Sprint("b probe ", i), "Joe <joe@abc.it>"), false); err != nil {
			t.Fatalf("probe %d to b: %v", i, err)
		}
	}
	// B's four workers hang in their attempts; it holds those and the
	// rest of the batch it claimed.
	deadline := time.Now().Add(20 * time.Second)
	for count(`SELECT COUNT(*) FROM outbox WHERE lease_owner = 'b' AND attempt_started > 0`) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("b began no attempts:\n%s", b.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	c := testConfig(t)
	c.Database, c.NodeID, c.Resolver, c.ProbeLease = dsn, "a", resolver, lease
	c.Out.MXPort, c.Out.MXAllowPrivate = port, true
	c.Out.Limits.PerAddress, c.Out.Limits.PerClientIP, c.Out.Limits.PerDomain = 0, 0, 0
	c.MetricsAddr = "127.0.0.1:0"
	metricsAddr := make(chan string, 1)
	smtpA, httpA := startServeHooked(t, c, func(flag, addr string) {
		if flag == "metrics-addr" {
			metricsAddr <- addr
		}
	})
	for i := range n {
		if err := sendProbe(smtpA, "spf@"+probeDomain, probeMessage(t, fmt.Sprint("a probe ", i), "Joe <joe@abc.it>"), false); err != nil {
			t.Fatalf("probe %d to a: %v", i, err)
		}
	}
	if _, body := call(t, "GET", "http://"+httpA+"/healthz", ""); !strings.Contains(body, "nodes: 2 live") {
		t.Errorf("/healthz with two nodes: %q", body)
	}
	live := `SELECT COUNT(*) FROM outbox WHERE lease_owner = 'b' AND lease_until > $1 AND state IN ('queued', 'deferred')`
	held := count(live, time.Now().UnixNano())
	waitFor(t, httpA, func() bool { return len(mx.Messages()) >= 2*n-held }, func() string {
		return fmt.Sprintf("%d replies at the MX, %d expected while b holds %d", len(mx.Messages()), 2*n-held, held)
	})
	// Two leases later, b still holds them: it renews.
	time.Sleep(2 * lease)
	if got := count(live, time.Now().UnixNano()); got != held {
		t.Fatalf("b held %d, then %d after two leases", held, got)
	}
	if got := len(mx.Messages()); got != 2*n-held {
		t.Fatalf("%d replies while b holds %d (want %d)", got, held, 2*n-held)
	}
	begun := count(`SELECT COUNT(*) FROM outbox WHERE lease_owner = 'b' AND attempt_started > 0 AND state IN ('queued', 'deferred')`)

	b.kill(t)
	killed := time.Now()
	deadline = killed.Add(3 * lease)
	for len(mx.Messages()) < 2*n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	failover := time.Since(killed)
	t.Logf("b held %d replies (%d attempts begun); all %d replies at the MX %.2fs after the kill (lease %s)", held, begun, 2*n, failover.Seconds(), lease)
	if len(mx.Messages()) < 2*n {
		t.Fatalf("%d of %d replies %s after the kill", len(mx.Messages()), 2*n, 3*lease)
	}
	if failover > lease*3/2+time.Second {
		t.Errorf("failover took %s, more than 1.5 × the lease (%s)", failover, lease)
	}
	// Nothing more comes: every reply once.
	time.Sleep(lease)
	seen := map[string]int{}
	idRE := regexp.MustCompile(`/r/([a-z0-9]{26})`)
	for _, m := range mx.Messages() {
		id := idRE.FindStringSubmatch(string(m.Data))
		if id == nil {
			t.Fatalf("a reply without its result link:\n%s", m.Data)
		}
		seen[id[1]]++
	}
	if len(mx.Messages()) != 2*n || len(seen) != 2*n {
		t.Errorf("%d replies for %d probes (%d distinct)", len(mx.Messages()), 2*n, len(seen))
	}
	_, body := call(t, "GET", "http://"+<-metricsAddr+"/metrics", "")
	m := regexp.MustCompile(`(?m)^testerd_outbox_resumed_total\{channel="mail"\} (\d+)$`).FindStringSubmatch(body)
	if m == nil || m[1] != strconv.Itoa(begun) {
		t.Errorf("resumed deliveries %v, want %d", m, begun)
	}
	waitFor(t, httpA, func() bool {
		_, body := call(t, "GET", "http://"+httpA+"/healthz", "")
		return strings.Contains(body, "nodes: 1 live")
	}, func() string { return "the dead node is still listed as live" })
}

// TestNodeName: a second live process under a name a live one holds is
// refused (exit 2, naming the holder's address and start); so is a second
// process on one data directory; a restart after a SIGKILL is not, on the
// same data directory at once, on another one after the lease.
func TestNodeName(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	resolver := probeDNS(t)
	dir := t.TempDir()
	args := func(dir string) []string {
		return []string{"--data-dir", dir, "--database", dsn, "--node-id", "same", "--probe-lease", "2s", "--resolver", resolver, "--reply", "off"}
	}
	first := startChild(t, true, args(dir)...)
	exit := func(c *child) int {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- c.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("the second process did not stop:\n%s", c.log.String())
		}
		return c.cmd.ProcessState.ExitCode()
	}
	second := startChild(t, false, args(t.TempDir())...)
	if code := exit(second); code != 2 || !strings.Contains(second.log.String(), "smtp "+first.smtp) || !strings.Contains(second.log.String(), "started 20") {
		t.Fatalf("a second live node named same: exit %d\n%s", code, second.log.String())
	}
	t.Logf("refused: %s", strings.TrimSpace(lastLine(second.log.String())))
	// SQLite: one data directory, one process.
	sqliteDir := t.TempDir()
	startChild(t, true, "--data-dir", sqliteDir, "--resolver", resolver, "--reply", "off")
	twin := startChild(t, false, "--data-dir", sqliteDir, "--resolver", resolver, "--reply", "off")
	if code := exit(twin); code != 2 || !strings.Contains(twin.log.String(), "in use by another testerd") {
		t.Fatalf("a second process on one data directory: exit %d\n%s", code, twin.log.String())
	}

	first.kill(t)
	again := startChild(t, true, args(dir)...) // at once: the lock says the holder is dead
	if _, body := call(t, "GET", "http://"+again.http+"/healthz", ""); !strings.Contains(body, "nodes: 1 live") {
		t.Errorf("/healthz after the restart: %q", body)
	}
	again.kill(t)
	time.Sleep(2*time.Second + 100*time.Millisecond)
	startChild(t, true, args(t.TempDir())...) // elsewhere, once the heartbeat is older than the lease
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// TestSessionsAcrossNodes: a login on node A works on node B and on a
// node started after it; a logout on B ends it on A too.
func TestSessionsAcrossNodes(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	resolver := probeDNS(t)
	node := func(name string) string {
		c := testConfig(t)
		c.Database, c.NodeID, c.Resolver, c.AdminToken = dsn, name, resolver, "the-admin-token-0123456789"
		_, h := startServeWith(t, c)
		return h
	}
	a, b := node("a"), node("b")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm("http://"+a+"/login", url.Values{"token": {"the-admin-token-0123456789"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			cookie = c
		}
	}
	if resp.StatusCode != http.StatusSeeOther || cookie == nil {
		t.Fatalf("login on a: %s, cookies %v", resp.Status, resp.Cookies())
	}
	get := func(host string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+host+"/reports", nil)
		req.AddCookie(cookie)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(b); code != http.StatusOK {
		t.Fatalf("a's session on b: %d", code)
	}
	if code := get(node("c")); code != http.StatusOK {
		t.Fatalf("a's session on a node started after it: %d", code)
	}
	req, _ := http.NewRequest("POST", "http://"+b+"/logout", nil)
	req.AddCookie(cookie)
	if resp, err := client.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if code := get(a); code == http.StatusOK {
		t.Fatalf("the session ended on b still works on a")
	}
}
