package main

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/outbound/mxtest"
)

// The smarthost flags, as an operator writes them, reach a relay that
// wants STARTTLS with a private CA and AUTH PLAIN; the password comes
// from the environment.
func TestSmarthostFlags(t *testing.T) {
	cert, _, err := mxtest.Cert("relay.test")
	if err != nil {
		t.Fatal(err)
	}
	relay, err := mxtest.Start(mxtest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	relay.Users = map[string]string{"tester": "pw from env"}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TESTERD_SMARTHOST_PASSWORD": "pw from env"}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	c := bindConfig(fs, func(name string) (string, bool) { v, ok := env[name]; return v, ok })
	if err := fs.Parse([]string{"--smarthost", relay.Addr, "--smarthost-tls", "starttls", "--smarthost-ca", ca,
		"--smarthost-user", "tester", "--hostname", "mx.tester.example"}); err != nil {
		t.Fatal(err)
	}
	if err := c.resolve(); err != nil {
		t.Fatal(err)
	}
	tr, err := transportFor(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := tr.Deliver(context.Background(), &outbound.Message{To: "joe@abc.it", Data: []byte("Subject: x\r\n\r\nhi\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	if got := relay.Messages(); len(got) != 1 || got[0].User != "tester" || got[0].Helo != "mx.tester.example" || d.TLS == "" {
		t.Fatalf("relay got %+v; delivery %+v", got, d)
	}

	for _, bad := range [][]string{
		{"--smarthost", "no-port"},
		{"--smarthost", relay.Addr, "--smarthost-tls", "sometimes"},
		{"--smarthost", relay.Addr, "--smarthost-tls", "none", "--smarthost-user", "u"},
		{"--smarthost", relay.Addr, "--smarthost-ca", "/nonexistent.pem"},
	} {
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		c := bindConfig(fs, nil)
		if err := fs.Parse(bad); err != nil {
			t.Fatal(err)
		}
		err := c.resolve()
		if err == nil {
			_, err = transportFor(c, nil)
		}
		if err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
