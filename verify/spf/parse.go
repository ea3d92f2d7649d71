package spf

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
)

// Qualifier is the prefix of a directive (RFC 7208 §4.6.2): what the
// result is when its mechanism matches.
type Qualifier byte

const (
	QPass     Qualifier = '+'
	QFail     Qualifier = '-'
	QSoftFail Qualifier = '~'
	QNeutral  Qualifier = '?'
)

// Result returns the result a match with this qualifier gives.
func (q Qualifier) Result() Result {
	switch q {
	case QFail:
		return Fail
	case QSoftFail:
		return SoftFail
	case QNeutral:
		return Neutral
	}
	return Pass
}

// Mechanism names a mechanism (RFC 7208 §5).
type Mechanism string

const (
	MAll     Mechanism = "all"     // §5.1: always matches
	MInclude Mechanism = "include" // §5.2: matches when the other domain's check passes
	MA       Mechanism = "a"       // §5.3: the IP is one of the domain's addresses
	MMX      Mechanism = "mx"      // §5.4: the IP is one of the domain's MX hosts' addresses
	MPTR     Mechanism = "ptr"     // §5.5: the IP's validated PTR name is in the domain (deprecated)
	MIP4     Mechanism = "ip4"     // §5.6: the IP is in the IPv4 network
	MIP6     Mechanism = "ip6"     // §5.6: the IP is in the IPv6 network
	MExists  Mechanism = "exists"  // §5.7: the domain has an A record
)

// Modifier names the two modifiers RFC 7208 §6 defines; others are kept as
// written and ignored.
const (
	ModRedirect = "redirect"
	ModExp      = "exp"
)

// Term is one mechanism or modifier of a record.
type Term struct {
	// Pos is the 1-based column of the term's first octet in the record.
	Pos int `json:"pos"`
	// Raw is the term as written.
	Raw string `json:"raw"`

	// Mechanism is empty for a modifier.
	Mechanism Mechanism `json:"mechanism,omitempty"`
	Qualifier Qualifier `json:"-"`
	// Explicit reports that the qualifier was written out.
	Explicit bool `json:"-"`
	// DomainSpec is the domain-spec (a macro-string) of include, a, mx,
	// ptr, exists, redirect and exp; empty when absent.
	DomainSpec string `json:"domain_spec,omitempty"`
	// Network is the network of ip4 and ip6.
	Network netip.Prefix `json:"network,omitzero"`
	// CIDR4 and CIDR6 are the dual CIDR lengths of a and mx; -1 when
	// absent (then 32 and 128 apply).
	CIDR4 int `json:"cidr4,omitempty"`
	CIDR6 int `json:"cidr6,omitempty"`

	// Modifier is the lowercased modifier name; Value its macro-string.
	Modifier string `json:"modifier,omitempty"`
	Value    string `json:"value,omitempty"`

	macro macroString // DomainSpec or Value, parsed
}

// IsDNS reports whether evaluating the term queries DNS, and so counts
// against MaxDNSTerms (RFC 7208 §4.6.4).
func (t *Term) IsDNS() bool {
	switch t.Mechanism {
	case MInclude, MA, MMX, MPTR, MExists:
		return true
	}
	return t.Modifier == ModRedirect
}

// String returns the term in canonical form: lowercase names, the
// qualifier only when it was written, the network as parsed.
func (t *Term) String() string {
	if t.Mechanism == "" {
		return t.Modifier + "=" + t.Value
	}
	var b strings.Builder
	if t.Explicit {
		b.WriteByte(byte(t.Qualifier))
	}
	b.WriteString(string(t.Mechanism))
	switch t.Mechanism {
	case MIP4, MIP6:
		b.WriteByte(':')
		b.WriteString(t.Network.Addr().String())
		if t.Network.Bits() != t.Network.Addr().BitLen() {
			b.WriteString("/" + strconv.Itoa(t.Network.Bits()))
		}
		return b.String()
	}
	if t.DomainSpec != "" {
		b.WriteString(":" + t.DomainSpec)
	}
	if t.CIDR4 >= 0 && (t.Mechanism == MA || t.Mechanism == MMX) {
		b.WriteString("/" + strconv.Itoa(t.CIDR4))
	}
	if t.CIDR6 >= 0 && (t.Mechanism == MA || t.Mechanism == MMX) {
		b.WriteString("//" + strconv.Itoa(t.CIDR6))
	}
	return b.String()
}

