package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/internal/pgtest"
	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/outbound/mxtest"
	"github.com/testerd/testerd/smtpd"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// TestThreeNodes runs three serve nodes on one PostgreSQL database, with
// probes sent to all of them at once: every verdict is visible from every
// node, every probe gets exactly one reply (delivered by whichever node
// claims it), and the nodes share one DKIM key and one certificate.
func TestThreeNodes(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	mx, port, resolver := replyRig(t)

	type node struct{ smtp, http, dir string }
	var nodes []node
	for i := range 3 {
		c := testConfig(t)
		c.Database, c.NodeID, c.Resolver = dsn, fmt.Sprint("node", i+1), resolver
		c.Out.MXPort, c.Out.MXAllowPrivate = port, true
		c.Out.Limits.PerAddress, c.Out.Limits.PerClientIP, c.Out.Limits.PerDomain = 0, 0, 0
		s, h := startServeWith(t, c)
		nodes = append(nodes, node{s, h, c.DataDir})
	}

	const perNode = 8
	var wg sync.WaitGroup
	errs := make(chan error, 3*perNode)
	for i, n := range nodes {
		for j := range perNode {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- sendProbe(n.smtp, "spf@"+probeDomain, probeMessage(t, fmt.Sprintf("node %d probe %d", i+1, j), "Joe <joe@abc.it>"), false)
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	total := 3 * perNode
	for _, n := range nodes {
		l := waitJudged(t, n.http, "spf", total)
		for _, r := range l.Results {
			if strings.Join(r.Tags, " ") != "|OK| spf-pass" {
				t.Fatalf("on %s: %s %v", n.http, r.ID, r.Tags)
			}
		}
	}

	// Every reply is sent, once: when the outbox says all are sent, the
	// MX has exactly one per probe.
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	waitFor(t, nodes[0].http, func() bool {
		s, _ := st.OutboxStates(context.Background())
		return s[store.Sent] == int64(total)
	}, func() string {
		s, _ := st.OutboxStates(context.Background())
		return fmt.Sprintf("outbox %v, MX got %d", s, len(mx.Messages()))
	})
	seen := map[string]int{}
	for _, m := range mx.Messages() {
		seen[string(bytes.SplitN(m.Data, []byte("/r/"), 2)[1][:26])]++
	}
	if len(mx.Messages()) != total || len(seen) != total {
		t.Errorf("the MX got %d replies for %d probes (%d distinct)", len(mx.Messages()), total, len(seen))
	}

	// One identity.
	for _, f := range []string{outbound.RSAKeyFile, smtpd.CertFile, smtpd.KeyFile} {
		first, _ := os.ReadFile(filepath.Join(nodes[0].dir, f))
		for _, n := range nodes[1:] {
			if b, _ := os.ReadFile(filepath.Join(n.dir, f)); len(first) == 0 || !bytes.Equal(b, first) {
				t.Errorf("%s differs between the nodes' data directories", f)
			}
		}
	}
}

// replyRig is where replies to joe@abc.it go: an in-process MX on
// 127.0.0.2 (its port) and a DNS server (its address) that names it and
// passes abc.it's SPF and DKIM for loopback senders.
func replyRig(t *testing.T) (*mxtest.Server, string, string) {
	t.Helper()
	mx, port := startMX(t)
	z := dnsx.NewZone()
	z.AddTXT("abc.it", "v=spf1 ip4:127.0.0.0/24 -all")
	z.AddTXT("_dmarc.abc.it", "v=DMARC1; p=reject")
	z.AddTXT("s1._domainkey.abc.it", dkimtest.KeyRecord(dkimtest.Ed25519("serve").Public()))
	z.AddMX("abc.it", 10, "mx.abc.it")
	z.AddIP("mx.abc.it", netip.MustParseAddr("127.0.0.2"))
	dnsSrv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dnsSrv.Close() })
	return mx, port, dnsSrv.Addr()
}

// startMX starts the in-process MX of abc.it on 127.0.0.2 with STARTTLS
// (a certificate for mx.abc.it), for the test's life, and returns it and
// its port; the test skips where 127.0.0.2 is not loopback.
func startMX(t *testing.T) (*mxtest.Server, string) {
	t.Helper()
	cert, _, err := mxtest.Cert("mx.abc.it")
	if err != nil {
		t.Fatal(err)
	}
	mx, err := mxtest.Start(mxtest.Options{Addr: "127.0.0.2:0", TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2 (loopback aliases needed): %v", err)
	}
	t.Cleanup(func() { mx.Close() })
	_, port, _ := net.SplitHostPort(mx.Addr)
	return mx, port
}

// freeAddr is a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestNodeKilled: a node (a real testerd process) that accepted probes
// and is killed with SIGKILL before judging them leaves them to another
// node, which judges every one after the lease runs out and replies to
// each once.
func TestNodeKilled(t *testing.T) {
	t.Parallel()
	dsn := pgtest.DSN(t)
	bin := filepath.Join(t.TempDir(), "testerd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	mx, port, resolver := replyRig(t)

	// The doomed node's resolver never answers, so its probes wait.
	mute, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	smtpB, httpB := freeAddr(t), freeAddr(t)
	b := exec.Command(bin, "serve", "--domain", probeDomain, "--smtp-addr", smtpB, "--http-addr", httpB, "--data-dir", t.TempDir(),
		"--database", dsn, "--node-id", "doomed", "--probe-lease", "2s", "--resolver", mute.LocalAddr().String())
	var bLog bytes.Buffer
	b.Stdout, b.Stderr, b.Env = &bLog, &bLog, childEnv()
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	defer b.Process.Kill()
	ready := false
	for range 200 {
		if c, err := net.Dial("tcp", smtpB); err == nil {
			c.Close()
			ready = true
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ready {
		t.Fatalf("the node did not start:\n%s", bLog.String())
	}
	const n = 5
	for i := range n {
		if err := sendProbe(smtpB, "spf@"+probeDomain, probeMessage(t, fmt.Sprint("doomed ", i), "Joe <joe@abc.it>"), false); err != nil {
			t.Fatalf("probe %d to the node: %v", i, err)
		}
	}
	if err := b.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.Wait()

	c := testConfig(t)
	c.Database, c.NodeID, c.Resolver, c.ProbeLease = dsn, "survivor", resolver, 2*time.Second
	c.Out.MXPort, c.Out.MXAllowPrivate = port, true
	_, httpA := startServeWith(t, c)
	l := waitJudged(t, httpA, "spf", n)
	for _, r := range l.Results {
		if strings.Join(r.Tags, " ") != "|OK| spf-pass" {
			t.Errorf("%s judged %v", r.ID, r.Tags)
		}
	}
	waitFor(t, httpA, func() bool { return len(mx.Messages()) >= n }, func() string {
		return fmt.Sprintf("%d replies of %d", len(mx.Messages()), n)
	})
	if got := len(mx.Messages()); got != n {
		t.Errorf("%d replies for %d probes", got, n)
	}
}
