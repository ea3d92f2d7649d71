package outbound

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/outbound/mxtest"
)

// secureWorld is newWorld whose MX hosts present a certificate valid for
// both their names, which pool trusts, with leaf's key digest for TLSA.
func secureWorld(t *testing.T, maxVersion uint16) (*world, *x509.CertPool, string) {
	t.Helper()
	cert, pool, err := mxtest.Cert("mx1.rcpt.example", "mx2.rcpt.example")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	w := newWorld(t, mxtest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MaxVersion: maxVersion}})
	return w, pool, hex.EncodeToString(sum[:])
}

func (w *world) tlsa(host, digest string) {
	w.zone.AddRR(&dns.TLSA{Hdr: dns.RR_Header{Name: "_25._tcp." + host + ".", Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 300},
		Usage: 3, Selector: 1, MatchingType: 1, Certificate: digest})
	w.zone.Secure("_25._tcp." + host)
}

// TestDANE: a DNSSEC-validated TLSA record makes STARTTLS with a matching
// certificate the only way to the host: a certificate that does not
// match, or no TLS at all, delivers nothing, and nothing in plain text.
func TestDANE(t *testing.T) {
	w, _, digest := secureWorld(t, 0)
	w.tlsa("mx1.rcpt.example", digest)
	d, err := w.direct.Deliver(context.Background(), msg)
	if err != nil || d.TLS != "TLS 1.3 (DANE)" || len(w.mx1.Messages()) != 1 {
		t.Fatalf("matching TLSA: %v, TLS %q, %d messages", err, d.TLS, len(w.mx1.Messages()))
	}

	w, _, _ = secureWorld(t, 0)
	w.tlsa("mx1.rcpt.example", strings.Repeat("ab", 32))
	w.tlsa("mx2.rcpt.example", strings.Repeat("ab", 32))
	_, err = w.direct.Deliver(context.Background(), msg)
	wantErr(t, err, false, "TLSA")
	if n := len(w.mx1.Messages()) + len(w.mx2.Messages()); n != 0 {
		t.Errorf("%d messages delivered past a TLSA mismatch", n)
	}

	// A host that offers only TLS 1.1: an opportunistic sender falls
	// back to plain text; DANE forbids it.
	w, _, digest = secureWorld(t, tls.VersionTLS11)
	w.tlsa("mx1.rcpt.example", digest)
	w.tlsa("mx2.rcpt.example", digest)
	if _, err = w.direct.Deliver(context.Background(), msg); err == nil {
		t.Error("delivered without TLS to hosts with TLSA records")
	}
	if n := len(w.mx1.Messages()) + len(w.mx2.Messages()); n != 0 {
		t.Errorf("%d messages in plain text to hosts with TLSA records", n)
	}

	// Records the resolver did not validate are no DANE.
	w, _, _ = secureWorld(t, 0)
	w.zone.AddRR(&dns.TLSA{Hdr: dns.RR_Header{Name: "_25._tcp.mx1.rcpt.example.", Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 300},
		Usage: 3, Selector: 1, MatchingType: 1, Certificate: strings.Repeat("ab", 32)})
	if d, err = w.direct.Deliver(context.Background(), msg); err != nil || d.TLS != "TLS 1.3" {
		t.Errorf("unvalidated TLSA: %v, TLS %q", err, d.TLS)
	}
}

// TestMTASTS: an enforced policy restricts delivery to the MX hosts it
// names, each with STARTTLS and a certificate valid for its name; a
// testing policy changes nothing; a policy that can no longer be fetched
// still applies while cached.
func TestMTASTS(t *testing.T) {
	w, pool, _ := secureWorld(t, 0)
	policy := "version: STSv1\nmode: enforce\nmx: mx2.rcpt.example\nmax_age: 86400\n"
	cert, stsPool, err := mxtest.Cert("mta-sts.rcpt.example")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain")
		rw.Write([]byte(policy))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	w.zone.AddTXT("_mta-sts.rcpt.example", "v=STSv1; id=1")
	w.zone.AddIP("mta-sts.rcpt.example", netip.MustParseAddr("127.0.0.1"))
	w.direct.STS = &mtasts.Fetcher{Resolver: w.direct.Resolver, Port: port, RootCAs: stsPool, AllowPrivate: true}
	w.direct.RootCAs = pool

	d, err := w.direct.Deliver(context.Background(), msg)
	if err != nil || d.TLS != "TLS 1.3 (MTA-STS)" || len(w.mx1.Messages()) != 0 || len(w.mx2.Messages()) != 1 {
		t.Fatalf("enforce, mx2 only: %v, TLS %q, mx1 %d, mx2 %d", err, d.TLS, len(w.mx1.Messages()), len(w.mx2.Messages()))
	}
	// The policy server goes away: the cached policy still holds.
	srv.Close()
	w.direct.RootCAs = x509.NewCertPool() // and mx2's certificate is no longer trusted
	if _, err := w.direct.Deliver(context.Background(), msg); err == nil || len(w.mx1.Messages()) != 0 || len(w.mx2.Messages()) != 1 {
		t.Errorf("with the cached policy and an untrusted certificate: %v, mx1 %d, mx2 %d", err, len(w.mx1.Messages()), len(w.mx2.Messages()))
	}
}
