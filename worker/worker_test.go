package worker

import (
	"context"
	"encoding/json"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
)

const probeMsg = "From: ann@abc.example\r\nTo: check@tester.example\r\nSubject: hi\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@abc.example>\r\n\r\nhello\r\n"

// queuedPlanner plans a queued reply for every probe.
type queuedPlanner struct{}

func (queuedPlanner) Plan(p *store.Result, v *verify.Verdict) *store.Outgoing {
	return &store.Outgoing{ID: store.NewID(), Created: time.Now(), State: store.Queued, Rcpt: "ann@abc.example", RcptDomain: "abc.example", ClientIP: p.ClientIP.String(), Data: []byte("x")}
}

// start runs a pool over a real SQLite store whose resolver is a real DNS
// client of addr, and accepts one probe.
func start(t *testing.T, addr string) (*store.Store, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	client, err := dnsx.NewClient(addr, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	p := &Pool{Store: st, Judge: &verify.Judge{Resolver: client, Receiver: "tester.example"}, Reply: queuedPlanner{}, RejudgeDelay: 20 * time.Millisecond}
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; st.Close() })
	pr := &store.Probe{ID: store.NewID(), Received: time.Now(), Kind: "check", Recipient: "check@tester.example",
		ClientIP: netip.MustParseAddr("192.0.2.1"), Helo: "mail.abc.example", MailFrom: "ann@abc.example", Raw: []byte(probeMsg), Size: len(probeMsg)}
	if err := p.Accept(ctx, []*store.Probe{pr}); err != nil {
		t.Fatal(err)
	}
	return st, pr.ID
}

func waitVerdict(t *testing.T, st *store.Store, id string, within time.Duration) *store.Result {
	t.Helper()
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		r, err := st.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != nil {
			return r
		}
	}
	return nil
}

// TestRejudgeWhenResolverReturns: while testerd's resolver is down the
// probe stays pending; once it answers, the verdict is about the sender.
func TestRejudgeWhenResolverReturns(t *testing.T) {
	addr := deadAddr(t)
	st, id := start(t, addr)
	if r := waitVerdict(t, st, id, 150*time.Millisecond); r != nil {
		t.Fatalf("a verdict was stored while the resolver was down: %s", r.Verdict)
	}
	z := dnsx.NewZone()
	z.AddTXT("abc.example", "v=spf1 ip4:192.0.2.1 -all")
	srv, err := dnsx.StartServerAt(z, addr)
	if err != nil {
		t.Skipf("could not listen again on %s: %v", addr, err)
	}
	defer srv.Close()
	r := waitVerdict(t, st, id, 10*time.Second)
	if r == nil {
		t.Fatal("no verdict after the resolver came back")
	}
	var v verify.Verdict
	if err := json.Unmarshal(r.Verdict, &v); err != nil {
		t.Fatal(err)
	}
	if v.TesterFailure != "" || v.SPF.Effective().Result != "pass" {
		t.Errorf("verdict after recovery: failure %q, SPF %s", v.TesterFailure, v.SPF.Effective().Result)
	}
	if r.Reply == nil || r.Reply.State != store.Queued {
		t.Errorf("reply %+v, want queued", r.Reply)
	}
}

// TestResolverStaysDown: after MaxRejudge tries the verdict is stored,
// says testerd failed, and no reply goes out.
func TestResolverStaysDown(t *testing.T) {
	st, id := start(t, deadAddr(t))
	r := waitVerdict(t, st, id, 30*time.Second)
	if r == nil {
		t.Fatal("no verdict stored after the tries ran out")
	}
	var v verify.Verdict
	if err := json.Unmarshal(r.Verdict, &v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.TesterFailure, "testerd could not judge this message") || !strings.Contains(v.TesterFailure, "not about your domain") {
		t.Errorf("tester failure %q", v.TesterFailure)
	}
	if r.Reply == nil || r.Reply.State != store.Suppressed || !strings.Contains(r.Reply.Reason, "resolver did not answer") {
		t.Errorf("reply %+v, want suppressed", r.Reply)
	}
}

func deadAddr(t *testing.T) string {
	t.Helper()
	addr, err := dnsx.DeadAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
