package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// TestMain lets the durability test run this test binary as the testerd
// command itself.
func TestMain(m *testing.M) {
	if os.Getenv("TESTERD_TEST_AS_MAIN") == "1" {
		c := &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, env: os.LookupEnv}
		os.Exit(c.run(os.Args[1:]))
	}
	code := m.Run()
	stopBrowser()
	os.Exit(code)
}

const probeDomain = "tester.example"

// probeDNS serves the sender's records on loopback.
func probeDNS(t *testing.T) string {
	t.Helper()
	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ip4:127.0.0.0/24 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject; rua=mailto:d@abc.it")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(dkimtest.Ed25519("serve").Public()))
	z.AddPTR(netip.MustParseAddr("127.0.0.1"), "mail.abc.it")
	// A hostile domain for the record checker's pages.
	z.AddTXT("evil.example", `v=spf1 ip4:192.0.2.1 <script>window.pwned=1</script> -all`)
	z.AddTXT("_dmarc.evil.example", `v=DMARC1; p=reject; rua=mailto:<img src=x onerror=window.pwned=2>@evil.example`)
	z.AddIP("mail.abc.it", netip.MustParseAddr("127.0.0.1"))
	srv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

func probeMessage(t testing.TB, subject, from string) string {
	msg := "From: " + from + "\r\nTo: spf@" + probeDomain + "\r\nSubject: " + subject + "\r\n\r\nHello.\r\n"
	sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: "abc.it", Selector: "s1", Signer: dkimtest.Ed25519("serve")})
	if err != nil {
		t.Fatal(err)
	}
	return sig + msg
}

