package verify

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/shared"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/spf"
)

// tagRE matches one tag of verdicts.md; tags contain spaces, so a list is
// split with it rather than on spaces.
var tagRE = regexp.MustCompile(`!! [a-z]+-[a-z]+ !!|\|~?OK\| [a-z]+-[a-z]+`)

func verdictsDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(shared.Dir(t, "docs"), "verdicts.md"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.ReplaceAll(string(b), `\|`, `|`)
}

// splitTags splits a cell like "|~OK| spf-pass !! spf-diff !!" and checks
// that joining the tags with one space gives the cell back.
func splitTags(t *testing.T, cell string) []string {
	tags := tagRE.FindAllString(cell, -1)
	if strings.Join(tags, " ") != cell {
		t.Fatalf("cell %q is not tags joined by single spaces", cell)
	}
	return tags
}

// TestExamplesTable runs every row of verdicts.md's examples table,
// read from the document itself.
func TestExamplesTable(t *testing.T) {
	doc := verdictsDoc(t)
	_, table, ok := strings.Cut(doc, "## Examples")
	if !ok {
		t.Fatal("verdicts.md has no Examples section")
	}
	cellRE := regexp.MustCompile("`([^`]*)`")
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| Mail-From") || strings.HasPrefix(line, "| ---") {
			continue
		}
		parts := splitRow(line)
		if len(parts) != 7 {
			t.Fatalf("row %q: %d cells", line, len(parts))
		}
		mailFrom, from, spfRes, dkimCell, mode := parts[0], parts[1], parts[2], parts[3], parts[4]
		wantSPF := splitTags(t, cellRE.FindStringSubmatch(parts[5])[1])
		wantDKIM := splitTags(t, cellRE.FindStringSubmatch(parts[6])[1])

		m := dmarc.Relaxed
		if mode == "strict" {
			m = dmarc.Strict
		}
		// The examples publish no DMARC record, so the organizational
		// domain is the Public Suffix List's (verdicts.md, Terms).
		f := Facts{SPF: spf.Result(spfRes), SPFDomainAligned: dmarc.PSLAligned(mailFrom, from, m), DMARC: dmarc.Fail}
		if dkimCell != "—" {
			d, res, _ := strings.Cut(strings.TrimSuffix(dkimCell, ")"), " (")
			f.DKIM = append(f.DKIM, DKIMFact{Result: dkim.Result(res), DomainAligned: dmarc.PSLAligned(d, from, m)})
		}
		if got := Tags(kind.SPF, f); strings.Join(got, "|") != strings.Join(wantSPF, "|") {
			t.Errorf("%s: spf@ %q, want %q", line, got, wantSPF)
		}
		if got := Tags(kind.DKIM, f); strings.Join(got, "|") != strings.Join(wantDKIM, "|") {
			t.Errorf("%s: dkim@ %q, want %q", line, got, wantDKIM)
		}
		rows++
	}
	if rows != 7 {
		t.Errorf("%d example rows, want the 7 of verdicts.md", rows)
	}
}

