package main

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/verify/spf"
)

func startDNS(t *testing.T) string {
	t.Helper()
	z := dnsx.NewZone()
	z.AddTXT("example.com", "v=spf1 include:_spf.example.net a mx -all")
	z.AddTXT("_spf.example.net", "v=spf1 ip4:198.51.100.0/24 ~all")
	z.AddIP("example.com", netip.MustParseAddr("192.0.2.10"))
	z.AddMX("example.com", 10, "mx.example.com")
	z.AddIP("mx.example.com", netip.MustParseAddr("192.0.2.1"))
	z.AddTXT("mx.example.com", "v=spf1 a -all")
	z.AddTXT("bad.example", "v=spf1 ip4:192.0.2.1 -all moo")
	srv, err := dnsx.StartServer(z)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

func TestSPFCommand(t *testing.T) {
	t.Parallel()
	addr := startDNS(t)
	var out, errb bytes.Buffer
	code := run([]string{"spf", "--ip", "192.0.2.1", "--mail-from", "a@example.com", "--helo", "mx.example.com", "--resolver", addr}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{
		"SPF pass (identity mailfrom",
		"MAIL FROM a@example.com from 192.0.2.1: pass",
		`record of example.com: "v=spf1 include:_spf.example.net a mx -all"`,
		"DNS-querying terms: 3 of 10; void lookups: 0 of 2",
		"Received-SPF: pass (testerd.localhost: domain of a@example.com designates 192.0.2.1 as permitted sender)",
		"Authentication-Results: spf=pass smtp.mailfrom=a@example.com",
		`col 8 "include:_spf.example.net" [DNS term 1 of 10] target "_spf.example.net": no match (included result softfail: no match)`,
		`col 35 "mx" [DNS term 3 of 10] target "example.com": MATCH (address of MX mx.example.com.)`,
		`mx.example.com. A ? "192.0.2.1"`,
		"HELO mx.example.com from 192.0.2.1: pass",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	code = run([]string{"spf", "--ip", "192.0.2.1", "--mail-from", "a@bad.example", "--resolver", addr, "--json"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var o spf.Outcome
	if err := json.Unmarshal(out.Bytes(), &o); err != nil {
		t.Fatal(err)
	}
	if o.Used != spf.IdentityMailFrom || o.MailFrom.Result != spf.PermError || o.MailFrom.Problem.Column != 27 || o.MailFrom.Problem.Term != "moo" {
		t.Errorf("JSON outcome: %+v %+v", o.MailFrom, o.MailFrom.Problem)
	}
}

func TestSPFCommandDraftRecord(t *testing.T) {
	t.Parallel()
	addr := startDNS(t)
	var out, errb bytes.Buffer
	// The published record fails 203.0.113.5; the draft adds its network.
	code := run([]string{"spf", "--ip", "203.0.113.5", "--mail-from", "a@example.com", "--resolver", addr,
		"--record", "v=spf1 ip4:203.0.113.0/24 include:_spf.example.net -all", "--json"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var o spf.Outcome
	if err := json.Unmarshal(out.Bytes(), &o); err != nil {
		t.Fatal(err)
	}
	if o.MailFrom.Result != spf.Pass || o.MailFrom.Matched != "ip4:203.0.113.0/24" {
		t.Errorf("draft: %s %q", o.MailFrom.Result, o.MailFrom.Matched)
	}
}

func TestSPFCommandUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"spf"}, {"spf", "--ip", "nope", "--helo", "x.example"}, {"spf", "--ip", "192.0.2.1"}, {"nosuch"}, {},
	} {
		var out, errb bytes.Buffer
		if code := run(args, nil, &out, &errb); code != 2 || errb.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, errb.String())
		}
	}
}