// Record is a parsed SPF record.
type Record struct {
	Terms []*Term `json:"terms"`
	// Redirect and Exp point into Terms, or are nil.
	Redirect *Term `json:"-"`
	Exp      *Term `json:"-"`
}

// Version is the version section that starts every SPF record (§4.5).
const Version = "v=spf1"

// String returns the record in canonical form; Parse(r.String()) gives
// back the same terms.
func (r *Record) String() string {
	var b strings.Builder
	b.WriteString(Version)
	for _, t := range r.Terms {
		b.WriteByte(' ')
		b.WriteString(t.String())
	}
	return b.String()
}

// IsSPF reports whether a TXT record is an SPF record: "v=spf1" compared
// case-insensitively, then a space or the end (RFC 7208 §4.5).
func IsSPF(txt string) bool {
	return len(txt) >= len(Version) && strings.EqualFold(txt[:len(Version)], Version) &&
		(len(txt) == len(Version) || txt[len(Version)] == ' ')
}

// Records picks the SPF records out of a name's TXT records (RFC 7208
// §4.5): the ones starting with "v=spf1". Exactly one must remain.
func Records(txts []string) []string {
	var out []string
	for _, t := range txts {
		if IsSPF(t) {
			out = append(out, t)
		}
	}
	return out
}

// ErrSyntax is matched by every *SyntaxError.
var ErrSyntax = errors.New("spf: syntax error")

// SyntaxError is a record that does not follow the RFC 7208 §12 grammar.
type SyntaxError struct {
	Term   string // the offending term, or the whole record
	Pos    int    // 1-based column of Term in the record
	Reason i18n.Msg
}

func (e *SyntaxError) Error() string {
	if e.Term == "" {
		return "spf syntax: " + i18n.EN.Say(e.Reason)
	}
	return fmt.Sprintf("spf syntax: %s at column %d: %s", quoteTerm(e.Term), e.Pos, i18n.EN.Say(e.Reason))
}

// Msg says the error in a reader's words (i18n.Of finds it).
func (e *SyntaxError) Msg() i18n.Msg {
	if e.Term == "" {
		return e.Reason
	}
	return i18n.M("spf.syntax.at", quoteTerm(e.Term), e.Pos, e.Reason)
}

func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

func quoteTerm(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}

// MaxRecordLen bounds what Parse reads. DNS allows a TXT RR of nearly
// 64 KiB; no real SPF record comes near this, and §3.4 advises keeping
// records under 450 octets.
const MaxRecordLen = 4096

// Parse parses an SPF record. The whole record is checked, so a syntax
// error after a term that would match is still found (RFC 7208 §4.6: the
// record is parsed completely before evaluation).
func Parse(s string) (*Record, error) {
	if !IsSPF(s) {
		return nil, &SyntaxError{Reason: i18n.M("spf.syntax.version", Version)}
	}
	if len(s) > MaxRecordLen {
		return nil, &SyntaxError{Reason: i18n.M("spf.syntax.long", len(s), MaxRecordLen)}
	}
	r := &Record{}
	i := len(Version)
	for i < len(s) {
		// terms = *( 1*SP ( directive / modifier ) ); record = version terms *SP
		if s[i] == ' ' {
			i++
			continue
		}
		j := strings.IndexByte(s[i:], ' ')
		if j < 0 {
			j = len(s)
		} else {
			j += i
		}
		t, reason := parseTerm(s[i:j])
		if !reason.IsZero() {
			return nil, &SyntaxError{Term: s[i:j], Pos: i + 1, Reason: reason}
		}
		t.Pos = i + 1
		switch t.Modifier {
		case ModRedirect, ModExp:
			// §6: each of these modifiers MUST NOT appear more than once.
			if (t.Modifier == ModRedirect && r.Redirect != nil) || (t.Modifier == ModExp && r.Exp != nil) {
				return nil, &SyntaxError{Term: t.Raw, Pos: t.Pos, Reason: i18n.M("spf.syntax.twice", t.Modifier)}
			}
			if t.Modifier == ModRedirect {
				r.Redirect = t
			} else {
				r.Exp = t
			}
		}
		r.Terms = append(r.Terms, t)
		i = j
	}
	return r, nil
}

