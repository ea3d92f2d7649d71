// Package kind names what a message to the tester is, by the address it
// was sent to: a probe of one of the testers (spf@, dkim@, check@), the
// operator's own mail to postmaster@ or abuse@ (RFC 5321 §4.5.1, RFC 2142:
// judged like check@, never answered, shown to the admin only), or a DMARC
// aggregate report (rua@ and the other report addresses), or a bounce
// forwarded to bounce@ to be explained (judged like check@ too, answered
// with the explanation, never listed). SMTP routes by it, the store keeps
// it, verdicts and pages show it.
package kind

// Kind is a message's kind.
type Kind string

// Kinds.
const (
	SPF        Kind = "spf"
	DKIM       Kind = "dkim"
	Check      Kind = "check"
	Postmaster Kind = "postmaster"
	Abuse      Kind = "abuse"
	Report     Kind = "rua"
	Bounce     Kind = "bounce"
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

// Answered reports whether a message of kind k gets a reply: the testers'
// probes, and a bounce to explain.
func (k Kind) Answered() bool { return k.Tester() || k == Bounce }

// Operators are the kinds of the operator's own mail.
var Operators = []Kind{Postmaster, Abuse}

// Judged is the tester a message of kind k is judged as: its own, or
// check@ for the operator's mail.
func (k Kind) Judged() Kind {
	if k.Tester() {
		return k
	}
	return Check
}
