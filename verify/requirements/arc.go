package requirements

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/internal/taglist"
)

// MaxARCInstances is RFC 8617 §4.2.1's limit.
const MaxARCInstances = 50

// arcSet is one instance's three fields.
type arcSet struct {
	seal, sig, results int // how many of each
	cv, sealD, sigD    string
}

// checkARC reports the ARC chain (RFC 8617): its instances, the cv= of
// each seal and the signing domains, and whether the chain is complete.
// The seals and message signatures are not verified: the report says so.
func checkARC(msg *message.Message) Item {
	it := Item{ID: "arc"}
	sets := map[int]*arcSet{}
	var problems []i18n.Msg
	for _, f := range msg.Fields {
		name := strings.ToLower(f.Name)
		if name != "arc-seal" && name != "arc-message-signature" && name != "arc-authentication-results" {
			continue
		}
		i, tags, err := arcInstance(name, f.Value())
		if err != nil {
			problems = append(problems, m("ev.arc.field", f.Name, err.Error()))
			continue
		}
		s := sets[i]
		if s == nil {
			s = &arcSet{}
			sets[i] = s
		}
		switch name {
		case "arc-seal":
			s.seal++
			s.cv, _ = tags.Get("cv")
			s.sealD, _ = tags.Get("d")
		case "arc-message-signature":
			s.sig++
			s.sigD, _ = tags.Get("d")
		default:
			s.results++
		}
	}
	if len(sets) == 0 && len(problems) == 0 {
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.arc.none")}
		return it
	}
	var is []int
	for i := range sets {
		is = append(is, i)
	}
	sort.Ints(is)
	for n, i := range is {
		s := sets[i]
		it.Evidence = append(it.Evidence, m("ev.arc.instance", i, shown(s.cv), shown(s.sealD), shown(s.sigD)))
		if i != n+1 {
			problems = append(problems, m("ev.arc.missing", n+1))
		}
		if s.seal != 1 || s.sig != 1 || s.results != 1 {
			problems = append(problems, m("ev.arc.count", i, s.seal, s.sig, s.results))
		}
		want := "pass"
		if i == 1 {
			want = "none"
		}
		switch s.cv {
		case want:
		case "fail":
			problems = append(problems, m("ev.arc.cv-fail", i))
		default:
			problems = append(problems, m("ev.arc.cv", i, shown(s.cv), want))
		}
	}
	it.Evidence = append(it.Evidence, problems...)
	it.Evidence = append(it.Evidence, m("ev.arc.unverified"))
	if len(problems) > 0 {
		it.Status, it.Problem = Warn, problems[0]
		return it
	}
	it.Status = Pass
	return it
}

// arcInstance reads i= from an ARC field: a tag list for seals and
// signatures; "i=N; authserv-id; ..." for results.
func arcInstance(name, value string) (int, taglist.Tags, error) {
	if name == "arc-authentication-results" {
		first, _, _ := strings.Cut(value, ";")
		k, v, ok := strings.Cut(strings.TrimSpace(first), "=")
		if !ok || strings.TrimSpace(k) != "i" {
			return 0, nil, fmt.Errorf("does not start with i=")
		}
		n, err := instanceNumber(v)
		return n, nil, err
	}
	tags, err := taglist.Parse(value)
	if err != nil {
		return 0, nil, err
	}
	v, ok := tags.Get("i")
	if !ok {
		return 0, nil, fmt.Errorf("no i= tag")
	}
	n, err := instanceNumber(v)
	return n, tags, err
}

func instanceNumber(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > MaxARCInstances {
		return 0, fmt.Errorf("i=%s is not an instance from 1 to %d", shown(v), MaxARCInstances)
	}
	return n, nil
}
