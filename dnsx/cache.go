package dnsx

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// DefaultCacheTTL is serve's cap on how long an answer is reused.
const DefaultCacheTTL = 5 * time.Second

// MaxCacheEntries bounds the cache; past it, expired entries go first,
// then any.
const MaxCacheEntries = 20000

type cacheKey struct {
	name  string // canonical
	qtype uint16
}

func (k cacheKey) String() string { return k.name + "/" + strconv.Itoa(int(k.qtype)) }

// entry is what the server said of one question: records, or NXDOMAIN or
// NODATA.
type entry struct {
	rrs  []dns.RR
	kind Kind
}

func (e entry) err(name, typ string) error {
	if e.kind == 0 {
		return nil
	}
	return &Error{Name: name, Type: typ, Kind: e.kind}
}

type cached struct {
	entry
	stored, expires time.Time
}

type cache struct {
	mu sync.Mutex
	m  map[cacheKey]cached
}

func (c *cache) get(k cacheKey, now time.Time) (entry, time.Duration, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok || !now.Before(e.expires) {
		return entry{}, 0, false
	}
	return e.entry, now.Sub(e.stored), true
}

func (c *cache) put(k cacheKey, e entry, ttl time.Duration, now time.Time) {
	if ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[cacheKey]cached{}
	}
	if len(c.m) >= MaxCacheEntries {
		for key, old := range c.m {
			if !now.Before(old.expires) || len(c.m) >= MaxCacheEntries {
				delete(c.m, key)
			}
			if len(c.m) < MaxCacheEntries*9/10 {
				break
			}
		}
	}
	c.m[k] = cached{entry: e, stored: now, expires: now.Add(ttl)}
}

// ttlOf is the records' smallest TTL, capped; a negative answer gets the
// cap.
func ttlOf(rrs []dns.RR, limit time.Duration) time.Duration {
	ttl := limit
	for _, rr := range rrs {
		ttl = min(ttl, time.Duration(rr.Header().Ttl)*time.Second)
	}
	return ttl
}

// CacheUse collects, for one verdict, how many answers came from the cache
// and how old the oldest was, so the verdict can say so.
type CacheUse struct {
	mu     sync.Mutex
	hits   int
	oldest time.Duration
	limit  time.Duration
}

type cacheUseKey struct{}

// WithCacheUse returns a context whose lookups report cache hits to u.
func WithCacheUse(ctx context.Context, u *CacheUse) context.Context {
	return context.WithValue(ctx, cacheUseKey{}, u)
}

func noteCacheHit(ctx context.Context, age, limit time.Duration) {
	u, _ := ctx.Value(cacheUseKey{}).(*CacheUse)
	if u == nil {
		return
	}
	u.mu.Lock()
	u.hits++
	u.oldest = max(u.oldest, age)
	u.limit = limit
	u.mu.Unlock()
}

// Result returns the hits, the oldest answer's age and the cache's cap.
func (u *CacheUse) Result() (hits int, oldest, limit time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits, u.oldest, u.limit
}
