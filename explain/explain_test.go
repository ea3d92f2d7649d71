package explain

import (
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/verify/verifytest"
)

var show = flag.Bool("show", false, "log each summary of TestSummaries in both languages")

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

func text(s *Summary) string {
	var b strings.Builder
	s.WriteText(&b)
	return b.String()
}

func TestSummaries(t *testing.T) {
	opt := Options{TesterDomain: "tester.example"}
	for _, tt := range []struct {
		name, kind string
		status     Status
		want       []string // in the English text
		wantIT     []string // in the Italian text
	}{
		{"row1-spf-dkim-aligned", "check", OK, []string{"DMARC passes", "Gmail: accepted"}, []string{"DMARC superato"}},
		{"row5-softfail-unsigned", "spf", Bad, []string{"SPF softfail: the server that sent this message (203.0.113.9)", "ip4:192.0.2.0/24 ip4:203.0.113.9 ~all", "550-5.7.26 This mail has been blocked"},
			[]string{"SPF softfail: il server", "Autorizza 203.0.113.9 nel record SPF"}},
		{"dkim-tampered-diff", "dkim", Bad, []string{"the body of the message changed after it was signed", "lines longer than 990 characters"},
			[]string{"il corpo del messaggio è cambiato dopo la firma", "righe più lunghe di 990 caratteri"}},
		{"req-dmarc-missing", "check", Soso, []string{"no DMARC record applies to it, so DMARC cannot pass", `_dmarc.abc.it. IN TXT "v=DMARC1; p=none; rua=mailto:rua@tester.example"`, "move to p=quarantine"},
			[]string{"nessun record DMARC si applica", "report a questo tester (rua@tester.example)"}},
		{"spf-permerror", "spf", Bad, []string{"SPF permerror"}, []string{"SPF permerror"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := golden(t, tt.name)
			v.Kind = kind.Kind(tt.kind) // as if sent to that tester
			en := Summarize(v, opt)
			if en.Status != tt.status {
				t.Errorf("status %s, want %s: %s", en.Status, tt.status, en.Headline)
			}
			for _, w := range tt.want {
				if !strings.Contains(text(en), w) {
					t.Errorf("English lacks %q:\n%s", w, text(en))
				}
			}
			opt.Lang = i18n.IT
			it := Summarize(v, opt)
			opt.Lang = ""
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

// TestEveryGolden: every golden verdict gets a summary in both languages
// with no missing catalog key and a record only where the values are known.
func TestEveryGolden(t *testing.T) {
	for _, name := range verifytest.Cases(t) {
		v := golden(t, name)
		for _, l := range i18n.Langs {
			s := Summarize(v, Options{Lang: l, TesterDomain: "tester.example"})
			out := text(s)
			if s.Headline == "" || strings.Contains(out, "[head.") || strings.Contains(out, "[step.") || strings.Contains(out, "%!") {
				t.Errorf("%s (%s):\n%s", name, l, out)
			}
			if len(s.Providers) != 3 {
				t.Errorf("%s: %d providers", name, len(s.Providers))
			}
		}
	}
}

// TestWarnings: a pass through +all and a short DKIM key are called out.
func TestWarnings(t *testing.T) {
	v := golden(t, "row1-spf-dkim-aligned")
	e := v.SPF.Effective()
	e.MatchPath[len(e.MatchPath)-1].Term = "+all"
	v.DKIM.Signatures[0].Key.Type, v.DKIM.Signatures[0].Key.Bits = "rsa", 1024
	s := Summarize(v, Options{})
	joined := strings.Join(s.Warnings, "\n")
	if !strings.Contains(joined, "+all") || !strings.Contains(joined, "1024 bits") {
		t.Errorf("warnings: %q", s.Warnings)
	}
}

// TestKeysExist: every catalog key this package names is in the catalog.
func TestKeysExist(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pkgs {
		ast.Inspect(p, func(node ast.Node) bool {
			call, ok := node.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "t" && sel.Sel.Name != "T") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			key, _ := strconv.Unquote(lit.Value)
			n++
			if !i18n.Has(key) {
				t.Errorf("%s: key %q is not in the catalog", fset.Position(lit.Pos()), key)
			}
			return true
		})
	}
	if n < 40 {
		t.Errorf("only %d keys found", n)
	}
}
