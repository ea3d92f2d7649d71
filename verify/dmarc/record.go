package dmarc

import (
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/verify/internal/taglist"
)

// Policy is a requested Domain Owner policy (p=, sp=, np=).
type Policy string

const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// Mode is an identifier alignment mode (adkim=, aspf=).
type Mode string

const (
	Relaxed Mode = "r"
	Strict  Mode = "s"
)

func (m Mode) String() string {
	if m == Strict {
		return "strict"
	}
	return "relaxed"
}

// Severity of an Issue.
const (
	SeverityError   = "error"
	SeverityWarning = "warning"
)

// Issue is a problem with one tag of a record. Errors are values receivers
// ignore (the default applies instead); warnings are legal but unwise.
type Issue struct {
	Tag      string   `json:"tag,omitempty"`
	Pos      int      `json:"pos,omitempty"`
	Severity string   `json:"severity"`
	Message  i18n.Msg `json:"message"`
}

// Record is a parsed DMARC record (RFC 9989 §4.7, which keeps RFC 7489's
// tags but pct=, rf= and ri=, and adds np=, t= and psd=). Every field holds the value receivers act on: the tag's,
// or the default when the tag is absent or invalid.
type Record struct {
	Raw string `json:"raw"`
	// P is the policy for the domain; SP for its subdomains (default P);
	// NP for subdomains that do not exist (default SP).
	P     Policy   `json:"p"`
	SP    Policy   `json:"sp"`
	NP    Policy   `json:"np"`
	ADKIM Mode     `json:"adkim"`
	ASPF  Mode     `json:"aspf"`
	PCT   int      `json:"pct"`
	RUA   []string `json:"rua,omitempty"`
	RUF   []string `json:"ruf,omitempty"`
	FO    string   `json:"fo"`
	RF    string   `json:"rf"`
	RI    int64    `json:"ri"`
	// Testing is RFC 9989's t=y.
	Testing bool `json:"testing,omitempty"`
	// PSD is the psd= tag: "y" (a public suffix domain), "n" (an
	// organizational domain) or "" (absent, or "u": the Tree Walk decides).
	PSD string `json:"psd,omitempty"`
	// Present lists the tags the record sets, in order.
	Present []string `json:"present"`
	Issues  []Issue  `json:"issues,omitempty"`
}

// ErrNotDMARC is returned for a TXT record that does not start with
// v=DMARC1: discovery skips such records (RFC 7489 §6.6.3).
var ErrNotDMARC = errors.New("dmarc: not a DMARC record")

// SyntaxError makes a record unusable: receivers apply no DMARC
// processing (RFC 9989 §4.10.1), as if there were no record.
type SyntaxError struct {
	Tag    string   `json:"tag,omitempty"`
	Pos    int      `json:"pos,omitempty"`
	Reason i18n.Msg `json:"reason"`
}

func (e *SyntaxError) Error() string {
	if e.Tag != "" {
		return fmt.Sprintf("dmarc: tag %s= (column %d): %s", e.Tag, e.Pos, i18n.EN.Say(e.Reason))
	}
	return "dmarc: " + i18n.EN.Say(e.Reason)
}

// Where says the reason with its place in the record.
func (e *SyntaxError) Where() i18n.Msg {
	if e.Tag != "" {
		return i18n.M("dmarc.syntax-at", e.Tag, e.Pos, e.Reason)
	}
	return e.Reason
}

// IsDMARC reports whether a TXT record is a DMARC record: it starts with
// v=DMARC1 (the version is case-sensitive: %x44.4d.41.52.43.31), then ends
// or goes on with ";" (RFC 9989 §4.7, §4.10). Receivers discard every other
// TXT record at _dmarc names.
func IsDMARC(txt string) bool {
	s := taglist.Strip(txt)
	return strings.HasPrefix(s, "v=DMARC1") && (len(s) == 8 || s[8] == ';')
}

// LooksLikeDMARC reports a TXT record that was meant as DMARC but is not
// one (v=dmarc1, v=DMARC1x, V=DMARC1): receivers ignore it, and the sender
// should be told why.
func LooksLikeDMARC(txt string) bool {
	return !IsDMARC(txt) && strings.HasPrefix(strings.ToLower(taglist.Strip(txt)), "v=dmarc")
}

