package dmarc

import (
	"testing"
)

// FuzzParse: a parsed record only holds values receivers can act on, and
// errors point inside the record.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"v=DMARC1; p=reject; sp=quarantine; np=none; adkim=s; aspf=r; pct=50; rua=mailto:a@example.com,mailto:b@example.net!10m; ruf=mailto:f@example.com; fo=1:d; rf=afrf; ri=3600",
		"v=DMARC1; rua=mailto:a@example.com", "v=DMARC1; p=block", "v=DMARC1;p=none;pct=007;t=y;psd=u",
		"V=DMARC1; p=none", "v=DMARC1; p=none; rua=https://x!1q",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if se, ok := err.(*SyntaxError); ok && (se.Pos < 0 || se.Pos > len(s)+1) {
				t.Fatalf("error position %d outside %q", se.Pos, s)
			}
			return
		}
		for _, p := range []Policy{r.P, r.SP, r.NP} {
			if p != PolicyNone && p != PolicyQuarantine && p != PolicyReject {
				t.Fatalf("policy %q in %+v", p, r)
			}
		}
		if r.PCT < 0 || r.PCT > 100 || (r.ADKIM != Relaxed && r.ADKIM != Strict) || (r.ASPF != Relaxed && r.ASPF != Strict) {
			t.Fatalf("values out of range: %+v", r)
		}
		for _, u := range append(append([]string{}, r.RUA...), r.RUF...) {
			if CheckURI(u) != nil {
				t.Fatalf("kept a bad URI %q", u)
			}
		}
	})
}
