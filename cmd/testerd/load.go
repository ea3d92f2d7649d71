package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// loadDomain is the sender domain of load probes; the load tool serves its
// DNS records itself.
const loadDomain = "load.test"

// runLoad is "testerd load": N connections send M probes to a running
// testerd, then it reports accepted probes per second, the server's CPU
// per probe (--watch PID) and the time from the end of DATA to the stored
// verdict, from the server's own timestamps (received and judged).
//
// The probes are either the .eml files of --dir (such as the pre-signed
// corpus of ../shared/bench, whose zone the server's resolver must serve),
// or --corpus messages DKIM-signed once before the clock starts, with the
// load tool's own DNS server for their records: signing is never timed.
func runLoad(cl *cli, args []string) int {
	stdout, stderr := cl.stdout, cl.stderr
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
	dir := fs.String("dir", "", "send the .eml files of this directory (pre-signed; the server's resolver must serve their records) instead of the tool's own probes")
	corpus := fs.Int("corpus", 200, "without --dir: distinct probes to sign before the clock starts")
	mailFrom := fs.String("mail-from", "", "MAIL FROM (default bounce@"+loadDomain+", or someone@bench.test with --dir)")
	helo := fs.String("helo", "", "EHLO name (default mail."+loadDomain+", or helo.bench.test with --dir)")
	watch := fs.Int("watch", 0, "the server's pid: report its CPU time per probe and its memory")
	size := fs.Int("size", 4096, "without --dir: the size of each probe in bytes (its body padded to it)")
	sigs := fs.Int("signatures", 1, "without --dir: DKIM signatures on each probe (1 to 10, each with its own RSA-2048 key)")
	if code, ok := parseFlags(fs, args, stdout, stderr); !ok {
		return code
	}
	if *conns < 1 || *probes < 1 || *corpus < 1 {
		fmt.Fprintln(stderr, "testerd load: --conns, --probes and --corpus must be at least 1")
		return 2
	}
	if *sigs < 1 || *sigs > 10 || *size < 512 || *size > 64<<20 {
		fmt.Fprintln(stderr, "testerd load: --signatures must be 1 to 10, --size 512 bytes to 64 MiB")
		return 2
	}

	var msgs [][]byte
	if *dir != "" {
		var err error
		if msgs, err = readCorpus(*dir); err != nil {
			fmt.Fprintf(stderr, "testerd load: %v\n", err)
			return 1
		}
		setDefault(mailFrom, "someone@bench.test")
		setDefault(helo, "helo.bench.test")
	} else {
		z := dnsx.NewZone()
		z.AddTXT(loadDomain, "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all")
		z.AddTXT("_dmarc."+loadDomain, "v=DMARC1; p=reject; rua=mailto:dmarc@"+loadDomain)
		var keys []crypto.Signer
		for i := range *sigs {
			key := dkimtest.RSA(2048)
			keys = append(keys, key)
			z.AddTXT(loadSelector(i)+"._domainkey."+loadDomain, dkimtest.KeyRecord(key.Public()))
		}
		dnsSrv, err := dnsx.StartServerAt(z, *dnsAddr)
		if err != nil {
			fmt.Fprintf(stderr, "testerd load: DNS server: %v\n", err)
			return 1
		}
		defer dnsSrv.Close()
		fmt.Fprintf(stdout, "DNS for %s served at %s (testerd must use --resolver %s)\n", loadDomain, dnsSrv.Addr(), dnsSrv.Addr())
		const line = "Load test body line, to make the message a realistic size.\r\n"
		body := strings.Repeat(line, max(1, (*size-400*(*sigs)-200)/len(line)))
		for i := range min(*corpus, *probes) {
			m, err := loadProbe(*rcpt, keys, i, body)
			if err != nil {
				fmt.Fprintf(stderr, "testerd load: %v\n", err)
				return 1
			}
			msgs = append(msgs, m)
		}
		setDefault(mailFrom, "bounce@"+loadDomain)
		setDefault(helo, "mail."+loadDomain)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var next, failed atomic.Int64
	var mu sync.Mutex
	var ids []string
	var firstErr atomic.Value
	cpu0 := cpuTicks(*watch)
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
						err = cl.Hello(*helo)
					}
					if err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						cl = nil
						continue
					}
				}
				id, err := sendLoadProbe(cl, *mailFrom, *rcpt, msgs[(n-1)%int64(len(msgs))])
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
	// The server is done when its CPU time stops growing: judging may
	// run on after the last 250 (large messages).
	cpu1 := cpuTicks(*watch)
	for end := time.Now().Add(*wait); *watch > 0 && time.Now().Before(end); {
		time.Sleep(300 * time.Millisecond)
		c := cpuTicks(*watch)
		if c-cpu1 <= 1 {
			break
		}
		cpu1 = c
	}
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
	fmt.Fprintf(stdout, "end of DATA → stored verdict, %d verdicts: p50 %s, p90 %s, p99 %s, max %s; %d missing\n",
		len(lat), pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond), missing)
	if *watch > 0 && len(ids) > 0 && cpu1 >= cpu0 {
		// The server's CPU over the sending phase, which includes judging
		// what it accepted, before this tool reads the verdicts back.
		fmt.Fprintf(stdout, "server CPU: %.3f ms per accepted probe (pid %d, %s over %s)\n",
			float64(cpu1-cpu0)/float64(len(ids))*1000/clockTicks, *watch, time.Duration(float64(cpu1-cpu0)/clockTicks*float64(time.Second)).Round(time.Millisecond), elapsed.Round(time.Millisecond))
		if rss, peak := memory(*watch); peak > 0 {
			fmt.Fprintf(stdout, "server memory: %d MB resident now, %d MB at its peak\n", rss>>10, peak>>10)
		}
	}
	if missing > 0 || failed.Load() > 0 {
		return 1
	}
	return 0
}