// parseTerm parses one term; a non-empty reason means it is invalid.
func parseTerm(raw string) (*Term, i18n.Msg) {
	t := &Term{Raw: raw, CIDR4: -1, CIDR6: -1}
	for k := 0; k < len(raw); k++ {
		if c := raw[k]; c < 0x21 || c > 0x7e {
			if c >= 0x80 {
				return nil, i18n.M("spf.syntax.non-ascii")
			}
			return nil, i18n.M("spf.syntax.control", fmt.Sprintf("0x%02x", c))
		}
	}
	// modifier = name "=" macro-string; name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
	if eq := strings.IndexByte(raw, '='); eq > 0 && isName(raw[:eq]) {
		t.Modifier = strings.ToLower(raw[:eq])
		t.Value = raw[eq+1:]
		switch t.Modifier {
		case ModRedirect, ModExp:
			m, reason := parseDomainSpec(t.Value)
			if !reason.IsZero() {
				return nil, i18n.M("spf.syntax.modifier", t.Modifier, reason)
			}
			t.DomainSpec, t.macro = t.Value, m
		default:
			// Unknown modifiers are ignored (§6), but must be well-formed.
			m, err := parseMacroString(t.Value, false, true)
			if !err.IsZero() {
				return nil, err
			}
			t.macro = m
		}
		return t, i18n.Msg{}
	}

	rest := raw
	t.Qualifier = QPass
	switch q := Qualifier(rest[0]); q {
	case QPass, QFail, QSoftFail, QNeutral:
		t.Qualifier, t.Explicit = q, true
		rest = rest[1:]
	}
	end := strings.IndexAny(rest, ":/")
	if end < 0 {
		end = len(rest)
	}
	t.Mechanism = Mechanism(strings.ToLower(rest[:end]))
	arg := rest[end:]
	switch t.Mechanism {
	case MAll:
		if arg != "" {
			return nil, i18n.M("spf.syntax.all-arg")
		}
	case MInclude, MExists:
		if !strings.HasPrefix(arg, ":") {
			return nil, i18n.M("spf.syntax.needs-domain", string(t.Mechanism))
		}
		m, reason := parseDomainSpec(arg[1:])
		if !reason.IsZero() {
			return nil, reason
		}
		t.DomainSpec, t.macro = arg[1:], m
	case MA, MMX:
		// a = "a" [ ":" domain-spec ] [ dual-cidr-length ]
		var reason i18n.Msg
		arg, t.CIDR4, t.CIDR6, reason = splitDualCIDR(arg)
		if !reason.IsZero() {
			return nil, reason
		}
		if arg != "" {
			if arg[0] != ':' {
				return nil, i18n.M("spf.syntax.unexpected", arg)
			}
			m, reason := parseDomainSpec(arg[1:])
			if !reason.IsZero() {
				return nil, reason
			}
			t.DomainSpec, t.macro = arg[1:], m
		}
	case MPTR:
		if arg != "" {
			if arg[0] != ':' {
				return nil, i18n.M("spf.syntax.ptr-cidr")
			}
			m, reason := parseDomainSpec(arg[1:])
			if !reason.IsZero() {
				return nil, reason
			}
			t.DomainSpec, t.macro = arg[1:], m
		}
	case MIP4, MIP6:
		if !strings.HasPrefix(arg, ":") {
			return nil, i18n.M("spf.syntax.needs-network", string(t.Mechanism))
		}
		p, reason := parseNetwork(arg[1:], t.Mechanism == MIP6)
		if !reason.IsZero() {
			return nil, reason
		}
		t.Network = p
	default:
		if strings.ContainsAny(rest[:end], "=") || end == 0 {
			return nil, i18n.M("spf.syntax.not-term")
		}
		return nil, i18n.M("spf.syntax.unknown", rest[:end])
	}
	return t, i18n.Msg{}
}

