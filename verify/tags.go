package verify

import (
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/spf"
)

// Facts are everything the tag rules of ../shared/docs/verdicts.md look
// at, and nothing else.
type Facts struct {
	// SPF is the result for the Mail-From identity (HELO when MAIL FROM
	// is null).
	SPF spf.Result
	// SPFDomainAligned: the Mail-From identity aligns with the From
	// domain, whatever the SPF result.
	SPFDomainAligned bool
	// DKIM holds each signature's result and whether its d= aligns with
	// the From domain.
	DKIM []DKIMFact
	// DMARC is the DMARC result.
	DMARC dmarc.Result
}

// DKIMFact is one signature's part in the tags.
type DKIMFact struct {
	Result        dkim.Result
	DomainAligned bool
}

// SPFAligned: SPF passed and its domain aligns.
func (f Facts) SPFAligned() bool { return f.SPF == spf.Pass && f.SPFDomainAligned }

// DKIMAligned: some signature passes and its d= aligns.
func (f Facts) DKIMAligned() bool {
	for _, d := range f.DKIM {
		if d.Result == dkim.Pass && d.DomainAligned {
			return true
		}
	}
	return false
}

// The tag texts, byte for byte.
const (
	tagOK   = "|OK| "
	tagSoso = "|~OK| "
)

func bad(word string) string { return "!! " + word + " !!" }

// Tags returns the verdict tags of a tester, in order: verdicts.md's SPF
// tester rules for spf@, its DKIM tester rules for dkim@, and for check@
// the DMARC tag followed by both.
func Tags(k kind.Kind, f Facts) []string {
	switch k {
	case kind.SPF:
		return spfTags(f)
	case kind.DKIM:
		return dkimTags(f)
	}
	return append(append([]string{dmarcTag(f)}, spfTags(f)...), dkimTags(f)...)
}

func spfTags(f Facts) []string {
	var tags []string
	switch {
	case f.SPF != spf.Pass:
		tags = append(tags, bad("spf-"+string(f.SPF)))
	case f.SPFAligned():
		tags = append(tags, tagOK+"spf-pass")
	case f.DKIMAligned():
		tags = append(tags, tagSoso+"spf-pass")
	}
	if !f.SPFDomainAligned {
		tags = append(tags, bad("spf-diff"))
	}
	return tags
}

func dkimTags(f Facts) []string {
	if len(f.DKIM) == 0 {
		return []string{bad("dkim-none")}
	}
	passes, anyAligned := false, false
	present := map[dkim.Result]bool{}
	for _, d := range f.DKIM {
		present[d.Result] = true
		passes = passes || d.Result == dkim.Pass
		anyAligned = anyAligned || d.DomainAligned
	}
	switch {
	case f.DKIMAligned():
		return []string{tagOK + "dkim-pass"}
	case passes && f.SPFAligned():
		return []string{tagSoso + "dkim-pass"}
	case passes:
		return []string{bad("dkim-diff")}
	}
	var tags []string
	for _, r := range []dkim.Result{dkim.TempError, dkim.Fail, dkim.Invalid} {
		if present[r] {
			tags = append(tags, bad("dkim-"+string(r)))
			break
		}
	}
	if !anyAligned && !f.SPFAligned() {
		tags = append(tags, bad("dkim-diff"))
	}
	return tags
}

// dmarcTag is the DMARC result as verdicts.md's check@ table words it:
// pass only where a usable record applies and SPF or DKIM is aligned, so
// an aligned message without a record is dmarc-none.
func dmarcTag(f Facts) string {
	switch f.DMARC {
	case dmarc.Pass:
		return tagOK + "dmarc-pass"
	case dmarc.TempError, dmarc.None:
		return bad("dmarc-" + string(f.DMARC))
	}
	return bad("dmarc-fail")
}
