package dnsx

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// Zone is an in-memory set of DNS records, keyed by owner name, plus
// injected failures. Fake answers from it directly and Server serves it over
// the DNS protocol, so a test table written once drives both. A Zone is safe
// for concurrent use.
type Zone struct {
	mu     sync.RWMutex
	rrs    map[string][]dns.RR // canonical owner name → records
	fails  map[failKey]Kind    // injected failures
	secure map[string]bool     // names answered with the AD bit
}

type failKey struct {
	name  string // canonical
	qtype uint16 // 0: every type
}

// NewZone returns an empty zone.
func NewZone() *Zone {
	return &Zone{rrs: map[string][]dns.RR{}, fails: map[failKey]Kind{}}
}

// Add adds records given in zone-file syntax, one per line, with absolute
// owner names ("example.com. 300 IN TXT \"v=spf1 -all\""). It is meant for
// test tables: it returns the first parse error.
func (z *Zone) Add(lines ...string) error {
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			return fmt.Errorf("zone record %q: %w", l, err)
		}
		if rr != nil {
			z.AddRR(rr)
		}
	}
	return nil
}

// Parse reads a zone file (RFC 1035 §5) with the given origin.
func (z *Zone) Parse(r io.Reader, origin string) error {
	zp := dns.NewZoneParser(r, dns.Fqdn(origin), "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		z.AddRR(rr)
	}
	if err := zp.Err(); err != nil {
		return fmt.Errorf("zone file: %w", err)
	}
	return nil
}

// AddRR adds one record.
func (z *Zone) AddRR(rr dns.RR) {
	name := canonical(rr.Header().Name)
	rr.Header().Name = name
	if rr.Header().Class == 0 {
		rr.Header().Class = dns.ClassINET
	}
	if rr.Header().Ttl == 0 {
		rr.Header().Ttl = 300
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	z.rrs[name] = append(z.rrs[name], rr)
}

// Remove deletes the records of a type at a name (qtype 0: all types).
func (z *Zone) Remove(name string, qtype uint16) {
	name = canonical(name)
	z.mu.Lock()
	defer z.mu.Unlock()
	var keep []dns.RR
	for _, rr := range z.rrs[name] {
		if qtype != 0 && rr.Header().Rrtype != qtype {
			keep = append(keep, rr)
		}
	}
	z.rrs[name] = keep
}

// AddTXT adds one TXT record made of the given raw character-strings (any
// bytes; no zone-file escaping). Strings over 255 octets are split, as a
// DNS publisher would have to.
func (z *Zone) AddTXT(name string, strs ...string) {
	var parts []string
	for _, s := range strs {
		for len(s) > 255 {
			parts = append(parts, EscapeTXT(s[:255]))
			s = s[255:]
		}
		parts = append(parts, EscapeTXT(s))
	}
	z.AddRR(&dns.TXT{Hdr: hdr(name, dns.TypeTXT), Txt: parts})
}

// AddIP adds an A or AAAA record, as the address requires.
func (z *Zone) AddIP(name string, addr netip.Addr) {
	if addr.Is4() {
		z.AddRR(&dns.A{Hdr: hdr(name, dns.TypeA), A: net.IP(addr.AsSlice())})
		return
	}
	z.AddRR(&dns.AAAA{Hdr: hdr(name, dns.TypeAAAA), AAAA: net.IP(addr.AsSlice())})
}

// AddMX adds an MX record.
func (z *Zone) AddMX(name string, pref uint16, host string) {
	z.AddRR(&dns.MX{Hdr: hdr(name, dns.TypeMX), Preference: pref, Mx: dns.Fqdn(host)})
}

// AddPTR adds a PTR record for addr.
func (z *Zone) AddPTR(addr netip.Addr, host string) {
	rev, _ := dns.ReverseAddr(addr.String())
	z.AddRR(&dns.PTR{Hdr: hdr(rev, dns.TypePTR), Ptr: dns.Fqdn(host)})
}

// AddCNAME adds a CNAME record.
func (z *Zone) AddCNAME(name, target string) {
	z.AddRR(&dns.CNAME{Hdr: hdr(name, dns.TypeCNAME), Target: dns.Fqdn(target)})
}

// Fail makes queries for name fail with kind: for type qtype only, or for
// every type when qtype is 0. Kind NXDomain and NoData are allowed too.
func (z *Zone) Fail(name string, qtype uint16, kind Kind) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.fails[failKey{canonical(name), qtype}] = kind
}

func hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: canonical(name), Rrtype: t, Class: dns.ClassINET, Ttl: 300}
}

// maxChain bounds CNAME chains followed when answering.
const maxChain = 8

// answer resolves one question against the zone: the records of type qtype
// at name, after following CNAMEs (the CNAMEs are part of the answer), or a
// failure Kind. Kind 0 means success with len(ans) > 0.
func (z *Zone) answer(name string, qtype uint16) (ans []dns.RR, kind Kind) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	name = canonical(name)
	for range maxChain {
		if k, ok := z.fails[failKey{name, qtype}]; ok {
			return nil, k
		}
		if k, ok := z.fails[failKey{name, 0}]; ok {
			return nil, k
		}
		rrs, ok := z.rrs[name]
		if !ok {
			return ans, NXDomain
		}
		var cname string
		found := false
		for _, rr := range rrs {
			switch rr.Header().Rrtype {
			case qtype:
				ans = append(ans, rr)
				found = true
			case dns.TypeCNAME:
				if qtype != dns.TypeCNAME {
					cname = rr.(*dns.CNAME).Target
					ans = append(ans, rr)
				}
			}
		}
		if found {
			return ans, 0
		}
		if cname == "" {
			return ans, NoData
		}
		name = canonical(cname)
	}
	return nil, ServFail
}

// EscapeTXT turns raw bytes into the presentation form miekg/dns keeps in
// dns.TXT.Txt: quote and backslash escaped, other bytes outside printable
// ASCII as \DDD.
func EscapeTXT(raw string) string {
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// UnescapeTXT reverses EscapeTXT: it returns the bytes that were on the
// wire for a character-string miekg/dns unpacked.
func UnescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			if n, err := strconv.Atoi(s[i+1 : i+4]); err == nil && n < 256 {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i+1])
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Unfail removes a failure injected with Fail.
func (z *Zone) Unfail(name string, qtype uint16) {
	z.mu.Lock()
	defer z.mu.Unlock()
	delete(z.fails, failKey{canonical(name), qtype})
}

// Answer is the zone's answer to one question, for test servers of their
// own: the records, or the failure Kind (0 means success).
func (z *Zone) Answer(name string, qtype uint16) ([]dns.RR, Kind) { return z.answer(name, qtype) }
