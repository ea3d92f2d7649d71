// Package dane matches a server's certificate chain against its TLSA
// records the way RFC 7672 has SMTP do it: DANE-EE (usage 3) names the
// server's own certificate or key, whatever its name and dates; DANE-TA
// (usage 2) a trust anchor in the chain the server presents, and then the
// leaf must carry the server's name. The PKIX usages (0 and 1) are not
// for SMTP (§3.1.3). Both the domain checker and the outbound path use it,
// so a check and a delivery judge a certificate the same way.
package dane

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"strings"

	"github.com/miekg/dns"
)

// Usable keeps the records SMTP uses: DANE-EE and DANE-TA, with a
// selector and matching type this package knows. A host whose records
// are all unusable is treated as having none (RFC 7672 §2.2).
func Usable(rrs []*dns.TLSA) []*dns.TLSA {
	var out []*dns.TLSA
	for _, rr := range rrs {
		if (rr.Usage == 2 || rr.Usage == 3) && rr.Selector <= 1 && rr.MatchingType <= 2 {
			out = append(out, rr)
		}
	}
	return out
}

// Match reports whether a certificate chain (leaf first) presented by
// host matches one of the records.
func Match(rrs []*dns.TLSA, chain []*x509.Certificate, host string) bool {
	for _, rr := range rrs {
		var certs []*x509.Certificate
		switch rr.Usage {
		case 3:
			certs = chain[:min(1, len(chain))]
		case 2:
			if len(chain) == 0 || (host != "" && chain[0].VerifyHostname(strings.TrimSuffix(host, ".")) != nil) {
				continue
			}
			certs = chain[1:]
		}
		for _, c := range certs {
			if matches(rr, c) {
				return true
			}
		}
	}
	return false
}

func matches(rr *dns.TLSA, c *x509.Certificate) bool {
	data := c.Raw
	if rr.Selector == 1 {
		data = c.RawSubjectPublicKeyInfo
	}
	var got string
	switch rr.MatchingType {
	case 0:
		got = hex.EncodeToString(data)
	case 1:
		sum := sha256.Sum256(data)
		got = hex.EncodeToString(sum[:])
	case 2:
		sum := sha512.Sum512(data)
		got = hex.EncodeToString(sum[:])
	}
	return got != "" && strings.EqualFold(got, rr.Certificate)
}
