package mtasts

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/outbound/mxtest"
)

func TestParseRecord(t *testing.T) {
	for txt, ok := range map[string]bool{
		"v=STSv1; id=20261201T000000":            true,
		"v=STSv1;id=abc;":                        true,
		"v=STSv1":                                false,
		"v=STSv2; id=1":                          false,
		"v=STSv1; id=has-dash":                   false,
		"v=STSv1; id=" + strings.Repeat("a", 33): false,
	} {
		if _, err := ParseRecord(txt); (err == nil) != ok {
			t.Errorf("ParseRecord(%q): %v", txt, err)
		}
	}
}

func TestParsePolicy(t *testing.T) {
	good := "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.com\r\nmx: *.mx.example.com\r\nmax_age: 604800\r\n"
	p, warns, err := ParsePolicy([]byte(good))
	if err != nil || p.Mode != Enforce || len(p.MX) != 2 || p.MaxAge != 604800 || len(warns) != 0 {
		t.Fatalf("%+v %v %v", p, warns, err)
	}
	for body, want := range map[string]string{
		"version: STSv1\nmode: enforce\nmax_age: 86400\n":                    "no mx",
		"version: STSv2\nmode: enforce\nmx: a\nmax_age: 86400\n":             "STSv1",
		"version: STSv1\nmode: strict\nmx: a\nmax_age: 86400\n":              "mode",
		"version: STSv1\nmode: testing\nmx: a\n":                             "max_age is missing",
		"version: STSv1\nmode: testing\nmx: a\nmax_age: 99999999\n":          "limit",
		"version: STSv1\nmode: testing\nmx: a\nmax_age: -5\n":                "not a number",
		"<html>not a policy</html>":                                          "not key: value",
		"version: STSv1\nmode: testing\nmx: a\nmax_age: 600\n":               "under a day",
		"version: STSv1\nmode: testing\nmx: mx*.example.com\nmax_age: 86400": "wildcard",
	} {
		_, warns, err := ParsePolicy([]byte(body))
		got := strings.Join(warns, " ")
		if err != nil {
			got += " " + err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", body, got, want)
		}
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		pattern, host string
		want          bool
	}{
		{"mx1.example.com", "MX1.example.com.", true},
		{"*.example.com", "mx1.example.com", true},
		{"*.example.com", "a.b.example.com", false},
		{"*.example.com", "example.com", false},
		{"mx1.example.com", "mx2.example.com", false},
	} {
		if Matches(c.pattern, c.host) != c.want {
			t.Errorf("Matches(%q, %q) != %v", c.pattern, c.host, c.want)
		}
	}
}

// TestFetch fetches from in-process HTTPS servers, one per failure kind.
func TestFetch(t *testing.T) {
	cert, pool, err := mxtest.Cert("mta-sts.example.com", "mta-sts.moved.example", "mta-sts.big.example")
	if err != nil {
		t.Fatal(err)
	}
	policy := "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n"
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/mta-sts.txt", func(w http.ResponseWriter, r *http.Request) {
		switch r.Host {
		case "mta-sts.example.com":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(policy))
		case "mta-sts.moved.example":
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusFound)
		case "mta-sts.big.example":
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(strings.Repeat("x", MaxPolicyBytes+10)))
		default:
			http.NotFound(w, r)
		}
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the wrong-certificate case fails its handshake on purpose
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	z := dnsx.NewZone()
	for _, h := range []string{"mta-sts.example.com", "mta-sts.moved.example", "mta-sts.big.example", "mta-sts.wrongcert.example"} {
		z.AddIP(h, netip.MustParseAddr("127.0.0.1"))
	}
	f := &Fetcher{Resolver: dnsx.NewFake(z), Port: port, RootCAs: pool, AllowPrivate: true}
	p, _, err := f.Fetch(context.Background(), "example.com")
	if err != nil || p.Mode != Enforce {
		t.Fatalf("fetch: %+v %v", p, err)
	}
	for domain, want := range map[string]string{
		"moved.example":     "302",
		"big.example":       "over 64 KB",
		"wrongcert.example": "certificate",
		"nohost.example":    "no address",
	} {
		if _, _, err := f.Fetch(context.Background(), domain); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", domain, err, want)
		}
	}
	guarded := &Fetcher{Resolver: dnsx.NewFake(z), Port: port, RootCAs: pool}
	if _, _, err := guarded.Fetch(context.Background(), "example.com"); err == nil || !strings.Contains(err.Error(), "non-public") {
		t.Errorf("a loopback policy host without AllowPrivate: %v", err)
	}
}

func TestCheckTLSRPT(t *testing.T) {
	if uris, err := CheckTLSRPT("v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example/tls"); err != nil || len(uris) != 2 {
		t.Errorf("%v %v", uris, err)
	}
	for txt, want := range map[string]string{
		"v=TLSRPTv1":                    "no rua",
		"v=TLSRPTv2; rua=mailto:a@b.c":  "v=TLSRPTv1",
		"v=TLSRPTv1; rua=ftp://x/y":     "only mailto",
		"v=TLSRPTv1; rua=mailto:nobody": "not an address",
	} {
		if _, err := CheckTLSRPT(txt); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", txt, err, want)
		}
	}
}
