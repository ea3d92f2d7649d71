// Package verifytest reads verify's golden cases (testdata/<case>.eml and
// <case>.dns) into a probe and a zone, for the tests of verify and of the
// packages that explain its verdicts.
//
// The .eml starts with directive lines that the harness removes:
//
//	X-Golden-Envelope: ip=IP helo=NAME mail-from=ADDR [kind=spf|dkim|check]
//	    [tls=1.3|1.2|1.0|none]
//	X-Golden-Sign: d=DOMAIN s=SELECTOR [a=ALG] [c=CANON] [h=a:b] [l=N|-1]
//	    [i=AUID] [t=SECONDS] [x=SECONDS] [extra=TAG=VALUE] [publish=no]
//	X-Golden-Tamper: body|subject|bare-lf|line=N|pad=N (line and pad before signing)
//	X-Golden-Expect: [ID=pass|warn|fail|n/a ...] [ready=yes|no] [first=CODE|none] [gmail|yahoo|outlook|icloud|orange|laposte|gmx|ionos=yes|no]
//
// tls= gives the SMTP session (no tls= is an offline check). Expect checks
// the sender-requirements report: the status of each named item, the
// summary and the code of the first error Gmail would give.
//
// Sign directives are applied in order, each adding a DKIM-Signature on
// top, with a deterministic Ed25519 key per d= and s= (dkimtest.Ed25519),
// published in the zone unless publish=no; t= and x= are seconds relative
// to Now. Tamper directives change the message after signing. The
// .dns file is zone-file lines, plus "$FAIL NAME TYPE KIND" lines that make
// a lookup fail (KIND: SERVFAIL, timeout, NXDOMAIN, REFUSED).
package verifytest

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// Now is the clock of every golden case.
var Now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Dir is the golden cases' folder, from a package beside verify.
const Dir = "../verify/testdata"

// Load reads the case at base (a path without .eml): the probe, the zone
// with the keys it signs with, and the X-Golden-Expect directive.
func Load(t testing.TB, base string) (verify.Probe, *dnsx.Zone, map[string]string) {
	t.Helper()
	z := dnsx.NewZone()
	zf, err := os.ReadFile(base + ".dns")
	if err != nil {
		t.Fatal(err)
	}
	var zone strings.Builder
	zone.WriteString("$TTL 300\n")
	for _, line := range strings.Split(string(zf), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "$FAIL" {
			failure := map[string]dnsx.Kind{"SERVFAIL": dnsx.ServFail, "timeout": dnsx.Timeout, "NXDOMAIN": dnsx.NXDomain, "REFUSED": dnsx.Refused}[f[3]]
			if failure == 0 {
				t.Fatalf("%s.dns: bad $FAIL line %q", base, line)
			}
			z.Fail(f[1], dns.StringToType[f[2]], failure)
			continue
		}
		zone.WriteString(line + "\n")
	}
	if err := z.Parse(strings.NewReader(zone.String()), "."); err != nil {
		t.Fatalf("%s.dns: %v", base, err)
	}

	raw, err := os.ReadFile(base + ".eml")
	if err != nil {
		t.Fatal(err)
	}
	var p verify.Probe
	var expect map[string]string
	var signs []map[string]string
	var tampers []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	var msg strings.Builder
	for sc.Scan() {
		line := sc.Text()
		if k, v, ok := strings.Cut(line, ": "); ok && strings.HasPrefix(k, "X-Golden-") && msg.Len() == 0 {
			args := map[string]string{}
			for _, f := range strings.Fields(v) {
				a, b, _ := strings.Cut(f, "=")
				args[a] = b
			}
			switch k {
			case "X-Golden-Envelope":
				p.IP = netip.MustParseAddr(args["ip"])
				p.Helo, p.MailFrom, p.Kind = args["helo"], args["mail-from"], kind.Kind(args["kind"])
				if v, ok := args["tls"]; ok {
					p.Session = &verify.Session{}
					if v != "none" {
						p.Session.TLS = "TLS " + v
					}
				}
			case "X-Golden-Expect":
				expect = args
			case "X-Golden-Sign":
				signs = append(signs, args)
			case "X-Golden-Tamper":
				tampers = append(tampers, strings.TrimSpace(v))
			default:
				t.Fatalf("unknown directive %s", k)
			}
			continue
		}
		msg.WriteString(line + "\r\n")
	}
	m := msg.String()
	// line= and pad= are content, added before signing.
	for _, tp := range tampers {
		arg, n, _ := strings.Cut(tp, "=")
		switch arg {
		case "line":
			m += strings.Repeat("x", atoi(t, n)) + "\r\n"
		case "pad":
			for len(m) < atoi(t, n) {
				m += strings.Repeat("padding ", 9) + "\r\n"
			}
		}
	}
	for _, a := range signs {
		key := dkimtest.Ed25519(a["d"] + "/" + a["s"])
		o := dkimtest.Options{Domain: a["d"], Selector: a["s"], Signer: key, Algorithm: a["a"], Canonicalization: a["c"], Identifier: a["i"], Extra: a["extra"]}
		if h := a["h"]; h != "" {
			o.Headers = strings.Split(h, ":")
		}
		if l, ok := a["l"]; ok {
			n, _ := strconv.ParseInt(l, 10, 64)
			o.BodyLength = &n
		}
		if s, ok := a["t"]; ok {
			n, _ := strconv.Atoi(s)
			o.Time = Now.Add(time.Duration(n) * time.Second)
		}
		if s, ok := a["x"]; ok {
			n, _ := strconv.Atoi(s)
			o.Expiration = Now.Add(time.Duration(n) * time.Second)
		}
		field, err := dkimtest.Sign([]byte(m), o)
		if err != nil {
			t.Fatal(err)
		}
		m = field + m
		if a["publish"] != "no" {
			z.AddTXT(a["s"]+"._domainkey."+a["d"], dkimtest.KeyRecord(key.Public()))
		}
	}
	for _, tp := range tampers {
		arg, _, _ := strings.Cut(tp, "=")
		switch arg {
		case "body":
			m += "Added after signing.\r\n"
		case "subject":
			m = strings.Replace(m, "\r\nSubject: ", "\r\nSubject: Re: ", 1)
		case "bare-lf":
			head, body, _ := strings.Cut(m, "\r\n\r\n")
			m = head + "\r\n\r\n" + strings.ReplaceAll(body, "\r\n", "\n")
		case "line", "pad":
		default:
			t.Fatalf("unknown tamper %q", tp)
		}
	}
	p.Raw = []byte(m)
	return p, z, expect
}

func atoi(t testing.TB, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Judge judges the case name of Dir as the golden test does.
func Judge(t testing.TB, name string) *verify.Verdict {
	t.Helper()
	p, z, _ := Load(t, filepath.Join(Dir, name))
	j := &verify.Judge{Resolver: dnsx.NewFake(z), Receiver: "tester.example", Now: func() time.Time { return Now }}
	return j.Judge(context.Background(), p)
}

// Cases lists the case names of Dir.
func Cases(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(Dir, "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases in %s: %v", Dir, err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".eml"))
	}
	return names
}