// splitRow splits a markdown table row on "|" outside backticks.
func splitRow(line string) []string {
	var cells []string
	var cur strings.Builder
	tick := false
	for _, r := range strings.Trim(strings.TrimSpace(line), "|") {
		switch {
		case r == '`':
			tick = !tick
			cur.WriteRune(r)
		case r == '|' && !tick:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// TestRuleRows checks each row of the rule tables of verdicts.md.
func TestRuleRows(t *testing.T) {
	pass := func(aligned bool) DKIMFact { return DKIMFact{dkim.Pass, aligned} }
	tests := []struct {
		row  string
		kind kind.Kind
		f    Facts
		want string
	}{
		// SPF tester.
		{"r = pass, SPF aligned", kind.SPF, Facts{SPF: spf.Pass, SPFDomainAligned: true}, "|OK| spf-pass"},
		{"r = pass, not SPF aligned, DKIM aligned", kind.SPF, Facts{SPF: spf.Pass, DKIM: []DKIMFact{pass(true)}}, "|~OK| spf-pass !! spf-diff !!"},
		{"r = pass, not SPF aligned, not DKIM aligned", kind.SPF, Facts{SPF: spf.Pass, DKIM: []DKIMFact{pass(false)}}, "!! spf-diff !!"},
		{"r = fail", kind.SPF, Facts{SPF: spf.Fail, SPFDomainAligned: true}, "!! spf-fail !!"},
		{"r = softfail", kind.SPF, Facts{SPF: spf.SoftFail, SPFDomainAligned: true}, "!! spf-softfail !!"},
		{"r = neutral", kind.SPF, Facts{SPF: spf.Neutral, SPFDomainAligned: true}, "!! spf-neutral !!"},
		{"r = none", kind.SPF, Facts{SPF: spf.None, SPFDomainAligned: true}, "!! spf-none !!"},
		{"r = permerror", kind.SPF, Facts{SPF: spf.PermError, SPFDomainAligned: true}, "!! spf-permerror !!"},
		{"r = temperror, not aligned", kind.SPF, Facts{SPF: spf.TempError}, "!! spf-temperror !! !! spf-diff !!"},
		{"spf-diff whatever the result, even with DKIM aligned", kind.SPF, Facts{SPF: spf.SoftFail, DKIM: []DKIMFact{pass(true)}}, "!! spf-softfail !! !! spf-diff !!"},
		// DKIM tester.
		{"no DKIM-Signature", kind.DKIM, Facts{SPF: spf.Pass, SPFDomainAligned: true}, "!! dkim-none !!"},
		{"a passing signature is aligned", kind.DKIM, Facts{DKIM: []DKIMFact{pass(false), pass(true)}}, "|OK| dkim-pass"},
		{"passes, none aligned, SPF aligned", kind.DKIM, Facts{SPF: spf.Pass, SPFDomainAligned: true, DKIM: []DKIMFact{pass(false)}}, "|~OK| dkim-pass"},
		{"passes, none aligned, not SPF aligned", kind.DKIM, Facts{SPF: spf.Pass, DKIM: []DKIMFact{pass(false)}}, "!! dkim-diff !!"},
		{"passes, none aligned, SPF domain aligned but SPF fails", kind.DKIM, Facts{SPF: spf.Fail, SPFDomainAligned: true, DKIM: []DKIMFact{pass(false)}}, "!! dkim-diff !!"},
		{"none passes: temperror first", kind.DKIM, Facts{DKIM: []DKIMFact{{dkim.Invalid, true}, {dkim.Fail, true}, {dkim.TempError, true}}}, "!! dkim-temperror !!"},
		{"none passes: fail before invalid", kind.DKIM, Facts{DKIM: []DKIMFact{{dkim.Invalid, true}, {dkim.Fail, true}}}, "!! dkim-fail !!"},
		{"none passes: invalid", kind.DKIM, Facts{DKIM: []DKIMFact{{dkim.Invalid, true}}}, "!! dkim-invalid !!"},
		{"none passes, no d= aligns, not SPF aligned", kind.DKIM, Facts{DKIM: []DKIMFact{{dkim.Fail, false}}}, "!! dkim-fail !! !! dkim-diff !!"},
		{"none passes, no d= aligns, SPF aligned", kind.DKIM, Facts{SPF: spf.Pass, SPFDomainAligned: true, DKIM: []DKIMFact{{dkim.Fail, false}}}, "!! dkim-fail !!"},
		{"none passes, one d= aligns", kind.DKIM, Facts{DKIM: []DKIMFact{{dkim.Fail, false}, {dkim.Invalid, true}}}, "!! dkim-fail !!"},
		// check@: DMARC tag first, then the SPF and DKIM tags.
		{"SPF aligned", kind.Check, Facts{SPF: spf.Pass, SPFDomainAligned: true, DMARC: dmarc.Pass}, "|OK| dmarc-pass |OK| spf-pass !! dkim-none !!"},
		{"aligned, but no DMARC record", kind.Check, Facts{SPF: spf.Pass, SPFDomainAligned: true, DMARC: dmarc.None}, "!! dmarc-none !! |OK| spf-pass !! dkim-none !!"},
		{"aligned, record unusable (no DMARC processing)", kind.Check, Facts{SPF: spf.Pass, SPFDomainAligned: true, DKIM: []DKIMFact{pass(true)}, DMARC: dmarc.None}, "!! dmarc-none !! |OK| spf-pass |OK| dkim-pass"},
		{"aligned, lookup failed", kind.Check, Facts{SPF: spf.Fail, DKIM: []DKIMFact{pass(true)}, DMARC: dmarc.TempError}, "!! dmarc-temperror !! !! spf-fail !! !! spf-diff !! |OK| dkim-pass"},
		{"DKIM aligned", kind.Check, Facts{SPF: spf.SoftFail, SPFDomainAligned: true, DKIM: []DKIMFact{pass(true)}, DMARC: dmarc.Pass}, "|OK| dmarc-pass !! spf-softfail !! |OK| dkim-pass"},
		{"neither, record", kind.Check, Facts{SPF: spf.Pass, DKIM: []DKIMFact{pass(false)}, DMARC: dmarc.Fail}, "!! dmarc-fail !! !! spf-diff !! !! dkim-diff !!"},
		{"neither, no record", kind.Check, Facts{SPF: spf.Fail, SPFDomainAligned: true, DMARC: dmarc.None}, "!! dmarc-none !! !! spf-fail !! !! dkim-none !!"},
		{"lookup failed transiently", kind.Check, Facts{SPF: spf.Neutral, SPFDomainAligned: true, DMARC: dmarc.TempError}, "!! dmarc-temperror !! !! spf-neutral !! !! dkim-none !!"},
		{"record unparsable, unaligned", kind.Check, Facts{SPF: spf.None, SPFDomainAligned: true, DMARC: dmarc.None}, "!! dmarc-none !! !! spf-none !! !! dkim-none !!"},
		{"aligned SPF temperror, nothing passing", kind.Check, Facts{SPF: spf.TempError, SPFDomainAligned: true, DMARC: dmarc.TempError}, "!! dmarc-temperror !! !! spf-temperror !! !! dkim-none !!"},
	}
	for _, tt := range tests {
		if got := strings.Join(Tags(tt.kind, tt.f), " "); got != tt.want {
			t.Errorf("%s@ %s: %q, want %q", tt.kind, tt.row, got, tt.want)
		}
	}
}

// TestVocabulary enumerates every combination of inputs (seven SPF
// results, both alignments, zero to two signatures of every result and
// alignment, the four DMARC results of RFC 9989) and checks each tag is one the document
// lists, and the document's invariants.
func TestVocabulary(t *testing.T) {
	doc := verdictsDoc(t)
	vocab := map[string]bool{}
	for _, tag := range tagRE.FindAllString(doc, -1) {
		vocab[tag] = true
	}
	// The DKIM row "!! dkim-<best> !!" names best's three values.
	if !strings.Contains(doc, "`!! dkim-<best> !!` where best is the first present of `temperror`, `fail`, `invalid`") {
		t.Fatal("verdicts.md's dkim-<best> rule changed; update this test")
	}
	for _, best := range []string{"temperror", "fail", "invalid"} {
		vocab["!! dkim-"+best+" !!"] = true
	}
	results := []spf.Result{spf.Pass, spf.Fail, spf.SoftFail, spf.Neutral, spf.None, spf.PermError, spf.TempError}
	var sigs []DKIMFact
	for _, r := range []dkim.Result{dkim.Pass, dkim.Fail, dkim.Invalid, dkim.TempError} {
		sigs = append(sigs, DKIMFact{r, false}, DKIMFact{r, true})
	}
	lists := [][]DKIMFact{nil}
	for _, a := range sigs {
		lists = append(lists, []DKIMFact{a})
		for _, b := range sigs {
			lists = append(lists, []DKIMFact{a, b})
		}
	}
	n := 0
	for _, r := range results {
		for _, al := range []bool{false, true} {
			for _, l := range lists {
				for _, dm := range []dmarc.Result{dmarc.Pass, dmarc.Fail, dmarc.None, dmarc.TempError} {
					f := Facts{SPF: r, SPFDomainAligned: al, DKIM: l, DMARC: dm}
					check := Tags(kind.Check, f)
					for _, tag := range check {
						if !vocab[tag] {
							t.Fatalf("%+v: tag %q is not in verdicts.md", f, tag)
						}
					}
					spfT, dkimT := Tags(kind.SPF, f), Tags(kind.DKIM, f)
					if strings.Join(check[1:], " ") != strings.Join(append(spfT, dkimT...), " ") {
						t.Fatalf("%+v: check@ %q is not DMARC + spf@ %q + dkim@ %q", f, check, spfT, dkimT)
					}
					if f.SPFAligned() && strings.Contains(strings.Join(dkimT, " "), "dkim-diff") {
						t.Fatalf("%+v: dkim-diff on an SPF-aligned message", f)
					}
					if hasDiff := strings.Contains(strings.Join(spfT, " "), "spf-diff"); hasDiff == al {
						t.Fatalf("%+v: spf-diff must appear exactly when the identity does not align", f)
					}
					n++
				}
			}
		}
	}
	t.Logf("%d combinations", n)
}

// TestDMARCTable runs each row of verdicts.md's check@ DMARC table, read
// from the document, through the real DMARC evaluation on a fake zone: the
// row's case becomes DNS records and an aligned or unaligned message, and
// the check@ DMARC tag must be one the row allows.
func TestDMARCTable(t *testing.T) {
	doc := verdictsDoc(t)
	_, sec, ok := strings.Cut(doc, "| DMARC (RFC 9989; RFC 7489 §11.2) | tag |")
	if !ok {
		t.Fatal("verdicts.md has no check@ DMARC table")
	}
	sec, _, _ = strings.Cut(sec, "\n\n")
	z := dnsx.NewZone()
	z.Fail("_dmarc.flaky.example", dns.TypeTXT, dnsx.ServFail)
	z.AddTXT("_dmarc.lower.example", "v=dmarc1; p=reject")
	z.AddTXT("_dmarc.two.example", "v=DMARC1; p=none")
	z.AddTXT("_dmarc.two.example", "v=DMARC1; p=reject")
	z.AddTXT("_dmarc.nop.example", "v=DMARC1; adkim=s")
	z.AddTXT("_dmarc.abc.example", "v=DMARC1; p=reject; rua=mailto:d@abc.example")
	r := dnsx.NewFake(z)
	// Each case runs aligned (SPF passes for the From domain itself) and
	// unaligned (SPF passes for another organization).
	aligned := func(from string) dmarc.Input {
		return dmarc.Input{FromDomain: from, SPFDomain: from, SPFResult: "pass"}
	}
	unaligned := func(from string) dmarc.Input {
		return dmarc.Input{FromDomain: from, SPFDomain: "esp.net", SPFResult: "pass"}
	}
	cases := map[string][]dmarc.Input{
		"the record lookup failed transiently": {
			aligned("flaky.example"), unaligned("flaky.example"),
			// A usable record, nothing aligned passing, an aligned check
			// in temperror.
			{FromDomain: "abc.example", SPFDomain: "bounce.abc.example", SPFResult: "temperror"},
			{FromDomain: "abc.example", SPFDomain: "esp.net", SPFResult: "pass", DKIM: []dmarc.DKIMInput{{Domain: "abc.example", TempError: true}}},
		},
		"no usable DMARC record applies to the From domain": {
			aligned("norecord.example"), unaligned("norecord.example"), aligned("lower.example"), unaligned("lower.example"),
			{FromProblem: i18n.M("from.none"), SPFDomain: "abc.example", SPFResult: "pass"},
		},
		"a record was found but cannot be used": {
			aligned("two.example"), unaligned("two.example"), aligned("nop.example"), unaligned("nop.example"),
			{FromDomain: "nop.example", SPFDomain: "nop.example", SPFResult: "temperror"},
		},
		"a usable record applies, and SPF or DKIM is aligned": {aligned("abc.example"), {FromDomain: "abc.example", SPFDomain: "esp.net", SPFResult: "pass", DKIM: []dmarc.DKIMInput{{Domain: "mail.abc.example", Pass: true}}}},
		"a usable record applies, neither is aligned": {
			unaligned("abc.example"),
			// A temperror on a domain that would not align changes nothing.
			{FromDomain: "abc.example", SPFDomain: "abc.example", SPFResult: "fail", DKIM: []dmarc.DKIMInput{{Domain: "esp.net", TempError: true}}},
		},
	}
	rows := 0
	for _, line := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| ---") {
			continue
		}
		cells := splitRow(line)
		var ins []dmarc.Input
		for prefix, in := range cases {
			if strings.HasPrefix(cells[0], prefix) {
				ins = in
			}
		}
		if ins == nil {
			t.Fatalf("row %q has no test case", cells[0])
		}
		allowed := map[string]bool{}
		for _, tag := range tagRE.FindAllString(cells[1], -1) {
			allowed[tag] = true
		}
		for _, in := range ins {
			e := dmarc.Evaluate(context.Background(), r, in)
			f := Facts{SPF: spf.Result(in.SPFResult), SPFDomainAligned: e.SPF.DomainAligned, DMARC: e.Result}
			for i, d := range in.DKIM {
				res := map[bool]dkim.Result{true: dkim.Pass, false: dkim.Fail}[d.Pass]
				if d.TempError {
					res = dkim.TempError
				}
				f.DKIM = append(f.DKIM, DKIMFact{Result: res, DomainAligned: e.DKIM[i].DomainAligned})
			}
			if got := Tags(kind.Check, f)[0]; !allowed[got] {
				t.Errorf("row %q, From %q: %s (%s), want one of %v", cells[0], in.FromDomain, got, e.Reason, allowed)
			}
		}
		rows++
	}
	if rows != len(cases) {
		t.Errorf("%d rows, want %d", rows, len(cases))
	}
}
