package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/rcpt"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/reports"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
)

const probeMsg = "From: ann@abc.example\r\nTo: check@tester.example\r\nSubject: hi\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <1@abc.example>\r\n\r\nhello\r\n"

// queuedPlanner plans a queued reply for every probe.
type queuedPlanner struct{}

func (queuedPlanner) Plan(p *store.Probe, v *verify.Verdict) *store.Outgoing {
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
	pr := &store.Probe{Address: rcpt.Address{Kind: "check"}, ID: store.NewID(), Received: time.Now(), Recipient: "check@tester.example",
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
	if !v.TesterFailure.IsZero() || v.SPF.Effective().Result != "pass" {
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
	if why := i18n.EN.Say(v.TesterFailure); !strings.Contains(why, "testerd could not judge this message") || !strings.Contains(why, "not about your domain") {
		t.Errorf("tester failure %q", v.TesterFailure)
	}
	if r.Reply == nil || r.Reply.State != store.Suppressed || !strings.Contains(i18n.EN.Say(r.Reply.Reason), "resolver did not answer") {
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

// TestBackpressure: with judging slowed by a resolver that takes 300 ms an
// answer, at most MaxInFlight probes are accepted and not yet judged; the
// next Accept waits BusyWait, then refuses with ErrBusy and stores
// nothing; once the verdicts are in, probes are taken again.
func TestBackpressure(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	slow := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		time.Sleep(300 * time.Millisecond)
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeNameError)
		w.WriteMsg(m)
	})}
	go slow.ActivateAndServe()
	defer slow.Shutdown()

	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	client, _ := dnsx.NewClient(pc.LocalAddr().String(), 2*time.Second)
	p := &Pool{Store: st, Judge: &verify.Judge{Resolver: client, Receiver: "tester.example"}, Workers: 2, MaxInFlight: 2, BusyWait: 100 * time.Millisecond}
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; st.Close() }()

	probe := func() *store.Probe {
		return &store.Probe{Address: rcpt.Address{Kind: "spf"}, ID: store.NewID(), Received: time.Now(), Recipient: "spf@tester.example",
			ClientIP: netip.MustParseAddr("192.0.2.1"), Helo: "mail.abc.example", MailFrom: "ann@abc.example", Raw: []byte(probeMsg), Size: len(probeMsg)}
	}
	for i := range 2 {
		if err := p.Accept(ctx, []*store.Probe{probe()}); err != nil {
			t.Fatalf("probe %d: %v", i, err)
		}
	}
	if n := p.Queued(); n != 2 {
		t.Errorf("%d in flight, want 2", n)
	}
	refused := probe()
	start := time.Now()
	if err := p.Accept(ctx, []*store.Probe{refused}); !errors.Is(err, ErrBusy) {
		t.Fatalf("third probe: %v, want ErrBusy", err)
	}
	if waited := time.Since(start); waited < 100*time.Millisecond {
		t.Errorf("refused after %v, before BusyWait", waited)
	}
	if _, err := st.Get(ctx, refused.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused probe was stored: %v", err)
	}
	// Room comes back as verdicts are stored.
	p.BusyWait = 30 * time.Second
	if err := p.Accept(ctx, []*store.Probe{probe()}); err != nil {
		t.Errorf("after the backlog drained: %v", err)
	}
}