// Parse parses a DMARC record. A record that does not start with v=DMARC1
// gives ErrNotDMARC. A *SyntaxError means the record cannot be used: its
// tag list is malformed, or p= (or sp=) is missing or invalid with no
// valid rua= to fall back on (§6.6.3). Other bad values become Issues and
// the defaults apply.
func Parse(txt string) (*Record, error) {
	if !IsDMARC(txt) {
		return nil, ErrNotDMARC
	}
	tags, err := taglist.Parse(txt)
	if err != nil {
		var te *taglist.TagError
		errors.As(err, &te)
		return nil, &SyntaxError{Tag: te.Tag, Pos: te.Pos, Reason: i18n.M("dmarc.not-taglist", te.Reason)}
	}
	r := &Record{Raw: clip(txt), ADKIM: Relaxed, ASPF: Relaxed, PCT: 100, FO: "0", RF: "afrf", RI: 86400}
	if tags[0].Name != "v" || tags[0].Value != "DMARC1" {
		return nil, &SyntaxError{Tag: "v", Pos: tags[0].Pos, Reason: i18n.M("dmarc.version", clip(tags[0].Name+"="+tags[0].Value))}
	}
	issue := func(t taglist.Tag, sev, key string, args ...any) {
		r.Issues = append(r.Issues, Issue{Tag: t.Name, Pos: t.Pos, Severity: sev, Message: i18n.M(key, args...)})
	}
	removed := func(t taglist.Tag, what i18n.Msg) {
		issue(t, SeverityWarning, "dmarc.removed", t.Name, what)
	}
	var pTag, spTag, npTag *taglist.Tag
	pBad, spBad, npBad := false, false, false
	for i := range tags {
		t := tags[i]
		r.Present = append(r.Present, t.Name)
		v := taglist.Strip(t.Value)
		switch t.Name {
		case "v":
		case "p", "sp", "np":
			pol, ok := parsePolicy(v)
			if !ok {
				issue(t, SeverityError, "dmarc.policy", t.Name, clip(v))
			}
			switch t.Name {
			case "p":
				pTag, pBad, r.P = &tags[i], !ok, pol
			case "sp":
				spTag, spBad, r.SP = &tags[i], !ok, pol
			case "np":
				npTag, npBad, r.NP = &tags[i], !ok, pol
			}
		case "adkim", "aspf":
			m := Mode(strings.ToLower(v))
			if m != Relaxed && m != Strict {
				issue(t, SeverityError, "dmarc.mode", t.Name, clip(v))
				m = Relaxed
			}
			if t.Name == "adkim" {
				r.ADKIM = m
			} else {
				r.ASPF = m
			}
		case "pct":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 100 || !allDigits(v) {
				issue(t, SeverityError, "dmarc.pct", clip(v))
				continue
			}
			r.PCT = n
			switch {
			case n == 0:
				removed(t, i18n.M("dmarc.pct0"))
			case n < 100:
				removed(t, i18n.M("dmarc.pct-part", n))
			default:
				removed(t, i18n.M("dmarc.pct100"))
			}
		case "rua", "ruf":
			uris := r.parseURIs(t, v, issue)
			if t.Name == "rua" {
				r.RUA = uris
			} else {
				r.RUF = uris
			}
		case "fo":
			for _, o := range strings.Split(v, ":") {
				if o != "0" && o != "1" && o != "d" && o != "s" {
					issue(t, SeverityError, "dmarc.fo", clip(v), clip(o))
					v = "0"
					break
				}
			}
			r.FO = v
		case "rf":
			for _, f := range strings.Split(v, ":") {
				if !strings.EqualFold(f, "afrf") {
					issue(t, SeverityWarning, "dmarc.rf", clip(v), clip(f))
				}
			}
			r.RF = v
			removed(t, i18n.M("dmarc.rf-removed"))
		case "ri":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				issue(t, SeverityError, "dmarc.ri", clip(v))
				continue
			}
			r.RI = int64(n)
			removed(t, i18n.M("dmarc.ri-removed"))
		case "t":
			switch strings.ToLower(v) {
			case "y":
				r.Testing = true
				issue(t, SeverityWarning, "dmarc.testing")
			case "n":
			default:
				issue(t, SeverityError, "dmarc.t", clip(v))
			}
		case "psd":
			switch l := strings.ToLower(v); l {
			case "y", "n":
				r.PSD = l
			case "u":
			default:
				issue(t, SeverityError, "dmarc.psd", clip(v))
			}
		default:
			issue(t, SeverityWarning, "dmarc.unknown-tag", clip(t.Name))
		}
	}

	// An invalid or missing p= (or invalid sp= or np=) with a valid rua=
	// is read as p=none (RFC 9989 §4.10.1, RFC 7489 §6.6.3). Without
	// one, receivers apply no DMARC processing to the message.
	if pTag == nil || pBad || spBad || npBad {
		what, tag := i18n.M("dmarc.p-missing"), taglist.Tag{Name: "p"}
		switch {
		case pTag == nil:
		case pBad:
			what, tag = i18n.M("dmarc.tag-invalid", "p"), *pTag
		case spBad:
			what, tag = i18n.M("dmarc.tag-invalid", "sp"), *spTag
		case npBad:
			what, tag = i18n.M("dmarc.tag-invalid", "np"), *npTag
		}
		if len(r.RUA) == 0 {
			return nil, &SyntaxError{Tag: tag.Name, Pos: tag.Pos, Reason: i18n.M("dmarc.no-processing", what)}
		}
		// "As if a record containing p=none was retrieved": every
		// policy tag of the record reads as none.
		issue(tag, SeverityError, "dmarc.as-none", what)
		r.P, r.SP, r.NP = PolicyNone, PolicyNone, PolicyNone
	}
	if r.SP == "" {
		r.SP = r.P
	}
	if r.NP == "" {
		r.NP = r.SP
	}
	if len(r.RUA) == 0 {
		r.Issues = append(r.Issues, Issue{Tag: "rua", Severity: SeverityWarning, Message: i18n.M("dmarc.no-rua")})
	}
	return r, nil
}

