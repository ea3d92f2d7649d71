package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserPages loads every page in headless Chromium, in English and
// Italian (chosen by Accept-Language), at a phone's 390 px and a desktop's
// 1280 px, and in dark mode: no page scrolls sideways, each has its own
// title and the language's words, encoded Subjects and display names show
// decoded, and the language switch is remembered.
func TestBrowserPages(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	c := testConfig(t)
	const token = "browser-admin-token"
	c.Resolver, c.AdminToken, c.Out.Mode = probeDNS(t), token, "off"
	smtpAddr, httpAddr := startServeWith(t, c)
	base := "http://" + httpAddr

	// "Prova è già — テスト" in UTF-8 base64, and "José" in ISO-8859-1.
	subject := "=?UTF-8?B?UHJvdmEgw6ggZ2nDoCDigJQg44OG44K544OI?="
	from := "=?ISO-8859-1?Q?Jos=E9?= <joe@abc.it>"
	long := strings.Repeat("x", 300) // one token wider than any phone
	for _, rcpt := range []string{"spf@", "dkim+it+team@", "check@"} {
		subj := subject
		if rcpt == "check@" {
			subj = "Long " + long
		}
		if err := sendProbe(smtpAddr, rcpt+probeDomain, probeMessage(t, subj, from), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := sendProbe(smtpAddr, "rua@"+probeDomain, reportMail(aggregateReport("b-1", time.Now().UTC().Truncate(24*time.Hour))), false); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, kind := range []string{"spf", "dkim", "check"} {
		ids[kind] = waitJudged(t, httpAddr, kind, 1).Results[0].ID
	}
	pages := []string{"/", "/spf", "/dkim", "/dkim?tag=team", "/check", "/r/" + ids["spf"], "/r/" + ids["dkim"], "/r/" + ids["check"],
		"/domain?name=abc.it", "/login", "/reports", "/reports/abc.it"}

	type view struct {
		Lang, Title, Text, Background string
		ScrollWidth, Width            int
	}
	load := func(ctx context.Context, url string) view {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady("main")); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		var v view
		var errs []error
		str := func(dst *string, js string) {
			var err error
			*dst, err = chromedp.Run(ctx, chromedp.Evaluate[string](js))
			errs = append(errs, err)
		}
		num := func(dst *int, js string) {
			var err error
			*dst, err = chromedp.Run(ctx, chromedp.Evaluate[int](js))
			errs = append(errs, err)
		}
		// The folded detail is opened: its text counts, and must fit too.
		var opened string
		str(&opened, `(() => { document.querySelectorAll('details').forEach(d => d.open = true); return "" })()`)
		str(&v.Lang, `document.documentElement.lang`)
		str(&v.Title, `document.title`)
		str(&v.Text, `document.body.innerText`)
		str(&v.Background, `getComputedStyle(document.body).backgroundColor`)
		num(&v.ScrollWidth, `document.documentElement.scrollWidth`)
		num(&v.Width, `window.innerWidth`)
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		return v
	}
	words := map[string][]string{
		"en": {"Full check", "Domain check"},
		"it": {"Verifica completa", "Verifica dominio"},
	}
	headers := network.Headers{"Authorization": "Bearer " + token}
	titles := map[string]string{} // lang and title → path
	path := func(p string) string { return strings.SplitN(p, "?", 2)[0] }
	for _, lang := range []string{"en", "it"} {
		for _, width := range []int64{390, 1280} {
			for _, dark := range []bool{false, true} {
				if dark && width == 1280 {
					continue
				}
				headers["Accept-Language"] = map[string]string{"en": "en-US,en;q=0.9", "it": "it-IT,it;q=0.9"}[lang]
				scheme := "light"
				if dark {
					scheme = "dark"
				}
				setHeaders(t, ctx, headers)
				_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
				if err == nil {
					err = chromedp.Do(ctx, chromedp.EmulateViewport(width, 844))
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range pages {
					name := fmt.Sprintf("%s %s %dpx %s", p, lang, width, scheme)
					v := load(ctx, base+p)
					shot(t, ctx, name)
					if v.ScrollWidth > v.Width {
						t.Errorf("%s scrolls sideways: %d px wide in a %d px window", name, v.ScrollWidth, v.Width)
					}
					if v.Lang != lang {
						t.Errorf("%s: <html lang=%q>", name, v.Lang)
					}
					for _, w := range words[lang] {
						if !strings.Contains(v.Text, w) {
							t.Errorf("%s lacks %q", name, w)
						}
					}
					if !strings.HasSuffix(v.Title, " · testerd") || len(v.Title) < 15 {
						t.Errorf("%s: title %q", name, v.Title)
					}
					if other, ok := titles[lang+" "+v.Title]; ok && other != path(p) {
						t.Errorf("%s and %s share the title %q", p, other, v.Title)
					}
					titles[lang+" "+v.Title] = path(p)
					dark := v.Background == "rgb(21, 23, 26)"
					if dark != (scheme == "dark") {
						t.Errorf("%s: background %s", name, v.Background)
					}
				}
			}
		}
	}

	// Decoded Subject and display name, in the list and on the page.
	headers["Accept-Language"] = "en"
	setHeaders(t, ctx, headers)
	if v := load(ctx, base+"/spf"); !strings.Contains(v.Text, "Prova è già — テスト") || strings.Contains(v.Text, "=?UTF-8?") {
		t.Errorf("/spf does not show the Subject decoded:\n%s", v.Text)
	}
	load(ctx, base+"/r/"+ids["spf"])
	subj, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('subject').innerText`))
	if err != nil || subj != "Prova è già — テスト" {
		t.Errorf("the result page shows the Subject as %q (%v)", subj, err)
	}
	if v := load(ctx, base+"/r/"+ids["spf"]); !strings.Contains(v.Text, "José <joe@abc.it>") {
		t.Errorf("the From display name is not decoded:\n%s", v.Text)
	}
	// The summary in Italian, and the +tag filter.
	if v := load(ctx, base+"/r/"+ids["spf"]+"?lang=it"); !strings.Contains(v.Text, "Punteggio: 10 su 10") || !strings.Contains(v.Text, "SPF superato") {
		t.Errorf("the Italian summary is missing:\n%s", v.Text)
	}
	if v := load(ctx, base+"/dkim?tag=team"); !strings.Contains(v.Text, "Solo le prove inviate a dkim+team@") {
		t.Errorf("the tag filter is not shown (the ?lang=it choice must be remembered):\n%s", v.Text)
	}
	if v := load(ctx, base+"/dkim?tag=nobody&lang=en"); strings.Contains(v.Text, "|OK|") {
		t.Errorf("the tag filter lets other probes through:\n%s", v.Text)
	}
	// Clicking the switch.
	err = chromedp.Do(ctx, chromedp.Navigate(base+"/?lang=en"), chromedp.WaitReady("main"),
		chromedp.Click(`nav .langs a[lang=it]`), chromedp.WaitReady(`html[lang=it]`))
	lang, err2 := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
	if err = errors.Join(err, err2); err != nil || lang != "it" {
		t.Errorf("the switch: lang %q, %v", lang, err)
	}
}

// setHeaders makes the browser send headers with every request.
func setHeaders(t *testing.T, ctx context.Context, h network.Headers) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h}); err != nil {
		t.Fatal(err)
	}
}

// shot saves a PNG of the page when TESTERD_SCREENSHOTS names a folder, so
// a person can look at what the test saw.
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("TESTERD_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	file := strings.Map(func(r rune) rune {
		if r == '/' || r == '?' || r == ' ' || r == '=' {
			return '_'
		}
		return r
	}, name)
	os.WriteFile(filepath.Join(dir, file+".png"), png, 0o644)
}

// TestBrowserPhoneHeight: the check@ page of an unauthenticated probe
// shows the verdict, the score, the providers and the steps within four
// phone screens (390 × 844) before the folded technical detail, in both
// languages.
func TestBrowserPhoneHeight(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	c := testConfig(t)
	c.Resolver, c.Out.Mode = probeDNS(t), "off"
	smtpAddr, httpAddr := startServeWith(t, c)
	// Unsigned, from a domain whose SPF does not list the sender, sent
	// without TLS.
	msg := "From: Anna <anna@unlisted.example>\r\nTo: check@" + probeDomain + "\r\nSubject: Prenotazioni\r\nDate: " +
		time.Now().UTC().Format(time.RFC1123Z) + "\r\nMessage-ID: <p1@unlisted.example>\r\n\r\nCiao.\r\n"
	if err := sendProbe(smtpAddr, "check@"+probeDomain, msg, false); err != nil {
		t.Fatal(err)
	}
	id := waitJudged(t, httpAddr, "check", 1).Results[0].ID
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "it"} {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if err := chromedp.Do(ctx, chromedp.Navigate("http://"+httpAddr+full(t, httpAddr, id)+"&lang="+lang), chromedp.WaitReady("#detail")); err != nil {
			cancel()
			t.Fatal(err)
		}
		top, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById('detail').getBoundingClientRect().top + window.scrollY`))
		steps, err2 := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#steps li').length`))
		total, err3 := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollHeight`))
		shot(t, ctx, "phone-height "+lang)
		cancel()
		if err := errors.Join(err, err2, err3); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: the folded detail starts at %.0f px (%.1f screens), the page is %.0f px, %d steps", lang, top, top/844, total, steps)
		if top > 4*844 || steps < 3 {
			t.Errorf("%s: the detail starts at %.0f px, over four phone screens (%d steps)", lang, top, steps)
		}
	}
}
