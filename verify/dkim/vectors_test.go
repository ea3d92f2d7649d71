package dkim

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/shared"
	"github.com/testerd/testerd/message"
)

// vectorZone loads ../shared/testdata/dkim/zone.txt.
func vectorZone(t *testing.T) (*dnsx.Zone, string) {
	t.Helper()
	dir := shared.Dir(t, "testdata", "dkim")
	f, err := os.Open(filepath.Join(dir, "zone.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := dnsx.NewZone()
	if err := z.Parse(f, "."); err != nil {
		t.Fatal(err)
	}
	return z, dir
}

// serve starts a real DNS server on loopback for z and returns a client.
func serve(t *testing.T, z *dnsx.Zone) dnsx.Resolver {
	t.Helper()
	srv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := dnsx.NewClient(srv.Addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readVector(t *testing.T, dir, name string) *message.Message {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return message.Parse(raw)
}

// TestVectors verifies every signed vector of ../shared/testdata/dkim
// through an in-process DNS server, as its README lists them.
func TestVectors(t *testing.T) {
	z, dir := vectorZone(t)
	v := &Verifier{Resolver: serve(t, z)}
	tests := []struct {
		file string
		want []Result
		// algos and domains per signature, to check the tags were read.
		algos []string
	}{
		{"rfc8463/signed.eml", []Result{Pass, Pass}, []string{"ed25519-sha256", "rsa-sha256"}},
		{"rfc6376/signed.eml", []Result{Pass}, []string{"rsa-sha256"}},
		{"rfc6376/unsigned.eml", nil, nil},
		{"go-msgauth/raw-rsa-pkcs1-key.eml", []Result{Pass}, []string{"rsa-sha256"}},
		{"dkimpy/ed25519test2.msg", []Result{Pass}, []string{"ed25519-sha256"}},
		{"dkimpy/test2.message", []Result{Pass}, []string{"rsa-sha256"}},
		{"dkimpy/rfc6376.signed.msg", []Result{Pass, Pass}, []string{"ed25519-sha256", "rsa-sha256"}},
		{"dkimpy/message.mbox", []Result{Invalid}, []string{"rsa-sha256"}},
		{"dkimpy/test.message", nil, nil},
		{"dkimpy/test_extra.message", nil, nil},
		{"dkimpy/test_nofrom.message", nil, nil},
		{"dkimpy/ed25519test.msg", nil, nil},
		{"dkimpy/rfc6376.msg", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			o := v.Verify(context.Background(), readVector(t, dir, tt.file))
			if len(o.Signatures) != len(tt.want) {
				t.Fatalf("%d signatures, want %d", len(o.Signatures), len(tt.want))
			}
			for i, s := range o.Signatures {
				if s.Result != tt.want[i] || s.Algorithm != tt.algos[i] {
					t.Errorf("signature %d: %s %s (%s), want %s %s", i+1, s.Result, s.Algorithm, s.Reason, tt.want[i], tt.algos[i])
				}
				if s.Result == Pass {
					if s.BodyHash != s.ComputedBodyHash || s.Key == nil || s.Key.Bits == 0 {
						t.Errorf("signature %d: pass without matching body hash or key details: %+v", i+1, s)
					}
				}
			}
		})
	}
	// message.mbox: the kitterman.com key is not in the zone.
	o := v.Verify(context.Background(), readVector(t, dir, "dkimpy/message.mbox"))
	if s := o.Signatures[0]; s.KeyLookup != "NXDOMAIN" || s.Problem == nil || s.Problem.In != "dns" || !strings.Contains(i18n.EN.Say(s.Reason), "no key record") {
		t.Errorf("message.mbox: %+v %+v", s, s.Problem)
	}
}

// TestBrokenKeyRecords serves each of dkimpy's broken key records as the
// key of the RFC 8463 rsa-sha256 signature (s=test, d=football.example.com),
// whose good key is dkimpy/test.txt, and checks the result and the named tag.
func TestBrokenKeyRecords(t *testing.T) {
	_, dir := vectorZone(t)
	tests := []struct {
		file   string
		result Result
		tag    string
		reason string
	}{
		{"test.txt", Pass, "", "both verify"},
		{"test2.txt", Pass, "", "both verify"}, // no k=: rsa by default
		{"badk.txt", Invalid, "k", "unknown key type"},
		{"badversion.txt", Invalid, "v", "not DKIM1"},
		{"test_bad.txt", Invalid, "p", "not an RSA public key"},
		{"test_tlsrpt.txt", Invalid, "s", "not email"},
		{"ed25519test.dns", Invalid, "k", "is k=ed25519"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			rec, err := os.ReadFile(filepath.Join(dir, "dkimpy", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			z := dnsx.NewZone()
			z.AddTXT("test._domainkey.football.example.com", strings.TrimSpace(string(rec)))
			v := &Verifier{Resolver: serve(t, z)}
			o := v.Verify(context.Background(), readVector(t, dir, "rfc8463/signed.eml"))
			s := o.Signatures[1]
			if s.Result != tt.result || !strings.Contains(i18n.EN.Say(s.Reason), tt.reason) {
				t.Fatalf("got %s (%s), want %s containing %q", s.Result, s.Reason, tt.result, tt.reason)
			}
			if tt.tag != "" && (s.Problem == nil || s.Problem.In != "key" || s.Problem.Tag != tt.tag) {
				t.Errorf("problem %+v, want key tag %s", s.Problem, tt.tag)
			}
			// The ed25519 signature's key is missing from this zone.
			if o.Signatures[0].Result != Invalid || o.Signatures[0].KeyLookup != "NXDOMAIN" {
				t.Errorf("signature 1: %s %s", o.Signatures[0].Result, o.Signatures[0].Reason)
			}
		})
	}
}
