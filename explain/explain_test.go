package explain

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/requirements"
	"github.com/testerd/testerd/verify/verifytest"
)

var show = flag.Bool("show", false, "log each diagnosis of TestDiagnoses in both languages")

// golden judges one of verify's golden cases, and gives its verdict back
// as the store does (through JSON).
func golden(t *testing.T, name string) *verify.Verdict {
	t.Helper()
	b, err := json.Marshal(verifytest.Judge(t, name))
	if err != nil {
		t.Fatal(err)
	}
	v := &verify.Verdict{}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
	return v
}

func text(d *Diagnosis) string {
	var b strings.Builder
	d.WriteText(&b)
	return b.String()
}

func TestDiagnoses(t *testing.T) {
	opt := Options{TesterDomain: "tester.example"}
	for _, tt := range []struct {
		name, kind string
		status     Status
		want       []string // in the English text
		wantIT     []string // in the Italian text
	}{
		{"req-all-pass", "check", OK, []string{"would accept this message", "Score: 10 out of 10"}, []string{"accetterebbero questo messaggio", "Punteggio: 10 su 10"}},
		{"row5-softfail-unsigned", "spf", Bad, []string{"SPF softfail: the server that sent this message (203.0.113.9)", "ip4:192.0.2.0/24 ip4:203.0.113.9 ~all", "would refuse this message"},
			[]string{"SPF softfail: il server", "Autorizza 203.0.113.9 nel record SPF", "rifiuterebbero"}},
		{"dkim-tampered-diff", "dkim", Bad, []string{"the body of the message changed after it was signed", "lines longer than 990 characters"},
			[]string{"il corpo del messaggio è cambiato dopo la firma", "righe più lunghe di 990 caratteri"}},
		// Orange asks every message for DMARC; the others only in bulk.
		{"req-dmarc-missing", "check", Bad, []string{"no DMARC record applies to it, so DMARC cannot pass", `_dmarc.abc.it. IN TXT "v=DMARC1; p=none; rua=mailto:rua@tester.example"`, "would refuse it too", "421-4.7.40"},
			[]string{"nessun record DMARC si applica", "report a questo tester (rua@tester.example)"}},
		// spf@ gets the DMARC step when no record applies.
		{"req-dmarc-missing", "spf", Bad, []string{`_dmarc.abc.it. IN TXT "v=DMARC1; p=none; rua=mailto:rua@tester.example"`, "send one to check@"}, nil},
		{"spf-permerror", "spf", Bad, []string{"SPF permerror", "cannot be evaluated", "Orange and La Poste would refuse"}, []string{"SPF permerror"}},
		// Unauthenticated, no PTR, no TLS: PTR first, as Gmail answers.
		{"req-unauthenticated-no-ptr-no-tls", "check", Bad, []string{"Gmail would answer first 421-4.7.23", "PTR", "STARTTLS"}, []string{"421-4.7.23", "STARTTLS"}},
	} {
		t.Run(tt.name+"/"+tt.kind, func(t *testing.T) {
			v := golden(t, tt.name)
			v.Kind = kind.Kind(tt.kind) // as if sent to that tester
			en := Diagnose(v, opt)
			if en.Status != tt.status {
				t.Errorf("status %s, want %s: %s", en.Status, tt.status, en.Headline)
			}
			for _, w := range tt.want {
				if !strings.Contains(text(en), w) {
					t.Errorf("English lacks %q:\n%s", w, text(en))
				}
			}
			o := opt
			o.Lang = i18n.IT
			it := Diagnose(v, o)
			if *show {
				t.Logf("\n--- %s as %s@, English\n%s\n--- Italiano\n%s", tt.name, tt.kind, text(en), text(it))
			}
			for _, w := range tt.wantIT {
				if !strings.Contains(text(it), w) {
					t.Errorf("Italian lacks %q:\n%s", w, text(it))
				}
			}
		})
	}
}

// placeholders are what a step writes where it does not know a value.
var placeholders = regexp.MustCompile(`<your domain>|<selector>|<tuo dominio>|<selettore>|<your reports address>`)

// TestEveryGolden is the property test of the one diagnosis, over every
// golden verdict, as each tester would judge it, in every language:
//   - every provider that refuses, defers or junks the message names
//     findings, and each of them has a step that fixes it;
//   - the headline says "spam" only where no provider refuses;
//   - each code appears with one text;
//   - no placeholder stands where the value is known;
//   - the score is the maximum less the weights of the findings, and the
//     steps' points never count a finding twice.
func TestEveryGolden(t *testing.T) {
	cases := verifytest.Cases(t)
	checked := 0
	for _, name := range cases {
		base := golden(t, name)
		for _, k := range kind.Testers {
			v := *base
			v.Kind = k
			if k != kind.Check {
				v.Requirements = nil
			}
			for _, l := range i18n.Langs {
				d := Diagnose(&v, Options{Lang: l, TesterDomain: "tester.example"})
				checkDiagnosis(t, name+"/"+string(k)+"/"+string(l), d)
				checked++
			}
		}
	}
	t.Logf("%d diagnoses of %d golden verdicts checked", checked, len(cases))
}