func sendProbe(addr, rcpt, msg string, startTLS bool) error {
	var c *smtp.Client
	var err error
	if startTLS {
		c, err = smtp.DialStartTLS(addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		c, err = smtp.Dial(addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("mail.abc.it"); err != nil {
		return err
	}
	if err := c.SendMail("joe@abc.it", []string{rcpt}, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

type apiList struct {
	Results []struct {
		ID       string     `json:"id"`
		Kind     string     `json:"kind"`
		Tags     []string   `json:"tags"`
		TLS      *store.TLS `json:"tls"`
		Judged   time.Time  `json:"judged"`
		MailFrom string     `json:"mail_from"`
	} `json:"results"`
	Next string `json:"next"`
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// call makes one request, with the admin token as a bearer unless token
// is "", and returns the status and body; it does not follow redirects.
func call(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// waitJudged waits until n results of kind have verdicts.
func waitJudged(t *testing.T, httpAddr, kind string, n int) apiList {
	t.Helper()
	var l apiList
	judged := 0
	waitFor(t, httpAddr, func() bool {
		l = apiList{}
		getJSON(t, fmt.Sprintf("http://%s/api/results?kind=%s&limit=500", httpAddr, kind), &l)
		judged = 0
		for _, r := range l.Results {
			if !r.Judged.IsZero() {
				judged++
			}
		}
		return judged >= n
	}, func() string { return fmt.Sprintf("%d of %d %s probes judged", judged, n, kind) })
	return l
}

// changes broadcasts one server's Changed hook: next is closed at the
// next change.
type changes struct {
	mu sync.Mutex
	ch chan struct{}
	st *store.Store // the server's store (serveHooks.Store)
}

func (c *changes) signal() {
	c.mu.Lock()
	close(c.ch)
	c.ch = make(chan struct{})
	c.mu.Unlock()
}

func (c *changes) next() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ch
}

// servers maps the HTTP address of each in-process server to its changes.
var servers sync.Map

// waitFor returns once done holds, checking it again after each change
// of the in-process server at httpAddr, and at least every 200 ms (every
// 50 ms for a server in another process), and fails the test with why() after 20 s.
func waitFor(t *testing.T, httpAddr string, done func() bool, why func() string) {
	t.Helper()
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	c, inProcess := servers.Load(httpAddr)
	for {
		var next <-chan struct{}
		// Polled too: a change can come from another node on the same
		// database, which tells this one nothing.
		poll := time.After(50 * time.Millisecond)
		if inProcess {
			next = c.(*changes).next()
			poll = time.After(200 * time.Millisecond)
		}
		if done() {
			return
		}
		select {
		case <-next:
		case <-poll:
		case <-deadline.C:
			if done() {
				return
			}
			t.Fatal(why())
		}
	}
}

// testConfig is serve's defaults, on loopback ports with a fresh data
// directory.
func testConfig(t *testing.T) *config {
	c := bindConfig(flag.NewFlagSet("test", flag.PanicOnError), nil)
	c.Domain, c.SMTPAddr, c.HTTPAddr, c.DataDir = probeDomain, "127.0.0.1:0", "127.0.0.1:0", t.TempDir()
	c.Retention, c.ShutdownTimeout, c.FailureDelay = time.Hour, 5*time.Second, time.Millisecond
	return c
}

// startServe runs serve in process on loopback ports.
func startServe(t *testing.T) (smtpAddr, httpAddr string) {
	t.Helper()
	c := testConfig(t)
	c.Resolver = probeDNS(t)
	return startServeWith(t, c)
}

func startServeWith(t *testing.T, c *config) (smtpAddr, httpAddr string) {
	t.Helper()
	return startServeHooked(t, c, nil)
}

// startServeHooked is startServeWith, with operator for serveHooks.Operator.
func startServeHooked(t *testing.T, c *config, operator func(flag, addr string)) (smtpAddr, httpAddr string) {
	t.Helper()
	if err := c.resolve(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan [2]string, 1)
	done := make(chan error, 1)
	ch := &changes{ch: make(chan struct{})}
	go func() {
		done <- serve(ctx, c, testLogger(t), serveHooks{Ready: func(s, h string) { ready <- [2]string{s, h} }, Operator: operator, Changed: ch.signal,
			Store: func(st *store.Store) { ch.st = st }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case a := <-ready:
		servers.Store(a[1], ch)
		t.Cleanup(func() { servers.Delete(a[1]) })
		return a[0], a[1]
	case err := <-done:
		done <- err // for the cleanup, which waits for serve's end
		t.Fatalf("serve: %v", err)
	}
	return "", ""
}

// full is the path of result id's page (or its API, with api) with the
// key that opens its full record, as the reply links to it.
func full(t *testing.T, httpAddr, id string, api ...bool) string {
	t.Helper()
	c, ok := servers.Load(httpAddr)
	if !ok {
		t.Fatalf("no in-process server at %s", httpAddr)
	}
	res, err := c.(*changes).st.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(api) > 0 && api[0] {
		return "/api/results/" + id + "?k=" + res.ViewKey
	}
	return res.ResultPath()
}

func TestServe(t *testing.T) {
	t.Parallel()
	smtpAddr, httpAddr := startServe(t)
	if err := sendProbe(smtpAddr, "spf@"+probeDomain, probeMessage(t, "with TLS", "Joe <joe@abc.it>"), true); err != nil {
		t.Fatal(err)
	}
	if err := sendProbe(smtpAddr, "dkim@"+probeDomain, probeMessage(t, "plain", "Joe <joe@abc.it>"), false); err != nil {
		t.Fatal(err)
	}
	l := waitJudged(t, httpAddr, "spf", 1)
	if len(l.Results) != 1 || strings.Join(l.Results[0].Tags, " ") != "|OK| spf-pass" || l.Results[0].TLS == nil {
		t.Fatalf("spf results: %+v", l.Results)
	}
	d := waitJudged(t, httpAddr, "dkim", 1)
	if strings.Join(d.Results[0].Tags, " ") != "|OK| dkim-pass" || d.Results[0].TLS != nil {
		t.Fatalf("dkim results: %+v", d.Results)
	}
	id := l.Results[0].ID

	var one struct {
		ID      string `json:"id"`
		Verdict struct {
			Tags []string `json:"tags"`
			DKIM struct {
				Signatures []struct{ Result string } `json:"signatures"`
			} `json:"dkim"`
		} `json:"verdict"`
	}
	getJSON(t, "http://"+httpAddr+full(t, httpAddr, id, true), &one)
	if one.ID != id || len(one.Verdict.DKIM.Signatures) != 1 || one.Verdict.DKIM.Signatures[0].Result != "pass" {
		t.Errorf("api result: %+v", one)
	}

	for path, wants := range map[string][]string{
		"/spf":                {"|OK| spf-pass", "/r/" + id, "j***@abc.it", "http-equiv=\"refresh\""},
		full(t, httpAddr, id): {"|OK| spf-pass", "TLS 1.3", "DKIM signatures", "Authentication-Results", "Subject: with TLS"},
		"/":                   {"spf@" + probeDomain},
		"/healthz":            {"ok"},
	} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %s", path, resp.Status)
		}
		for _, w := range wants {
			if !strings.Contains(string(body), w) && !strings.Contains(string(body), htmlEscape(w)) {
				t.Errorf("%s lacks %q", path, w)
			}
		}
	}
	for path, code := range map[string]int{"/r/nope": 404, "/api/results/nope": 404, "/api/results?kind=x": 400, "/api/results?limit=0": 400, "/nope": 404} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != code {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, code)
		}
	}
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// TestDurability starts testerd as a subprocess, sends probes over 8
// connections at once (so the writer commits them in shared batches),
// kills it with SIGKILL right after the last 250, restarts it on the same
// data directory and checks every acknowledged probe is there and gets its
// verdict. The first process asks a DNS server that never answers, so no
// verdict can be finished before the kill: the restart must judge them
// all.
func TestDurability(t *testing.T) {
	t.Parallel()
	const n, conns = 40, 8
	dir := t.TempDir()
	silent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	dnsAddr := silent.LocalAddr().String()
	start := func() (*exec.Cmd, string, string) {
		cmd := exec.Command(os.Args[0], "serve", "--domain", probeDomain, "--smtp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
			"--data-dir", dir, "--resolver", dnsAddr, "--log-format", "json", "--max-in-flight", "100")
		cmd.Env = childEnv()
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, SMTP, HTTP string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "testerd serving" {
				go io.Copy(io.Discard, stderr)
				return cmd, line.SMTP, line.HTTP
			}
		}
		t.Fatalf("testerd did not start")
		return nil, "", ""
	}
	cmd, smtpAddr, _ := start()
	var wg sync.WaitGroup
	for c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += conns {
				if err := sendProbe(smtpAddr, "check@"+probeDomain, probeMessage(t, fmt.Sprintf("probe %d", i), "Joe <joe@abc.it>"), false); err != nil {
					t.Errorf("probe %d: %v", i, err)
				}
			}
		}()
	}
	wg.Wait()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	st, err := store.Open(context.Background(), filepath.Join(dir, "testerd.db"))
	if err != nil {
		t.Fatal(err)
	}
	pending, err := st.Pending(context.Background())
	st.Close()
	if err != nil || len(pending) != n {
		t.Fatalf("%d probes pending after the kill, want %d (%v)", len(pending), n, err)
	}

	dnsAddr = probeDNS(t)
	cmd, _, httpAddr := start()
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	l := waitJudged(t, httpAddr, "check", n)
	if len(l.Results) != n {
		t.Fatalf("%d probes after the restart, want %d", len(l.Results), n)
	}
	for _, r := range l.Results {
		if strings.Join(r.Tags, " ") != "|OK| dmarc-pass |OK| spf-pass |OK| dkim-pass" {
			t.Errorf("%s: %q", r.ID, r.Tags)
		}
	}
}

// run runs the command line args as the binary would, with an empty
// environment: no TESTERD_* variable of the machine reaches a test.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(nil, args, stdin, stdout, stderr)
}

// runEnv is run with the environment env.
func runEnv(env map[string]string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, env: func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}}
	return c.run(args)
}

