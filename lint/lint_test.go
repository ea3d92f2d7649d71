package lint

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/outbound"
	"github.com/testerd/testerd/outbound/mxtest"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// base is a healthy domain: the zone every case starts from.
func base(z *dnsx.Zone) {
	z.AddTXT("example.com", "v=spf1 ip4:192.0.2.0/24 include:_spf.esp.example -all")
	z.AddTXT("_spf.esp.example", "v=spf1 ip4:198.51.100.0/24 ~all")
	z.AddTXT("_dmarc.example.com", "v=DMARC1; p=reject; rua=mailto:dmarc@example.com")
	z.AddMX("example.com", 10, "mx.example.com")
	z.AddIP("mx.example.com", netip.MustParseAddr("192.0.2.25"))
	z.AddPTR(netip.MustParseAddr("192.0.2.25"), "mx.example.com")
	z.AddTXT("s1._domainkey.example.com", dkimtest.KeyRecord(dkimtest.Ed25519("lint").Public()))
}

func check(t *testing.T, setup func(z *dnsx.Zone), o Options) *Report {
	t.Helper()
	z := dnsx.NewZone()
	if setup != nil {
		setup(z)
	}
	c := &Checker{Resolver: dnsx.NewFake(z), Receiver: "tester.example"}
	rep, err := c.Check(context.Background(), "example.com", o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func has(rep *Report, area string, sev Severity, substr string) bool {
	for _, f := range rep.Findings {
		if f.Area == area && f.Severity == sev && strings.Contains(i18n.EN.Say(f.Message), substr) {
			return true
		}
	}
	return false
}

func dump(rep *Report) string {
	var b strings.Builder
	for _, f := range rep.Findings {
		fmt.Fprintf(&b, "\n  %s %s: %s", f.Area, f.Severity, f.Message)
	}
	return b.String()
}

func TestHealthyDomain(t *testing.T) {
	rep := check(t, base, Options{Selectors: []string{"s1"}})
	if rep.Errors != 0 || rep.Warnings != 0 {
		t.Fatalf("%d errors, %d warnings:%s", rep.Errors, rep.Warnings, dump(rep))
	}
	s := rep.SPF
	if s.DNSTerms != 1 || s.VoidLookups != 0 || s.IPv4Addresses != 512 || len(s.Tree.Children) != 1 ||
		s.Tree.Children[0].Record != "v=spf1 ip4:198.51.100.0/24 ~all" {
		t.Errorf("spf: %+v", s)
	}
	if !strings.Contains(rep.In(i18n.EN).DMARC.SummaryText, "rejected (p=reject)") || len(rep.MX.Hosts) != 1 || !rep.MX.Hosts[0].Addresses[0].Confirmed {
		t.Errorf("dmarc summary %q, mx %+v", rep.DMARC.Summary, rep.MX)
	}
	if len(rep.DKIM) != 1 || rep.DKIM[0].Key == nil || rep.DKIM[0].Key.Type != "ed25519" {
		t.Errorf("dkim %+v", rep.DKIM)
	}
}

// Each case changes the healthy zone and expects one finding.
func TestFindings(t *testing.T) {
	rsa1024 := dkimtest.KeyRecord(dkimtest.RSA(1024).Public())
	for _, c := range []struct {
		name  string
		setup func(z *dnsx.Zone)
		o     Options
		area  string
		sev   Severity
		want  string
	}{
		{"no SPF", func(z *dnsx.Zone) { replaceSPF(z, "google-site-verification=x") }, Options{},
			"spf", Error, "no SPF record"},
		{"two SPF", func(z *dnsx.Zone) { z.AddTXT("example.com", "v=spf1 -all") }, Options{}, "spf", Error, "2 SPF records"},
		{"syntax error with its column", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 ip4:192.0.2.0/24 ip4:300.1.1.1 -all") }, Options{},
			"spf", Error, "at column 25"},
		{"too many lookups over the tree", func(z *dnsx.Zone) {
			replaceSPF(z, "v=spf1 include:a.example include:b.example -all")
			z.AddTXT("a.example", "v=spf1 a mx a:x.example a:y.example include:c.example -all")
			z.AddTXT("b.example", "v=spf1 exists:e.example a:w.example -all")
			z.AddTXT("c.example", "v=spf1 a:v.example a:u.example -all")
		}, Options{}, "spf", Error, "11 DNS-querying terms over the whole tree"},
		{"void lookups", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 a:nx1.example a:nx2.example mx:nx3.example -all") }, Options{},
			"spf", Error, "3 void lookups"},
		{"mx with 11 names", func(z *dnsx.Zone) {
			replaceSPF(z, "v=spf1 mx:big.example -all")
			for i := 0; i < 11; i++ {
				z.AddMX("big.example", uint16(i), fmt.Sprintf("m%d.big.example", i))
			}
		}, Options{}, "spf", Error, "finds 11 MX names, over the limit of 10"},
		{"mx counts once, its names apart", nil, Options{}, "spf", Info, "each mx counts once here, and its MX names fall under a separate limit of 10"},
		{"ptr", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 ptr -all") }, Options{}, "spf", Warning, "ptr is deprecated"},
		{"+all", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 ip4:192.0.2.1 +all") }, Options{}, "spf", Error, "authorizes every IP address"},
		{"?all", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 ip4:192.0.2.1 ?all") }, Options{}, "spf", Warning, "neutral, which protects nothing"},
		{"no all", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 ip4:192.0.2.1") }, Options{}, "spf", Warning, "no all and no redirect"},
		{"redirect with all", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 ip4:192.0.2.1 redirect=_spf.esp.example -all") }, Options{},
			"spf", Warning, "redirect is ignored when all is present"},
		{"long record", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 "+strings.Repeat("ip4:192.0.2.1 ", 35)+"-all") }, Options{},
			"spf", Warning, "over the 450 RFC 7208 §3.4 advises"},
		{"split into strings", func(z *dnsx.Zone) {
			z.Remove("example.com", dns.TypeTXT)
			z.AddTXT("example.com", "v=spf1 ip4:192.0.2.0/24 ", "include:_spf.esp.example -all")
		}, Options{}, "spf", Info, "split into 2 strings of 24, 29 octets"},
		{"overlapping networks", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 ip4:192.0.2.0/24 ip4:192.0.2.128/25 -all") }, Options{},
			"spf", Warning, "192.0.2.128/25 (example.com ip4:192.0.2.128/25) overlaps 192.0.2.0/24"},
		{"duplicate networks across includes", func(z *dnsx.Zone) {
			replaceSPF(z, "v=spf1 ip4:198.51.100.0/24 include:_spf.esp.example -all")
		}, Options{}, "spf", Warning, "duplicates 198.51.100.0/24"},
		{"IPv4 total", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 ip4:10.0.0.0/8 ip4:192.0.2.0/24 a:mx.example.com -all") }, Options{},
			"spf", Warning, "16,777,472 IPv4 addresses is a lot"},
		{"include loop", func(z *dnsx.Zone) {
			replaceSPF(z, "v=spf1 include:loop.example -all")
			z.AddTXT("loop.example", "v=spf1 include:example.com -all")
		}, Options{}, "spf", Error, "include loop through example.com"},
		{"include of a name without SPF", func(z *dnsx.Zone) { replaceSPF(z, "v=spf1 include:gone.example -all") }, Options{},
			"spf", Error, `"include:gone.example" points at gone.example, which has no SPF record`},

		{"no DMARC", func(z *dnsx.Zone) { z.Remove("_dmarc.example.com", dns.TypeTXT) }, Options{}, "dmarc", Error, "no DMARC record"},
		{"p=none", func(z *dnsx.Zone) { setDMARC(z, "v=DMARC1; p=none; rua=mailto:d@example.com") }, Options{}, "dmarc", Info, "p=none"},
		{"bad tag", func(z *dnsx.Zone) { setDMARC(z, "v=DMARC1; p=reject; pct=150; rua=mailto:d@example.com") }, Options{}, "dmarc", Error, "pct="},
		{"external rua not authorized", func(z *dnsx.Zone) {
			setDMARC(z, "v=DMARC1; p=reject; rua=mailto:d@reports.example")
			z.AddMX("reports.example", 10, "mx.example.com")
		}, Options{}, "dmarc", Error, "has not authorized it"},
		{"external rua authorized", func(z *dnsx.Zone) {
			setDMARC(z, "v=DMARC1; p=reject; rua=mailto:d@reports.example")
			z.AddMX("reports.example", 10, "mx.example.com")
			z.AddTXT("example.com._report._dmarc.reports.example", "v=DMARC1")
		}, Options{}, "dmarc", Info, "external destination authorized"},
		{"rua domain does not exist", func(z *dnsx.Zone) { setDMARC(z, "v=DMARC1; p=reject; rua=mailto:d@nowhere.example") }, Options{},
			"dmarc", Error, "nowhere.example does not exist"},
		{"bad ruf URI", func(z *dnsx.Zone) { setDMARC(z, "v=DMARC1; p=reject; rua=mailto:d@example.com; ruf=mailto:no-at-sign") }, Options{},
			"dmarc", Error, "ruf=: mailto:no-at-sign"},

		{"no key", nil, Options{Selectors: []string{"nokey"}}, "dkim", Error, "no key record at nokey._domainkey.example.com"},
		{"1024-bit key", func(z *dnsx.Zone) { z.AddTXT("old._domainkey.example.com", rsa1024) }, Options{Seen: []string{"old"}},
			"dkim", Warning, "1024-bit RSA key: 2048 is recommended"},
		{"revoked", func(z *dnsx.Zone) { z.AddTXT("gone._domainkey.example.com", "v=DKIM1; k=rsa; p=") }, Options{Selectors: []string{"gone"}},
			"dkim", Warning, "revoked"},
		{"testing", func(z *dnsx.Zone) {
			z.AddTXT("t._domainkey.example.com", dkimtest.KeyRecord(dkimtest.Ed25519("t").Public())+"; t=y")
		}, Options{Selectors: []string{"t"}}, "dkim", Warning, "t=y"},
		{"not for email", func(z *dnsx.Zone) {
			z.AddTXT("tls._domainkey.example.com", dkimtest.KeyRecord(dkimtest.Ed25519("tls").Public())+"; s=tlsrpt")
		}, Options{Selectors: []string{"tls"}}, "dkim", Error, "not email"},
		{"bad k=", func(z *dnsx.Zone) { z.AddTXT("k._domainkey.example.com", "v=DKIM1; k=dsa; p=AAAA") }, Options{Selectors: []string{"k"}},
			"dkim", Error, "k="},
		{"no selector", nil, Options{}, "dkim", Info, "no selector to check"},

		{"no MX", func(z *dnsx.Zone) { z.Remove("example.com", dns.TypeMX) }, Options{}, "mx", Warning, "has no MX"},
		{"null MX", func(z *dnsx.Zone) { z.Remove("example.com", dns.TypeMX); z.AddMX("example.com", 0, ".") }, Options{}, "mx", Info, "null MX"},
		{"MX without address", func(z *dnsx.Zone) { z.AddMX("example.com", 20, "ghost.example.com") }, Options{}, "mx", Error, "ghost.example.com has no address"},
		{"MX without FCrDNS", func(z *dnsx.Zone) {
			z.AddMX("example.com", 20, "mx2.example.com")
			z.AddIP("mx2.example.com", netip.MustParseAddr("192.0.2.26"))
		}, Options{}, "mx", Warning, "mx2.example.com [192.0.2.26]: reverse DNS is not forward-confirmed (no PTR)"},
		{"MTA-STS and TLS-RPT", func(z *dnsx.Zone) {
			z.AddTXT("_mta-sts.example.com", "v=STSv1; id=2026")
			z.AddTXT("_smtp._tls.example.com", "v=TLSRPTv1; rua=mailto:tls@example.com")
		}, Options{}, "mx", Info, "TLS-RPT (RFC 8460) is published"},
		{"MTA-STS absent", nil, Options{}, "mx", Info, "MTA-STS (RFC 8461) is not published"},
		{"MTA-STS record without id", func(z *dnsx.Zone) { z.AddTXT("_mta-sts.example.com", "v=STSv1") }, Options{}, "mx", Error, "no id="},
		{"TLS-RPT without a usable rua", func(z *dnsx.Zone) { z.AddTXT("_smtp._tls.example.com", "v=TLSRPTv1; rua=ftp://x.example/") },
			Options{}, "mx", Error, "only mailto: and https:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := check(t, func(z *dnsx.Zone) {
				base(z)
				if c.setup != nil {
					c.setup(z)
				}
			}, c.o)
			if !has(rep, c.area, c.sev, c.want) {
				t.Errorf("no %s %s finding with %q:%s", c.area, c.sev, c.want, dump(rep))
			}
		})
	}
}

func TestEvaluationTrace(t *testing.T) {
	rep := check(t, base, Options{IP: netip.MustParseAddr("203.0.113.9"), MailFrom: "joe@example.com"}).In(i18n.EN)
	if rep.SPF.Evaluation == nil || rep.SPF.Evaluation.Result != "fail" || !strings.Contains(rep.SPF.Trace, "_spf.esp.example") {
		t.Fatalf("evaluation %+v\n%s", rep.SPF.Evaluation, rep.SPF.Trace)
	}
}

func TestLookupBudget(t *testing.T) {
	z := dnsx.NewZone()
	base(z)
	c := &Checker{Resolver: dnsx.NewFake(z), MaxLookups: 4}
	rep, err := c.Check(context.Background(), "example.com", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lookups != 4 || !has(rep, "dns", Warning, "stopped asking DNS after 4 lookups") {
		t.Fatalf("%d lookups:%s", rep.Lookups, dump(rep))
	}
	if _, err := c.Check(context.Background(), "not a domain", Options{}); err == nil {
		t.Fatal("a bad name was checked")
	}
}

func replaceSPF(z *dnsx.Zone, rec string) {
	z.Remove("example.com", dns.TypeTXT)
	z.AddTXT("example.com", rec)
}

func setDMARC(z *dnsx.Zone, rec string) {
	z.Remove("_dmarc.example.com", dns.TypeTXT)
	z.AddTXT("_dmarc.example.com", rec)
}

// TestMTASTSPolicy fetches policies from an in-process HTTPS server: an MX
// outside the policy is an error under enforce and a warning under
// testing; a policy that cannot be fetched is an error.
func TestMTASTSPolicy(t *testing.T) {
	cert, pool, err := mxtest.Cert("mta-sts.example.com")
	if err != nil {
		t.Fatal(err)
	}
	var current atomic.Pointer[string]
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		policy := *current.Load()
		if policy == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, policy)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	z := dnsx.NewZone()
	base(z)
	z.AddTXT("_mta-sts.example.com", "v=STSv1; id=1")
	z.AddIP("mta-sts.example.com", netip.MustParseAddr("127.0.0.1"))
	r := dnsx.NewFake(z)
	c := &Checker{Resolver: r, Receiver: "tester.example", STS: &mtasts.Fetcher{Resolver: r, Port: port, RootCAs: pool, AllowPrivate: true}}
	for _, tc := range []struct {
		policy string
		sev    Severity
		want   string
	}{
		{"version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 604800\n", Info, "MTA-STS policy: mode enforce"},
		{"version: STSv1\nmode: enforce\nmx: other.example.com\nmax_age: 604800\n", Error, "mx.example.com matches no mx: line"},
		{"version: STSv1\nmode: testing\nmx: *.other.example\nmax_age: 604800\n", Warning, "mx.example.com matches no mx: line"},
		{"", Error, "404"},
	} {
		current.Store(&tc.policy)
		rep, err := c.Check(context.Background(), "example.com", Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !has(rep, "mx", tc.sev, tc.want) {
			t.Errorf("policy %q: no %s finding %q in %+v", tc.policy, tc.sev, tc.want, rep.Findings)
		}
	}
}

// TestMXTLS connects to in-process MX servers: STARTTLS with a certificate
// for the MX's name passes; one for another name, or no STARTTLS, warns.
func TestMXTLS(t *testing.T) {
	good, pool, err := mxtest.Cert("mx.example.com")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := mxtest.Cert("other.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tls  *tls.Config
		sev  Severity
		want string
	}{
		{"valid", &tls.Config{Certificates: []tls.Certificate{good}}, Info, "STARTTLS, TLS 1.3, certificate valid for its name"},
		{"wrong name", &tls.Config{Certificates: []tls.Certificate{other}}, Warning, "STARTTLS with a valid certificate failed"},
		{"no STARTTLS", nil, Warning, "does not offer STARTTLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mx, err := mxtest.Start(mxtest.Options{TLS: tc.tls})
			if err != nil {
				t.Fatal(err)
			}
			defer mx.Close()
			_, port, _ := net.SplitHostPort(mx.Addr)
			if rep := checkMX(t, port, pool, nil); !has(rep, "mx", tc.sev, tc.want) {
				t.Errorf("no %s finding %q in %+v", tc.sev, tc.want, rep.Findings)
			}
		})
	}
}

// TestDANE: TLSA records validated or not by the resolver, and matched
// against the certificate the MX presents.
func TestDANE(t *testing.T) {
	good, pool, err := mxtest.Cert("mx.example.com")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(good.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	mx, err := mxtest.Start(mxtest.Options{TLS: &tls.Config{Certificates: []tls.Certificate{good}}})
	if err != nil {
		t.Fatal(err)
	}
	defer mx.Close()
	_, port, _ := net.SplitHostPort(mx.Addr)
	for _, tc := range []struct {
		name   string
		digest string
		secure bool
		sev    Severity
		want   string
	}{
		{"matching and validated", hex.EncodeToString(spki[:]), true, Info, "matches its TLSA records"},
		{"not matching", strings.Repeat("ab", 32), true, Error, "matches none of its TLSA records"},
		{"not validated", hex.EncodeToString(spki[:]), false, Warning, "did not mark them DNSSEC-validated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep := checkMX(t, port, pool, func(z *dnsx.Zone) {
				z.AddRR(&dns.TLSA{Hdr: dns.RR_Header{Name: "_25._tcp.mx.example.com.", Rrtype: dns.TypeTLSA, Class: dns.ClassINET, Ttl: 300},
					Usage: 3, Selector: 1, MatchingType: 1, Certificate: tc.digest})
				if tc.secure {
					z.Secure("_25._tcp.mx.example.com")
				}
			})
			if !has(rep, "mx", tc.sev, tc.want) {
				t.Errorf("no %s finding %q in %+v", tc.sev, tc.want, rep.Findings)
			}
		})
	}
}

// checkMX checks example.com, whose one MX is the in-process server on
// port, with the STARTTLS check on; setup adds to the zone.
func checkMX(t *testing.T, port string, pool *x509.CertPool, setup func(*dnsx.Zone)) *Report {
	t.Helper()
	z := dnsx.NewZone()
	z.AddMX("example.com", 10, "mx.example.com")
	z.AddIP("mx.example.com", netip.MustParseAddr("127.0.0.1"))
	if setup != nil {
		setup(z)
	}
	c := &Checker{Resolver: dnsx.NewFake(z), Receiver: "tester.example",
		MXTLS: &MXTLS{Hostname: "tester.example", Probe: outbound.ProbeTLS, Port: port, RootCAs: pool, AllowPrivate: true}}
	rep, err := c.Check(context.Background(), "example.com", Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestTesterFailure: with testerd's resolver down, the check says the
// failure is testerd's and proposes nothing to the domain.
func TestTesterFailure(t *testing.T) {
	addr, err := dnsx.DeadAddr()
	if err != nil {
		t.Fatal(err)
	}
	r, err := dnsx.NewClient(addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := (&Checker{Resolver: r, Receiver: "tester.example"}).Check(context.Background(), "example.com", Options{})
	if err != nil {
		t.Fatal(err)
	}
	said := rep.In(i18n.EN)
	if !rep.TesterFailure || said.Findings[0].Area != "dns" || !strings.Contains(said.Findings[0].Text, "about testerd's DNS, not your domain") {
		t.Fatalf("first finding %+v", said.Findings[0])
	}
	for _, f := range said.Findings {
		if strings.Contains(f.FixText, "name servers") {
			t.Errorf("%s: blames the domain's name servers: %s", f.Text, f.FixText)
		}
	}
}
