package i18n

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var verbRE = regexp.MustCompile(`%[-+# 0]*(\[[0-9]+\])?[0-9]*(\.[0-9]+)?[a-zA-Z%]`)

// wordRE finds a word, in a text that is more than verbs and notation
// (d=%s s=%s), which a translation would say in its own language.
var wordRE = regexp.MustCompile(`(^|[^a-zA-Z=])[a-zA-Z]{4,}($|[^a-zA-Z=])`)

// verbsByArg lists a format's verbs by the argument each one formats
// (explicit indexes %[2]s let a translation put them in its own order),
// without the indexes; "%%" formats none.
func verbsByArg(format string) []string {
	var byArg []string
	arg := 0
	for _, m := range verbRE.FindAllStringSubmatch(format, -1) {
		v := m[0]
		if v == "%%" {
			continue
		}
		if m[1] != "" {
			fmt.Sscanf(m[1], "[%d]", &arg)
			arg--
			v = strings.Replace(v, m[1], "", 1)
		}
		for len(byArg) <= arg {
			byArg = append(byArg, "")
		}
		if byArg[arg] == "" {
			byArg[arg] = v
		}
		arg++
	}
	return byArg
}

// TestCatalog: every key of every language exists in all of them, with
// the same verbs for the same arguments, and no translation is the English
// copied.
func TestCatalog(t *testing.T) {
	base := catalogs[EN].msgs
	for _, l := range Langs {
		c := catalogs[l]
		for key, text := range c.msgs {
			en, ok := base[key]
			if !ok {
				t.Errorf("%s: %s is not in English", l, key)
				continue
			}
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s: %s is empty", l, key)
			}
			if !slices.Equal(verbsByArg(en), verbsByArg(text)) {
				t.Errorf("%s: %s: verbs differ: %q vs %q", l, key, verbsByArg(en), verbsByArg(text))
			}
			if l != EN && text == en && len(en) > 12 && wordRE.MatchString(verbRE.ReplaceAllString(en, "")) {
				t.Errorf("%s: %s is the English", l, key)
			}
		}
		for key := range base {
			if _, ok := c.msgs[key]; !ok {
				t.Errorf("%s lacks %s", l, key)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	for _, tt := range []struct {
		h    string
		want Lang
	}{
		{"it-IT,it;q=0.9,en;q=0.8", IT}, {"en-US,en;q=0.9", EN}, {"de-DE,it;q=0.5", IT},
		{"fr", EN}, {"", EN}, {"garbage;;;", EN}, {"it-CH", IT},
	} {
		if got := Match(tt.h); got != tt.want {
			t.Errorf("Match(%q) = %s, want %s", tt.h, got, tt.want)
		}
	}
	if l, ok := Parse("IT"); !ok || l != IT {
		t.Errorf("Parse(IT) = %s %v", l, ok)
	}
	if _, ok := Parse("de"); ok {
		t.Error("Parse(de) ok")
	}
	if got := IT.T("step.spf.over-limit", 12, 10); !strings.Contains(got, "12 ricerche DNS") {
		t.Errorf("IT: %q", got)
	}
	if got := EN.T("no.such.key"); got != "[no.such.key]" {
		t.Errorf("missing key: %q", got)
	}
}

// TestGlossary: no Italian string uses a term GLOSSARY.md bans.
func TestGlossary(t *testing.T) {
	b, err := os.ReadFile("GLOSSARY.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(b), "<!-- banned -->")
	table, _, ok2 := strings.Cut(table, "<!-- /banned -->")
	if !ok || !ok2 {
		t.Fatal("GLOSSARY.md has no banned table")
	}
	var banned []*regexp.Regexp
	for _, line := range strings.Split(table, "\n")[3:] {
		if term, _, ok := strings.Cut(strings.Trim(line, "| "), "|"); ok {
			term = strings.TrimSpace(term)
			end := `($|[^\pL])`
			if strings.HasSuffix(term, "*") {
				term, end = strings.TrimSuffix(term, "*"), ""
			}
			banned = append(banned, regexp.MustCompile(`(?i)(^|[^\pL])`+regexp.QuoteMeta(term)+end))
		}
	}
	if len(banned) < 5 {
		t.Fatalf("read %d banned terms: %q", len(banned), banned)
	}
	for key, text := range catalogs[IT].msgs {
		for _, term := range banned {
			if term.MatchString(text) {
				t.Errorf("it: %s uses %s: %s", key, term, text)
			}
		}
	}
}

// TestKeysUsed: every key the code and the templates name (as a literal)
// is in the catalog, with as many arguments as its English has verbs.
// Keys built at run time ("req."+id) are checked where they are said.
func TestKeysUsed(t *testing.T) {
	root := ".."
	fset := token.NewFileSet()
	calls := 0
	check := func(where, key string, args int, variadic bool) {
		calls++
		en, ok := catalogs[EN].msgs[key]
		if !ok {
			t.Errorf("%s: %q is not in the catalog", where, key)
			return
		}
		if want := len(verbsByArg(en)); !variadic && args != want {
			t.Errorf("%s: %q takes %d arguments, given %d", where, key, want, args)
		}
	}
	// The functions that take a key and its arguments, and how many
	// arguments before the key's come first (tn's count).
	sayers := map[string]int{"T": 0, "M": 0, "m": 0, "Errorf": 0, "t": 0, "tn": 1}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		switch {
		case strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 {
					return true
				}
				var name string
				switch fn := call.Fun.(type) {
				case *ast.Ident:
					name = fn.Name
				case *ast.SelectorExpr:
					name = fn.Sel.Name
				}
				skip, ok := sayers[name]
				if !ok {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				key, _ := strconv.Unquote(lit.Value)
				if !isKey(key) {
					return true
				}
				where := fset.Position(call.Pos()).String()
				args := len(call.Args) - 1 - skip
				check(where, key, args, call.Ellipsis.IsValid())
				if name == "tn" {
					check(where, key+"-one", args, call.Ellipsis.IsValid())
				}
				return true
			})
		case strings.HasSuffix(path, ".html"):
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range templateT.FindAllStringSubmatchIndex(string(b), -1) {
				s := string(b)
				key := s[m[2]:m[3]]
				line := 1 + strings.Count(s[:m[0]], "\n")
				check(fmt.Sprintf("%s:%d", path, line), key, templateArgs(s[m[1]:]), false)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 500 {
		t.Errorf("only %d uses of the catalog found: is the walk reading the tree?", calls)
	}
	t.Logf("%d uses of catalog keys checked", calls)
}

// templateT finds {{T "key" or (T "key" in a template.
var templateT = regexp.MustCompile(`[{(]\s*T\s+"([^"]+)"`)

// isKey tells a catalog key from any other first string argument: lower
// case words joined by dots and hyphens, with at least one dot.
func isKey(s string) bool {
	return strings.Contains(s, ".") && !strings.ContainsAny(s, " %/:") && strings.ToLower(s) == s
}

// templateArgs counts the arguments after a template's key: the words up
// to the end of the action or the enclosing parenthesis, a parenthesized
// group counting as one.
func templateArgs(rest string) int {
	n, depth, in := 0, 0, false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case depth == 0 && (c == ')' || strings.HasPrefix(rest[i:], "}}")):
			return n
		case c == '(':
			if depth == 0 {
				n++
			}
			depth++
			in = false
		case c == ')':
			depth--
		case c == '"' && depth == 0:
			j := strings.IndexByte(rest[i+1:], '"')
			n++
			i += j + 1
			in = false
		case c == ' ' || c == '\t' || c == '\n':
			in = false
		default:
			if depth == 0 && !in {
				n++
				in = true
			}
		}
	}
	return n
}
