package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// loadDomain is the sender domain of load probes; the load tool serves its
// DNS records itself.
const loadDomain = "load.test"

// runLoad is "testerd load": N connections send M DKIM-signed probes to a
// running testerd, then it reports accepted probes per second and the time
// from the end of DATA to the stored verdict, from the server's own
// timestamps (received and judged).
func runLoad(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("testerd load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	smtpAddr := fs.String("smtp", "127.0.0.1:2525", "testerd's SMTP address")
	httpAddr := fs.String("http", "127.0.0.1:8080", "testerd's HTTP address, to read the verdicts")
	dnsAddr := fs.String("dns", "127.0.0.1:5353", "address for the load tool's DNS server; start testerd with --resolver set to it")
	rcpt := fs.String("rcpt", "check@localhost", "recipient of the probes")
	conns := fs.Int("conns", 10, "concurrent SMTP connections")
	probes := fs.Int("probes", 1000, "probes to send in all")
	useTLS := fs.Bool("starttls", false, "use STARTTLS")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for the verdicts")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *conns < 1 || *probes < 1 {
		fmt.Fprintln(stderr, "testerd load: --conns and --probes must be at least 1")
		return 2
	}

	key := dkimtest.RSA(2048)
	z := dnsx.NewZone()
	z.AddTXT(loadDomain, "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all")
	z.AddTXT("_dmarc."+loadDomain, "v=DMARC1; p=reject; rua=mailto:dmarc@"+loadDomain)
	z.AddTXT("load._domainkey."+loadDomain, dkimtest.KeyRecord(key.Public()))
	dnsSrv, err := dnsx.StartServerAt(z, *dnsAddr)
	if err != nil {
		fmt.Fprintf(stderr, "testerd load: DNS server: %v\n", err)
		return 1
	}
	defer dnsSrv.Close()
	fmt.Fprintf(stdout, "DNS for %s served at %s (testerd must use --resolver %s)\n", loadDomain, dnsSrv.Addr(), dnsSrv.Addr())

	body := strings.Repeat("Load test body line, to make the message a realistic size.\r\n", 60)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var next, failed atomic.Int64
	var mu sync.Mutex
	var ids []string
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < *conns; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var cl *smtp.Client
			for ctx.Err() == nil {
				n := next.Add(1)
				if n > int64(*probes) {
					break
				}
				if cl == nil {
					var err error
					if *useTLS {
						cl, err = smtp.DialStartTLS(*smtpAddr, &tls.Config{InsecureSkipVerify: true})
					} else {
						cl, err = smtp.Dial(*smtpAddr)
					}
					if err == nil {
						err = cl.Hello("mail." + loadDomain)
					}
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						cl = nil
						continue
					}
				}
				id, err := sendLoadProbe(cl, *rcpt, key, n, body)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					cl.Close()
					cl = nil
					continue
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
			if cl != nil {
				cl.Quit()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Fprintf(stdout, "sent %d probes over %d connections in %s: %d accepted (%.0f/s), %d failed\n",
		len(ids)+int(failed.Load()), *conns, elapsed.Round(time.Millisecond), len(ids), float64(len(ids))/elapsed.Seconds(), failed.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(stdout, "first error: %s\n", e)
	}

	lat, missing := verdictLatencies(*httpAddr, ids, *wait)
	if len(lat) == 0 {
		fmt.Fprintf(stdout, "no verdicts read back (%d missing)\n", missing)
		return 1
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(stdout, "end of DATA → stored verdict, %d verdicts: p50 %s, p99 %s, max %s; %d missing\n",
		len(lat), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), missing)
	if missing > 0 || failed.Load() > 0 {
		return 1
	}
	return 0
}

func sendLoadProbe(cl *smtp.Client, rcpt string, key crypto.Signer, n int64, body string) (string, error) {
	msg := fmt.Sprintf("From: Load <load@%s>\r\nTo: %s\r\nSubject: load probe %d\r\nMessage-ID: <load-%d-%d@%s>\r\n\r\n%s",
		loadDomain, rcpt, n, n, time.Now().UnixNano(), loadDomain, body)
	sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: loadDomain, Selector: "load", Signer: key})
	if err != nil {
		return "", err
	}
	if err := cl.Mail("bounce@"+loadDomain, nil); err != nil {
		return "", err
	}
	if err := cl.Rcpt(rcpt, nil); err != nil {
		return "", err
	}
	w, err := cl.Data()
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, sig+msg); err != nil {
		return "", err
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", err
	}
	_, id, ok := strings.Cut(resp.StatusText, "stored as ")
	if !ok || id == "" {
		return "", fmt.Errorf("unexpected DATA reply %q", resp.StatusText)
	}
	return strings.Fields(id)[0], nil
}

// verdictLatencies reads each probe back from the API and returns judged
// minus received, waiting up to wait for verdicts still pending.
func verdictLatencies(httpAddr string, ids []string, wait time.Duration) ([]time.Duration, int) {
	deadline := time.Now().Add(wait)
	var lat []time.Duration
	pending := ids
	for len(pending) > 0 && time.Now().Before(deadline) {
		var still []string
		for _, id := range pending {
			var r struct {
				Received time.Time `json:"received"`
				Judged   time.Time `json:"judged"`
			}
			resp, err := http.Get("http://" + httpAddr + "/api/results/" + id)
			if err == nil {
				err = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
			}
			if err != nil || r.Judged.IsZero() {
				still = append(still, id)
				continue
			}
			lat = append(lat, r.Judged.Sub(r.Received))
		}
		pending = still
		if len(pending) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return lat, len(pending)
}
