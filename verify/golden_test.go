package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/explain"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/requirements"
	"github.com/testerd/testerd/verify/verifytest"
)

var (
	update = flag.Bool("update", false, "rewrite testdata/*.want from the current verdicts")
	show   = flag.Bool("show", false, "log each golden verdict as testerd check prints it")
)

// goldenNow is the clock of every golden case.
var goldenNow = verifytest.Now

// TestGolden judges every testdata/<case>.eml against testdata/<case>.dns
// (verifytest.Load reads them; its doc has the directives) and compares
// the stable, reviewable parts of the verdict (goldenText: tags, results
// and their reasons, the requirements and the providers) with
// testdata/<case>.want, as chasquid's small .result files do: a change of
// wording elsewhere in the verdict rewrites no golden file.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	expects := map[string]map[string]string{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		t.Run(name, func(t *testing.T) {
			p, z, expect := verifytest.Load(t, strings.TrimSuffix(file, ".eml"))
			expects[name] = expect
			j := &verify.Judge{Resolver: dnsx.NewFake(z), Receiver: "tester.example", Now: func() time.Time { return goldenNow }}
			v := j.Judge(context.Background(), p)
			checkExpect(t, v, expects[name])
			if *show {
				var text strings.Builder
				v.WriteText(&text, "tester.example", i18n.EN)
				t.Log("\n" + text.String())
			}
			if _, err := json.Marshal(v); err != nil {
				t.Fatal(err)
			}
			got := []byte(goldenText(v))
			wantFile := strings.TrimSuffix(file, ".eml") + ".want"
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
				gotFile := strings.TrimSuffix(file, ".eml") + ".got"
				os.WriteFile(gotFile, got, 0o644)
				t.Errorf("verdict differs from %s (%s); tags %q; diff -u %s %s, or rerun with -update and review it", wantFile, firstDiff(want, got), v.Tags, wantFile, gotFile)
			}
		})
	}
}

// goldenText is what a golden file holds of a verdict: one fact a line,
// the parts a reviewer reads in a diff.
func goldenText(v *verify.Verdict) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("tags: %s", strings.Join(v.Tags, " "))
	for _, k := range kind.Testers {
		line("%s@: %s", k, strings.Join(v.AllTags[k], " "))
	}
	say := i18n.EN.Say
	if !v.TesterFailure.IsZero() {
		line("tester failure: %s", say(v.TesterFailure))
	}
	if e := v.SPF.Effective(); e != nil {
		line("spf %s %s: %s (matched %q): %s", e.Identity, e.Domain, e.Result, e.Matched, say(e.Reason))
	}
	for _, sig := range v.DKIM.Signatures {
		line("dkim #%d d=%s s=%s a=%s: %s: %s", sig.Index, sig.Domain, sig.Selector, sig.Algorithm, sig.Result, say(sig.Reason))
	}
	d := v.DMARC
	line("dmarc: %s: %s", d.Result, say(d.Reason))
	if disc := d.Discovery; disc != nil && disc.Record != nil {
		line("dmarc record at _dmarc.%s: %s", disc.Domain, disc.Record.Raw)
	}
	line("dmarc alignment: spf %v, dkim %v; org domain %s", d.SPFAligned, d.DKIMAligned, d.OrgDomain)
	line("dmarc policy: %s=%s, disposition %s: %s", d.PolicyTag, d.Policy, d.Disposition, say(d.PolicyNote))
	if !d.AuthorNote.IsZero() {
		line("dmarc authors: %s", say(d.AuthorNote))
	}
	if d.RFC7489 != nil {
		line("rfc7489: %s", say(d.RFC7489.Note))
	}
	if r := v.Requirements; r != nil {
		line("requirements: ready %v, %d blocking; first error %q", r.Ready, r.Blocking, r.FirstError)
		for _, it := range r.Items {
			extra := ""
			if it.Blocking {
				extra = " blocking"
			}
			if it.Code != "" {
				extra += " " + it.Code
			}
			if !it.Problem.IsZero() {
				extra += ": " + i18n.EN.Say(it.Problem)
			}
			line("  %s: %s%s", it.ID, it.Status, extra)
		}
		for _, p := range r.Providers {
			line("  %s: %s %v %q", p.Provider, p.Outcome, p.Because, p.Reply)
		}
	}
	d2 := explain.Diagnose(v, explain.Options{TesterDomain: "tester.example"})
	line("headline: %s", d2.Headline)
	line("score: %s", i18n.EN.Decimal(d2.Score.Value))
	for i, st := range d2.Steps {
		line("step %d (%v, +%s): %s", i+1, st.Fixes, i18n.EN.Decimal(st.Points), st.Text)
		if st.Record != nil {
			line("  %s", st.Record.Zone())
		}
	}
	line("authentication-results: %s", v.AuthenticationResults)
	return b.String()
}

// checkExpect compares the report with an X-Golden-Expect directive.
// goldenProviders are the provider keys of X-Golden-Expect.
var goldenProviders = map[string]string{"gmail": "Gmail", "yahoo": "Yahoo/AOL", "outlook": "Outlook.com", "icloud": "iCloud Mail",
	"orange": "Orange", "laposte": "La Poste", "gmx": "GMX/WEB.DE", "ionos": "IONOS"}

// documents reports whether the provider documents a reply for what its
// rules refuse.
func documents(name string) bool {
	for _, p := range requirements.Providers {
		if p.Name == name {
			return p.Name == "Gmail" || p.Refusal != ""
		}
	}
	return false
}

func checkExpect(t *testing.T, v *verify.Verdict, expect map[string]string) {
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
				t.Errorf("ready %s, want %s (%d blocking)", got, want, r.Blocking)
			}
		case "gmail", "yahoo", "outlook", "icloud", "orange", "laposte", "gmx", "ionos":
			name := goldenProviders[k]
			found := false
			for _, p := range r.Providers {
				if p.Provider == name {
					found = true
					accepted := p.Outcome == requirements.Accept
					if got := map[bool]string{true: "yes", false: "no"}[accepted]; got != want {
						t.Errorf("%s: %s, want accepted %s (because %v, reply %q)", name, p.Outcome, want, p.Because, p.Reply)
					}
					if (p.Outcome == requirements.Refuse || p.Outcome == requirements.Defer) && p.Reply == "" && documents(name) {
						t.Errorf("%s refuses without a reply", name)
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

// firstDiff says where two texts first differ, line by line.
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
