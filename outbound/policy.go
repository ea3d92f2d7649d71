package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/internal/dane"
	"github.com/testerd/testerd/mtasts"
)

// A reply is delivered as securely as testerd tells others to receive
// mail: where the recipient domain's MX hosts publish DNSSEC-validated
// TLSA records (DANE, RFC 7672), STARTTLS with a certificate that matches
// them; else, where the domain publishes an MTA-STS policy in enforce mode
// (RFC 8461), only to the MX hosts it names, with STARTTLS and a
// certificate valid for the host; and in either case never in plain text.
// Elsewhere STARTTLS is opportunistic, as every MTA does.

// MaxPolicies bounds the MTA-STS policies cached; MaxPolicyAge the time
// one is kept, whatever its max_age says (RFC 8461 §3.2 allows a year).
const (
	MaxPolicies  = 10000
	MaxPolicyAge = 365 * 24 * time.Hour
)

// policyCache keeps each domain's MTA-STS policy until its max_age, with
// the record id it came with (RFC 8461 §3.3): a changed id fetches anew,
// and a policy that cannot be fetched again is still applied until it
// expires, so that an attacker who blocks the fetch cannot downgrade.
type policyCache struct {
	mu sync.Mutex
	m  map[string]cachedPolicy
}

type cachedPolicy struct {
	id     string
	policy *mtasts.Policy
	until  time.Time
}

func (c *policyCache) get(domain string, now time.Time) (cachedPolicy, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.m[domain]
	if ok && now.After(p.until) {
		delete(c.m, domain)
		return cachedPolicy{}, false
	}
	return p, ok
}

func (c *policyCache) put(domain string, p cachedPolicy, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]cachedPolicy{}
	}
	if _, ok := c.m[domain]; !ok && len(c.m) >= MaxPolicies {
		for d, old := range c.m { // drop the expired, or else any one
			if now.After(old.until) || len(c.m) >= MaxPolicies {
				delete(c.m, d)
			}
			if len(c.m) < MaxPolicies {
				break
			}
		}
	}
	c.m[domain] = p
}

// stsPolicy returns the MTA-STS policy that applies to domain, or nil.
func (t *Direct) stsPolicy(ctx context.Context, domain string) *mtasts.Policy {
	if t.STS == nil {
		return nil
	}
	now := time.Now()
	cached, have := t.policies.get(domain, now)
	txts, err := t.Resolver.LookupTXT(ctx, "_mta-sts."+domain)
	id := ""
	for _, txt := range txts {
		if strings.HasPrefix(strings.TrimSpace(txt), "v=STSv1") {
			if id, err = mtasts.ParseRecord(txt); err != nil {
				id = ""
			}
		}
	}
	switch {
	case id == "" && have:
		return cached.policy // no record (or none readable): the cached policy holds until it expires
	case id == "":
		return nil
	case have && cached.id == id:
		return cached.policy
	}
	p, _, err := t.STS.Fetch(ctx, domain)
	if err != nil {
		if have {
			return cached.policy
		}
		return nil // no policy could be had: as a domain without one (§5.1)
	}
	age := min(time.Duration(p.MaxAge)*time.Second, MaxPolicyAge)
	t.policies.put(domain, cachedPolicy{id: id, policy: p, until: now.Add(age)}, now)
	return p
}

// security is how one MX host must be spoken to.
type security struct {
	mode TLSMode
	cfg  *tls.Config
	// by names what demanded verified TLS ("DANE", "MTA-STS"), "" for
	// opportunistic STARTTLS.
	by string
}

// hostSecurity works out what host demands: DANE first (RFC 8461 §2:
// a sender that does DANE uses it where both are published), then an
// enforced MTA-STS policy, else opportunistic STARTTLS. ok is false when
// the policy rules the host out.
func (t *Direct) hostSecurity(ctx context.Context, host string, policy *mtasts.Policy) (security, bool) {
	if rrs := t.tlsa(ctx, host); len(rrs) > 0 {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, InsecureSkipVerify: true,
			VerifyConnection: func(cs tls.ConnectionState) error {
				if !dane.Match(rrs, cs.PeerCertificates, host) {
					return errors.New("the certificate matches none of the host's TLSA records (DANE)")
				}
				return nil
			}}
		return security{mode: RequireStartTLS, cfg: cfg, by: "DANE"}, true
	}
	if policy != nil && policy.Mode == mtasts.Enforce {
		matched := false
		for _, m := range policy.MX {
			matched = matched || mtasts.Matches(m, host)
		}
		if !matched {
			return security{}, false
		}
		return security{mode: RequireStartTLS, cfg: &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host, RootCAs: t.RootCAs}, by: "MTA-STS"}, true
	}
	return security{mode: Opportunistic}, true
}

// tlsa returns the usable TLSA records of host's SMTP port when the
// resolver validated them, nil otherwise (no DANE: RFC 7672 §2.2).
func (t *Direct) tlsa(ctx context.Context, host string) []*dns.TLSA {
	l, ok := t.Resolver.(dnsx.TLSALooker)
	if !ok {
		return nil
	}
	rrs, ad, err := l.LookupTLSA(ctx, "_25._tcp."+host)
	if err != nil || !ad {
		return nil
	}
	return dane.Usable(rrs)
}
