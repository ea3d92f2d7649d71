package verify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

var (
	update = flag.Bool("update", false, "rewrite testdata/*.want.json from the current verdicts")
	show   = flag.Bool("show", false, "log each golden verdict as testerd check prints it")
)

// goldenNow is the clock of every golden case.
var goldenNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// TestGolden judges every testdata/<case>.eml against testdata/<case>.dns
// and compares the verdict JSON with testdata/<case>.want.json.
//
// The .eml starts with directive lines that the harness removes:
//
//	X-Golden-Envelope: ip=IP helo=NAME mail-from=ADDR [kind=spf|dkim|check]
//	X-Golden-Sign: d=DOMAIN s=SELECTOR [a=ALG] [c=CANON] [h=a:b] [l=N|-1]
//	    [i=AUID] [t=SECONDS] [x=SECONDS] [extra=TAG=VALUE] [publish=no]
//	X-Golden-Tamper: body|subject
//
// Sign directives are applied in order, each adding a DKIM-Signature on
// top, with a deterministic Ed25519 key per d= and s= (dkimtest.Ed25519),
// published in the zone unless publish=no; t= and x= are seconds relative
// to goldenNow. Tamper directives change the message after signing. The
// .dns file is zone-file lines, plus "$FAIL NAME TYPE KIND" lines that make
// a lookup fail (KIND: SERVFAIL, timeout, NXDOMAIN).
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		t.Run(name, func(t *testing.T) {
			p, z := loadGolden(t, strings.TrimSuffix(file, ".eml"))
			j := &Judge{Resolver: dnsx.NewFake(z), Receiver: "tester.example", Now: func() time.Time { return goldenNow }}
			v := j.Judge(context.Background(), p)
			if *show {
				var text strings.Builder
				v.WriteText(&text, "tester.example")
				t.Log("\n" + text.String())
			}
			got, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			wantFile := strings.TrimSuffix(file, ".eml") + ".want.json"
			if *update {
				if err := os.WriteFile(wantFile, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatalf("%v (run go test ./verify -run Golden -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("verdict differs from %s; tags %q; rerun with -update and review the diff", wantFile, v.Tags)
			}
		})
	}
}

func loadGolden(t *testing.T, base string) (Probe, *dnsx.Zone) {
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
			kind := map[string]dnsx.Kind{"SERVFAIL": dnsx.ServFail, "timeout": dnsx.Timeout, "NXDOMAIN": dnsx.NXDomain}[f[3]]
			if kind == 0 {
				t.Fatalf("%s.dns: bad $FAIL line %q", base, line)
			}
			z.Fail(f[1], dns.StringToType[f[2]], kind)
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
	var p Probe
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
				p.Helo, p.MailFrom, p.Kind = args["helo"], args["mail-from"], Kind(args["kind"])
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
			o.Time = goldenNow.Add(time.Duration(n) * time.Second)
		}
		if s, ok := a["x"]; ok {
			n, _ := strconv.Atoi(s)
			o.Expiration = goldenNow.Add(time.Duration(n) * time.Second)
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
		switch tp {
		case "body":
			m += "Added after signing.\r\n"
		case "subject":
			m = strings.Replace(m, "\r\nSubject: ", "\r\nSubject: Re: ", 1)
		default:
			t.Fatalf("unknown tamper %q", tp)
		}
	}
	p.Raw = []byte(m)
	return p, z
}
