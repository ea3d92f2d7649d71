// Package kind names what a message to the tester is, by the address it
// was sent to: a probe of one of the testers (spf@, dkim@, check@), mail
// to postmaster@ (judged like check@ and never answered), or a DMARC
// aggregate report (rua@ and the other report addresses). SMTP routes by
// it, the store keeps it, verdicts and pages show it.
package kind

// Kind is a message's kind.
type Kind string

// Kinds.
const (
	SPF        Kind = "spf"
	DKIM       Kind = "dkim"
	Check      Kind = "check"
	Postmaster Kind = "postmaster"
	Report     Kind = "rua"
)

// Testers are the testers, in display order.
var Testers = []Kind{SPF, DKIM, Check}

// ParseTester reads a tester's name.
func ParseTester(s string) (Kind, bool) {
	for _, k := range Testers {
		if string(k) == s {
			return k, true
		}
	}
	return "", false
}

// Tester reports whether k is one of the testers.
func (k Kind) Tester() bool {
	_, ok := ParseTester(string(k))
	return ok
}

// Judged is the tester a message of kind k is judged as: its own, or
// check@ for postmaster@ mail.
func (k Kind) Judged() Kind {
	if k.Tester() {
		return k
	}
	return Check
}