func checkDiagnosis(t *testing.T, where string, d *Diagnosis) {
	t.Helper()
	out := text(d)
	if d.Headline == "" || strings.Contains(out, "[") && regexp.MustCompile(`\[[a-z]+\.[a-z.-]+\]`).MatchString(out) || strings.Contains(out, "%!") {
		t.Errorf("%s: a missing key or verb:\n%s", where, out)
	}
	if d.TesterFailure {
		return
	}
	if len(d.Providers) != len(requirements.Providers)+len(requirements.Unpublished) {
		t.Errorf("%s: %d providers", where, len(d.Providers))
	}
	refuses := false
	codes := map[string]string{}
	for _, p := range d.Providers {
		if p.Code != "" {
			if t0, ok := codes[p.Code]; ok && t0 != p.Text {
				t.Errorf("%s: %s has two texts: %q and %q", where, p.Code, t0, p.Text)
			}
			codes[p.Code] = p.Text
		}
		if p.Outcome == requirements.Accept {
			continue
		}
		if p.Outcome == requirements.Unknown {
			if p.Note == "" || len(p.Because) > 0 {
				t.Errorf("%s: %s publishes no rules, and the page does not say so plainly: %+v", where, p.Name, p)
			}
			continue
		}
		refuses = refuses || p.Outcome == requirements.Refuse || p.Outcome == requirements.Defer
		if len(p.Because) == 0 {
			t.Errorf("%s: %s %s for no finding", where, p.Name, p.Outcome)
		}
		for _, id := range p.Because {
			fixed := slices.ContainsFunc(d.Steps, func(s Step) bool { return slices.Contains(s.Fixes, id) })
			if !fixed {
				t.Errorf("%s: %s %s for %s, which no step fixes:\n%s", where, p.Name, p.Outcome, id, out)
			}
		}
	}
	low := strings.ToLower(d.Headline)
	if refuses && strings.Contains(low, "spam") {
		t.Errorf("%s: the headline says spam while a provider refuses: %s", where, d.Headline)
	}
	if placeholders.MatchString(out) {
		t.Errorf("%s: a placeholder where the value is known:\n%s", where, out)
	}
	lost, won := 0.0, 0.0
	for _, f := range d.Findings {
		lost += f.Points
	}
	for _, s := range d.Steps {
		won += s.Points
	}
	if want := math.Max(0, math.Round((MaxScore-lost)*10)/10); d.Score.Value != want {
		t.Errorf("%s: score %v, want %v (%v lost)", where, d.Score.Value, want, lost)
	}
	if won > lost+1e-9 {
		t.Errorf("%s: the steps win back %v, more than the %v lost", where, won, lost)
	}
}

// TestWarnings: a pass through +all and a short DKIM key are called out.
func TestWarnings(t *testing.T) {
	v := golden(t, "row1-spf-dkim-aligned")
	e := v.SPF.Effective()
	e.MatchPath[len(e.MatchPath)-1].Term = "+all"
	v.DKIM.Signatures[0].Key.Type, v.DKIM.Signatures[0].Key.Bits = "rsa", 1024
	d := Diagnose(v, Options{})
	joined := strings.Join(d.Warnings, "\n")
	if !strings.Contains(joined, "+all") || !strings.Contains(joined, "nearly anyone on the Internet") || !strings.Contains(joined, "1024 bits") {
		t.Errorf("warnings: %q", d.Warnings)
	}
	// A network of millions is said as such, not as anyone.
	e.MatchPath[len(e.MatchPath)-1].Term = "ip4:198.0.0.0/8"
	joined = strings.Join(Diagnose(v, Options{}).Warnings, "\n")
	if !strings.Contains(joined, "ip4:198.0.0.0/8") || !strings.Contains(joined, "a network of millions of addresses") || strings.Contains(joined, "nearly anyone") {
		t.Errorf("a /8: %q", joined)
	}
}

// TestTesterFailure: testerd's own DNS failure blames no sender and
// proposes nothing to change.
func TestTesterFailure(t *testing.T) {
	v := golden(t, "row1-spf-dkim-aligned")
	v.TesterFailure = i18n.M("text", "testerd could not judge this message")
	d := Diagnose(v, Options{})
	if !d.TesterFailure || len(d.Steps) != 0 || !strings.Contains(d.Headline, "testerd") {
		t.Errorf("%+v", d)
	}
}

var update = flag.Bool("update", false, "rewrite the README's generated weights table")

// TestREADMEWeights: the README's table of weights is WeightsMarkdown's.
func TestREADMEWeights(t *testing.T) {
	path := filepath.Join("..", "README.md")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const begin, end = "<!-- weights: generated -->\n", "<!-- end weights -->"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q … %q markers", begin, end)
	}
	want := s[:i+len(begin)] + WeightsMarkdown() + s[j:]
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != s {
		t.Error("README.md's weights table differs from explain/weights.go: go test ./explain -run README -update")
	}
}