func parsePolicy(v string) (Policy, bool) {
	switch p := Policy(strings.ToLower(v)); p {
	case PolicyNone, PolicyQuarantine, PolicyReject:
		return p, true
	}
	return "", false
}

// MaxURIs bounds the URIs kept from one rua= or ruf=.
const MaxURIs = 10

// parseURIs checks a comma-separated list of report URIs (§6.2, §6.3): a
// URI, optionally followed by "!" and a size limit.
func (r *Record) parseURIs(t taglist.Tag, v string, issue func(taglist.Tag, string, string, ...any)) []string {
	var out []string
	for _, u := range strings.Split(v, ",") {
		if len(out) == MaxURIs {
			issue(t, SeverityWarning, "dmarc.uris", MaxURIs)
			break
		}
		if err := CheckURI(u); err != nil {
			issue(t, SeverityError, "dmarc.uri", clip(u), i18n.Of(err))
			continue
		}
		if !strings.HasPrefix(strings.ToLower(u), "mailto:") {
			issue(t, SeverityWarning, "dmarc.uri-mailto", clip(u))
		}
		out = append(out, clip(u))
	}
	return out
}

// CheckURI checks one report URI with its optional "!size" suffix.
func CheckURI(u string) error {
	if u == "" {
		return i18n.Errorf("dmarc.uri-empty")
	}
	if len(u) > maxShown {
		return i18n.Errorf("dmarc.uri-long", maxShown)
	}
	if i := strings.LastIndexByte(u, '!'); i >= 0 {
		size := strings.ToLower(u[i+1:])
		if n := strings.TrimRight(size, "kmgt"); n == "" || len(size)-len(n) > 1 || !allDigits(n) {
			return i18n.Errorf("dmarc.uri-size", clip(u[i+1:]))
		}
		u = u[:i]
	}
	scheme, rest, ok := strings.Cut(u, ":")
	if !ok || !isScheme(scheme) || rest == "" {
		return i18n.Errorf("dmarc.uri-scheme")
	}
	if !strings.EqualFold(scheme, "mailto") {
		return nil
	}
	addr, _, _ := strings.Cut(rest, "?")
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
		return i18n.Errorf("dmarc.uri-address", clip(addr))
	}
	return nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !taglist.IsDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// maxShown bounds strings copied from a record for display.
const maxShown = 512

func clip(s string) string { return untrusted.Clip(s, maxShown) }

// isScheme checks ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1).
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if !('a' <= c && c <= 'z' || i > 0 && (taglist.IsDigit(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
			return false
		}
	}
	return s != ""
}

// Msg is Where, for i18n.Of.
func (e *SyntaxError) Msg() i18n.Msg { return e.Where() }