// loadProbe is one probe of the tool's own, DKIM-signed with each key.
func loadProbe(rcpt string, keys []crypto.Signer, n int, body string) ([]byte, error) {
	msg := fmt.Sprintf("From: Load <load@%s>\r\nTo: %s\r\nSubject: load probe %d\r\nMessage-ID: <load-%d-%d@%s>\r\n\r\n%s",
		loadDomain, rcpt, n, n, time.Now().UnixNano(), loadDomain, body)
	for i, key := range keys {
		sig, err := dkimtest.Sign([]byte(msg), dkimtest.Options{Domain: loadDomain, Selector: loadSelector(i), Signer: key})
		if err != nil {
			return nil, err
		}
		msg = sig + msg
	}
	return []byte(msg), nil
}

// loadSelector is the DKIM selector of the i-th load key.
func loadSelector(i int) string {
	if i == 0 {
		return "load"
	}
	return "load" + strconv.Itoa(i+1)
}

// memory is a process's resident memory now and at its peak, in KB,
// from /proc.
func memory(pid int) (rss, peak int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(l, ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			peak = n
		}
	}
	return rss, peak
}

// MaxCorpus bounds the files --dir reads.
const MaxCorpus = 100000

// readCorpus reads the .eml files of dir, with CRLF line ends.
func readCorpus(dir string) ([][]byte, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("--dir %s: no .eml files (%v)", dir, err)
	}
	if len(files) > MaxCorpus {
		files = files[:MaxCorpus]
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		b, _ = message.FileLineEnds(b)
		out = append(out, b)
	}
	return out, nil
}

func setDefault(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times.
const clockTicks = 100

// cpuTicks is the user and system time of a process, from /proc.
func cpuTicks(pid int) int64 {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}

func sendLoadProbe(cl *smtp.Client, mailFrom, rcpt string, msg []byte) (string, error) {
	if err := cl.Mail(mailFrom, &smtp.MailOptions{Size: int64(len(msg))}); err != nil {
		return "", err
	}
	if err := cl.Rcpt(rcpt, nil); err != nil {
		return "", err
	}
	w, err := cl.Data()
	if err != nil {
		return "", err
	}
	if _, err := w.Write(msg); err != nil {
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