func isName(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// splitDualCIDR takes a dual-cidr-length off the end of a/mx's argument:
// "/24", "//64" or "/24//64" (RFC 7208 §5.6). Absent lengths are -1.
func splitDualCIDR(arg string) (rest string, c4, c6 int, reason i18n.Msg) {
	c4, c6 = -1, -1
	rest = arg
	if i := strings.LastIndex(rest, "//"); i >= 0 && allDigits(rest[i+2:]) {
		n, r := cidrLen(rest[i+2:], 128)
		if !r.IsZero() {
			return "", 0, 0, i18n.M("spf.syntax.cidr6", r)
		}
		c6, rest = n, rest[:i]
	}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 && allDigits(rest[i+1:]) {
		n, r := cidrLen(rest[i+1:], 32)
		if !r.IsZero() {
			return "", 0, 0, i18n.M("spf.syntax.cidr4", r)
		}
		c4, rest = n, rest[:i]
	}
	if strings.HasPrefix(rest, "/") {
		return "", 0, 0, i18n.M("spf.syntax.cidr", rest)
	}
	return rest, c4, c6, i18n.Msg{}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// cidrLen parses ip4-cidr-length / ip6-cidr-length digits: "0" or no
// leading zero, at most max.
func cidrLen(s string, max int) (int, i18n.Msg) {
	if s == "" || !allDigits(s) {
		return 0, i18n.M("spf.syntax.missing")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, i18n.M("spf.syntax.zero", s)
	}
	if len(s) > 3 {
		return 0, i18n.M("spf.syntax.over", s, max)
	}
	n, _ := strconv.Atoi(s)
	if n > max {
		return 0, i18n.M("spf.syntax.over", s, max)
	}
	return n, i18n.Msg{}
}

func parseNetwork(s string, v6 bool) (netip.Prefix, i18n.Msg) {
	addr, bits := s, ""
	if i := strings.IndexByte(s, '/'); i >= 0 {
		addr, bits = s[:i], s[i+1:]
	}
	a, err := netip.ParseAddr(addr)
	switch {
	case err != nil || a.Zone() != "":
		return netip.Prefix{}, i18n.M("spf.syntax.address", addr)
	case v6 && !a.Is6():
		return netip.Prefix{}, i18n.M("spf.syntax.not-ip6", addr)
	case !v6 && !a.Is4():
		return netip.Prefix{}, i18n.M("spf.syntax.not-ip4", addr)
	}
	n := a.BitLen()
	if i := strings.IndexByte(s, '/'); i >= 0 {
		var reason i18n.Msg
		n, reason = cidrLen(bits, a.BitLen())
		if !reason.IsZero() {
			return netip.Prefix{}, i18n.M("spf.syntax.cidr-len", reason)
		}
	}
	return netip.PrefixFrom(a, n), i18n.Msg{}
}

// parseDomainSpec checks domain-spec = macro-string domain-end, where
// domain-end = ( "." toplabel [ "." ] ) / macro-expand (RFC 7208 §7.1).
// The macro letters c, r and t are allowed only in exp= text.
func parseDomainSpec(s string) (macroString, i18n.Msg) {
	if s == "" {
		return nil, i18n.M("name.empty")
	}
	m, reason := parseMacroString(s, false, false)
	if !reason.IsZero() {
		return nil, reason
	}
	last := m[len(m)-1]
	if last.letter != 0 || last.escape {
		return m, i18n.Msg{} // ends with a macro-expand
	}
	lit := strings.TrimSuffix(last.lit, ".")
	dot := strings.LastIndexByte(lit, '.')
	if dot < 0 {
		return nil, i18n.M("spf.syntax.fqdn", s)
	}
	if !isTopLabel(lit[dot+1:]) {
		return nil, i18n.M("spf.syntax.top-label", lit[dot+1:])
	}
	return m, i18n.Msg{}
}

// isTopLabel: toplabel = ( *alphanum ALPHA *alphanum ) /
// ( 1*alphanum "-" *( alphanum / "-" ) alphanum ), so never all-numeric
// (which would be an IP address) nor starting or ending with "-".
func isTopLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	alpha, hyphen := false, false
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isAlpha(c):
			alpha = true
		case isDigit(c):
		case c == '-':
			hyphen = true
		default:
			return false
		}
	}
	return alpha || hyphen
}
