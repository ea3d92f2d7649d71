package verify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
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
//	    [tls=1.3|1.2|1.0|none]
//	X-Golden-Sign: d=DOMAIN s=SELECTOR [a=ALG] [c=CANON] [h=a:b] [l=N|-1]
//	    [i=AUID] [t=SECONDS] [x=SECONDS] [extra=TAG=VALUE] [publish=no]
//	X-Golden-Tamper: body|subject|bare-lf|line=N|pad=N (line and pad before signing)
//	X-Golden-Expect: [ID=pass|warn|fail|n/a ...] [ready=yes|no] [first=CODE|none] [gmail|yahoo|outlook|icloud=yes|no]
//
// tls= gives the SMTP session (no tls= is an offline check). Expect checks
// the sender-requirements report: the status of each named item, the
// summary and the code of the first error Gmail would give.
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
	expects := map[string]map[string]string{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		t.Run(name, func(t *testing.T) {
			p, z, expect := loadGolden(t, strings.TrimSuffix(file, ".eml"))
			expects[name] = expect
			j := &Judge{Resolver: dnsx.NewFake(z), Receiver: "tester.example", Now: func() time.Time { return goldenNow }}
			v := j.Judge(context.Background(), p)
			checkExpect(t, v, expects[name])
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
				// chasquid's way: the verdict as it is now beside the one
				// expected, for a diff.
				gotFile := strings.TrimSuffix(file, ".eml") + ".got.json"
				os.WriteFile(gotFile, got, 0o644)
				t.Errorf("verdict differs from %s (%s); tags %q; diff -u %s %s, or rerun with -update and review it", wantFile, firstDiff(want, got), v.Tags, wantFile, gotFile)
			}
		})
	}
}

// checkExpect compares the report with an X-Golden-Expect directive.
func checkExpect(t *testing.T, v *Verdict, expect map[string]string) {
	t.Helper()
	if expect == nil {
		return
	}
	r := v.Requirements
	if r == nil {
		t.Fatal("X-Golden-Expect on a verdict without a requirements report (kind=check?)")
	}
	for k, want := range expect {
		switch k {
		case "ready":
			if got := map[bool]string{true: "yes", false: "no"}[r.Ready]; got != want {
				t.Errorf("ready %s, want %s (%s)", got, want, r.Summary)
			}
		case "gmail", "yahoo", "outlook", "icloud":
			name := map[string]string{"gmail": "Gmail", "yahoo": "Yahoo/AOL", "outlook": "Outlook.com", "icloud": "iCloud Mail"}[k]
			found := false
			for _, p := range r.Providers {
				if p.Provider == name {
					found = true
					if got := map[bool]string{true: "yes", false: "no"}[p.Accepted]; got != want {
						t.Errorf("%s accepts: %s, want %s (blocking %v, bounce %q)", name, got, want, p.Blocking, p.Bounce)
					}
					if !p.Accepted && p.Bounce == "" && name != "iCloud Mail" {
						t.Errorf("%s refuses without a bounce", name)
					}
				}
			}
			if !found {
				t.Errorf("no verdict for %s", name)
			}
		case "first":
			if (want == "none") != (r.FirstError == "") || want != "none" && !strings.Contains(r.FirstError, want) {
				t.Errorf("first error %q, want %s", r.FirstError, want)
			}
		default:
			found := false
			for _, it := range r.Items {
				if it.ID == k {
					found = true
					if string(it.Status) != want {
						t.Errorf("%s: %s, want %s; evidence %q", k, it.Status, want, it.Evidence)
					}
				}
			}
			if !found {
				t.Errorf("no requirement %q", k)
			}
		}
	}
}

func loadGolden(t *testing.T, base string) (Probe, *dnsx.Zone, map[string]string) {
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
			failure := map[string]dnsx.Kind{"SERVFAIL": dnsx.ServFail, "timeout": dnsx.Timeout, "NXDOMAIN": dnsx.NXDomain}[f[3]]
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
	var p Probe
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
					p.Session = &Session{}
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

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// firstDiff says where two JSON texts first differ, line by line.
func firstDiff(want, got []byte) string {
	w, g := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d: want %q, got %q", i+1, strings.TrimSpace(wl), strings.TrimSpace(gl))
		}
	}
	return "no line differs"
}