// TestReportOnce: a report message to several report addresses is
// ingested, and stored, once; a report that does not parse keeps only an
// excerpt.
func TestReportOnce(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in := &reports.Ingester{Store: st}
	p := &Pool{Store: st, Reports: in}
	junk := "<?xml version=\"1.0\"?><feedback>" + strings.Repeat("<x>junk</x>", 20000) // 220 KB that is no report
	raw := []byte("From: r@reporter.example\r\nSubject: Report\r\nContent-Type: text/xml\r\n\r\n" + junk + "\r\n")
	var probes []*store.Probe
	for _, to := range []string{"rua@t", "rua+a@t", "rua+b@t"} {
		probes = append(probes, &store.Probe{Address: rcpt.Address{Kind: kind.Report}, ID: store.NewID(), Received: time.Now(), Recipient: to,
			ClientIP: netip.MustParseAddr("192.0.2.1"), Raw: raw, Size: len(raw)})
	}
	if err := p.Accept(ctx, probes); err != nil {
		t.Fatal(err)
	}
	// Accept only stored the mail; the ingester reads it afterwards.
	if unread, _ := st.UnreadReportMail(ctx, 10); len(unread) != 1 {
		t.Fatalf("%d unread report messages after Accept, want 1", len(unread))
	}
	rctx, cancel := context.WithCancel(ctx)
	go in.Run(rctx)
	defer cancel()
	var got []*store.DMARCReport
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && len(got) == 0; time.Sleep(20 * time.Millisecond) {
		if got, err = st.Reports(ctx, "", time.Now().Add(-time.Hour), 100); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%d reports stored for one message to 3 addresses", len(got))
	}
	r, err := st.Report(ctx, got[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Error == "" || len(r.XML) > reports.MaxExcerpt || !strings.Contains(r.Error, "kept") {
		t.Errorf("unparsable report: error %q, %d bytes kept", r.Error, len(r.XML))
	}
}

// TestFairness: sixteen probes from one network whose SPF takes 200 ms a
// lookup never hold the last free worker, so a probe from another
// network that comes after them is judged first.
func TestFairness(t *testing.T) {
	z := dnsx.NewZone()
	z.AddTXT("fast.example", "v=spf1 ip4:198.51.100.0/24 -all")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if strings.Contains(r.Question[0].Name, "slow.example") {
			time.Sleep(200 * time.Millisecond)
			m.SetRcode(r, dns.RcodeNameError)
		} else if ans, kind := z.Answer(r.Question[0].Name, r.Question[0].Qtype); kind == 0 {
			m.Answer = ans
		} else {
			m.SetRcode(r, dns.RcodeNameError)
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	defer srv.Shutdown()

	ctx, cancel := context.WithCancel(context.Background())
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	client, _ := dnsx.NewClient(pc.LocalAddr().String(), 2*time.Second)
	var mu sync.Mutex
	var order []string
	p := &Pool{Store: st, Judge: &verify.Judge{Resolver: client, Receiver: "tester.example"}, Workers: 4,
		Done: func(pr *store.Probe, _ *verify.Verdict, _ time.Duration) {
			mu.Lock()
			order = append(order, pr.ID)
			mu.Unlock()
		}}
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done; st.Close() }()

	probe := func(ip, from string) *store.Probe {
		msg := "From: x@" + from + "\r\nSubject: s\r\n\r\nx\r\n"
		return &store.Probe{Address: rcpt.Address{Kind: "spf"}, ID: store.NewID(), Received: time.Now(), Recipient: "spf@t", ClientIP: netip.MustParseAddr(ip),
			Helo: "h." + from, MailFrom: "x@" + from, Raw: []byte(msg), Size: len(msg)}
	}
	var slow []*store.Probe
	for i := range 16 {
		slow = append(slow, probe(fmt.Sprintf("192.0.2.%d", i+1), "slow.example"))
	}
	if err := p.Accept(ctx, slow); err != nil {
		t.Fatal(err)
	}
	// The other network's probe comes once the slow ones hold what they
	// may: the worker kept for other networks takes it at once.
	time.Sleep(50 * time.Millisecond)
	fast := probe("198.51.100.7", "fast.example")
	if err := p.Accept(ctx, []*store.Probe{fast}); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(order)
		mu.Unlock()
		if n == 17 {
			break
		}
	}
	mu.Lock()
	defer mu.Unlock()
	pos := slices.Index(order, fast.ID)
	if len(order) != 17 || pos != 0 {
		t.Errorf("the other network's probe was judged %d of %d, want first", pos+1, len(order))
	}
}
