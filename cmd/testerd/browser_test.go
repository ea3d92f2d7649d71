package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// One headless Chromium serves every browser test, each in a browser
// context of its own: starting the browser is most of a browser test's
// cost.
var shared struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	err    error
}

// stopBrowser ends the shared browser (TestMain, after the tests).
func stopBrowser() {
	if shared.cancel != nil {
		shared.cancel()
	}
}

// browser returns a tab of the shared headless Chromium, or skips the test
// when no Chromium is installed (fails instead with
// TESTERD_REQUIRE_BROWSER=1).
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("TESTERD_REQUIRE_BROWSER") == "1" {
			t.Fatal("no Chromium found and TESTERD_REQUIRE_BROWSER=1 (apt-get install chromium)")
		}
		t.Skip("no Chromium found; set TESTERD_REQUIRE_BROWSER=1 to make this a failure")
	}
	shared.once.Do(func() {
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU)
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelBrowser := chromedp.NewContext(actx)
		shared.ctx, shared.cancel = bctx, func() { cancelBrowser(); cancelAlloc() }
		// The first action starts the browser; it must not carry a
		// timeout, or the timeout would stop the browser (see chromedp.Run).
		shared.err = chromedp.Do(bctx, chromedp.Navigate("about:blank"))
	})
	if shared.err != nil {
		t.Fatalf("starting %s: %v", path, shared.err)
	}
	// A browser context of its own: no cookie (the language switch's, a
	// login) leaks from one test into another.
	tab, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	return tab
}

// TestBrowserEscaping sends a probe whose Subject and From carry HTML and
// script, then loads /spf and /r/{id} in headless Chromium: nothing runs,
// no element is injected, and the payload shows as text.
func TestBrowserEscaping(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	smtpAddr, httpAddr := startServe(t)
	subject := `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`
	from := `"<b onmouseover=window.pwned=3>Joe</b><script>window.pwned=4</script>" <joe@abc.it>`
	if err := sendProbe(smtpAddr, "spf@"+probeDomain, probeMessage(t, subject, from), false); err != nil {
		t.Fatal(err)
	}
	l := waitJudged(t, httpAddr, "spf", 1)
	id := l.Results[0].ID

	type page struct {
		Pwned    bool
		Scripts  int
		Handlers int
		Text     string
		Title    string
	}
	load := func(path string) page {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+httpAddr+path), chromedp.WaitReady("body")); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var p page
		var err error
		check := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		p.Pwned, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.pwned !== undefined`))
		var e error
		// testerd's own script (the copy buttons) is the only one a page
		// may hold.
		p.Scripts, e = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('script:not([src="/static/copy.js"])').length`))
		check(e)
		// The folded technical detail is opened, so its text counts too.
		_, e = chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { document.querySelectorAll('details').forEach(d => d.open = true); return true })()`))
		check(e)
		p.Handlers, e = chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[onerror],[onmouseover],img,b').length`))
		check(e)
		p.Text, e = chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		check(e)
		p.Title, e = chromedp.Run(ctx, chromedp.Title())
		check(e)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return p
	}

	p := load("/spf")
	if p.Pwned || p.Scripts != 0 || p.Handlers != 0 {
		t.Errorf("/spf: script ran or elements were injected: %+v", p)
	}
	if !strings.Contains(p.Text, "|OK| spf-pass") || !strings.Contains(p.Text, "j***@abc.it") {
		t.Errorf("/spf text: %q", p.Text)
	}

	p = load(full(t, httpAddr, id))
	if p.Pwned || p.Scripts != 0 || p.Handlers != 0 {
		t.Errorf("/r/%s: script ran or elements were injected: %+v", id, p)
	}
	for _, want := range []string{subject, "<script>window.pwned=4</script>", "|OK| spf-pass"} {
		if !strings.Contains(p.Text, want) {
			t.Errorf("/r/%s does not show %q as text", id, want)
		}
	}
}

// TestBrowserDomainForm fills the home page's domain form in Chromium,
// submits it, and reads the checker's page for a domain whose records
// carry HTML and script: nothing runs, and the findings show as text.
func TestBrowserDomainForm(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	_, httpAddr := startServe(t)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+httpAddr+"/"),
		chromedp.WaitVisible(`#domain-form input[name=name]`),
		chromedp.SendKeys(`#domain-form input[name=name]`, "evil.example"),
		chromedp.Submit(`#domain-form`),
		chromedp.WaitVisible(`#findings`),
	)
	if err != nil {
		t.Fatal(err)
	}
	url, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + location.search`))
	if err != nil || url != "/domain?name=evil.example&selectors=&ip=&mail_from=" {
		t.Errorf("the form went to %q (%v)", url, err)
	}
	pwned, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.pwned !== undefined`))
	if err != nil || pwned {
		t.Fatalf("script ran: %v %v", pwned, err)
	}
	injected, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('script,img,[onerror]').length`))
	if err != nil || injected != 0 {
		t.Fatalf("%d elements injected (%v)", injected, err)
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"evil.example", "errors", "<script>window.pwned=1</script>", "does not parse", "DMARC"} {
		if !strings.Contains(text, want) {
			t.Errorf("the result page does not show %q:\n%s", want, text)
		}
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#findings tr').length`))
	if err != nil || rows < 3 {
		t.Errorf("%d rows in the findings table (%v)", rows, err)
	}
}
