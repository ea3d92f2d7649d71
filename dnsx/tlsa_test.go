package dnsx

import (
	"context"
	"testing"

	"github.com/miekg/dns"
)

// TestLookupTLSA asks a real DNS server over the wire: the records, and
// the AD bit only where the server sets it.
func TestLookupTLSA(t *testing.T) {
	z := NewZone()
	for _, name := range []string{"_25._tcp.signed.example.", "_25._tcp.plain.example."} {
		z.AddRR(&dns.TLSA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 300},
			Usage: 3, Selector: 1, MatchingType: 1, Certificate: "ab"})
	}
	z.Secure("_25._tcp.signed.example")
	srv, err := StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := NewClient(srv.Addr(), DefaultTimeout)
	if err != nil {
		t.Fatal(err)
	}
	for name, wantAD := range map[string]bool{"_25._tcp.signed.example": true, "_25._tcp.plain.example": false} {
		rrs, ad, err := c.LookupTLSA(context.Background(), name)
		if err != nil || len(rrs) != 1 || rrs[0].Usage != 3 || ad != wantAD {
			t.Errorf("%s: %v, AD %v, %v", name, rrs, ad, err)
		}
	}
	if _, _, err := c.LookupTLSA(context.Background(), "_25._tcp.none.example"); !IsNotFound(err) {
		t.Errorf("no record: %v", err)
	}
}