// childEnv is the environment of a testerd run as a child process: the
// machine's, without its TESTERD_* variables, and with extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TESTERD_") {
			env = append(env, kv)
		}
	}
	return append(append(env, "TESTERD_TEST_AS_MAIN=1"), extra...)
}

// testLogger logs to the test with TESTERD_TEST_LOG=1, else nowhere.
func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("TESTERD_TEST_LOG") != "1" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// TestStartTLSVersions: STARTTLS offers TLS 1.2 and up; a client that
// can only do 1.1 fails the handshake (and would send in plain text).
func TestStartTLSVersions(t *testing.T) {
	t.Parallel()
	smtpAddr, _ := startServe(t)
	for _, tc := range []struct {
		max uint16
		ok  bool
	}{{tls.VersionTLS11, false}, {tls.VersionTLS12, true}, {tls.VersionTLS13, true}} {
		c, err := smtp.DialStartTLS(smtpAddr, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tc.max})
		if err == nil {
			err = c.Noop() // the handshake happens with the first exchange
			c.Close()
		}
		if (err == nil) != tc.ok {
			t.Errorf("a client of TLS up to %s: %v", tls.VersionName(tc.max), err)
		}
	}
}

// TestHealthcheck: testerd healthcheck exits 0 against a healthy server
// and 1 when nothing answers.
func TestHealthcheck(t *testing.T) {
	t.Parallel()
	_, httpAddr := startServe(t)
	var out, errb bytes.Buffer
	if code := run([]string{"healthcheck", "--http-addr", httpAddr}, nil, &out, &errb); code != 0 || strings.TrimSpace(out.String()) != "ok" {
		t.Errorf("healthy server: exit %d: %s %s", code, out.String(), errb.String())
	}
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	if code := run([]string{"healthcheck", "--http-addr", addr, "--timeout", "1s"}, nil, &out, &errb); code != 1 {
		t.Errorf("no server: exit %d", code)
	}
}
