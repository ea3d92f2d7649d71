package dnsx

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func cachedClient(t *testing.T, z *Zone, ttl time.Duration) (*Client, *Server) {
	t.Helper()
	srv, err := StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, _ := NewClient(srv.Addr(), time.Second)
	c.CacheTTL = ttl
	return c, srv
}

// TestCache: answers, NXDOMAIN included, are reused within the cap and
// reported as such; failures are not cached; a changed record shows once
// the cap has passed.
func TestCache(t *testing.T) {
	z := NewZone()
	z.AddTXT("a.example", "one")
	z.Fail("flaky.example", 0, ServFail)
	c, srv := cachedClient(t, z, 300*time.Millisecond)
	var clock atomic.Int64 // the cache's clock, moved by hand
	clock.Store(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	c.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	ctx := context.Background()
	use := &CacheUse{}
	uctx := WithCacheUse(ctx, use)

	for range 3 {
		advance(time.Millisecond)
		if txt, err := c.LookupTXT(uctx, "A.example."); err != nil || txt[0] != "one" {
			t.Fatalf("%v %v", txt, err)
		}
		if _, err := c.LookupTXT(uctx, "missing.example"); KindOf(err) != NXDomain {
			t.Fatalf("%v", err)
		}
	}
	if n := srv.Queries(); n != 2 {
		t.Errorf("%d queries for 6 lookups, want 2", n)
	}
	if hits, oldest, limit := use.Result(); hits != 4 || oldest <= 0 || limit != 300*time.Millisecond {
		t.Errorf("cache use: %d hits, oldest %v, limit %v", hits, oldest, limit)
	}

	// A failure is asked again.
	c.LookupTXT(ctx, "flaky.example")
	z.Unfail("flaky.example", 0)
	z.AddTXT("flaky.example", "back")
	if txt, err := c.LookupTXT(ctx, "flaky.example"); err != nil || txt[0] != "back" {
		t.Errorf("after a SERVFAIL: %v %v", txt, err)
	}

	// A fixed record shows once the cap has passed.
	z.Remove("a.example", dns.TypeTXT)
	z.AddTXT("a.example", "two")
	if txt, _ := c.LookupTXT(ctx, "a.example"); txt[0] != "one" {
		t.Errorf("within the cap: %v", txt)
	}
	advance(297 * time.Millisecond) // stored at 1 ms, now 300 ms: 1 ms left
	if txt, _ := c.LookupTXT(ctx, "a.example"); txt[0] != "one" {
		t.Errorf("just within the cap: %v", txt)
	}
	advance(time.Millisecond)
	if txt, _ := c.LookupTXT(ctx, "a.example"); txt[0] != "two" {
		t.Errorf("past the cap: %v", txt)
	}

	// No cache at all with CacheTTL 0.
	c0, srv0 := cachedClient(t, z, 0)
	for range 3 {
		c0.LookupTXT(ctx, "a.example")
	}
	if n := srv0.Queries(); n != 3 {
		t.Errorf("cache off: %d queries for 3 lookups", n)
	}
}

func TestTTLOf(t *testing.T) {
	rr := func(ttl uint32) dns.RR {
		return &dns.TXT{Hdr: dns.RR_Header{Name: "a.", Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl}, Txt: []string{"x"}}
	}
	if got := ttlOf([]dns.RR{rr(300), rr(2)}, 5*time.Second); got != 2*time.Second {
		t.Errorf("%v", got)
	}
	if got := ttlOf([]dns.RR{rr(300)}, 5*time.Second); got != 5*time.Second {
		t.Errorf("%v", got)
	}
	if got := ttlOf(nil, 5*time.Second); got != 5*time.Second {
		t.Errorf("negative answer: %v", got)
	}
}

// TestCoalesceAndReuse: identical questions in flight reach the server
// once, and sequential questions share one UDP socket.
func TestCoalesceAndReuse(t *testing.T) {
	var asked atomic.Int64
	var mu sync.Mutex
	ports := map[string]bool{}
	addr := hostile(t, func(w dns.ResponseWriter, r *dns.Msg) {
		asked.Add(1)
		mu.Lock()
		ports[w.RemoteAddr().String()] = true
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = []dns.RR{&dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: netip.MustParseAddr("192.0.2.1").AsSlice()}}
		w.WriteMsg(m)
	})
	c, _ := NewClient(addr, time.Second)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ips, err := c.LookupIP(context.Background(), "ip4", "same.example"); err != nil || len(ips) != 1 {
				t.Errorf("%v %v", ips, err)
			}
		}()
	}
	wg.Wait()
	if n := asked.Load(); n != 1 {
		t.Errorf("20 identical questions in flight asked %d times", n)
	}
	for i := range 5 {
		c.LookupIP(context.Background(), "ip4", string(rune('a'+i))+".example")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ports) != 1 {
		t.Errorf("sequential questions used %d sockets: %v", len(ports), ports)
	}
}
