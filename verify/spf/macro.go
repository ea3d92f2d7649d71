package spf

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
)

// macroString is a parsed macro-string (RFC 7208 §7.1): literal runs and
// macro-expands in order.
type macroString []macroToken

type macroToken struct {
	lit     string // literal text, or the text of an escape
	escape  bool   // "%%", "%_" or "%-": lit holds "%", " " or "%20"
	letter  byte   // lowercase macro letter; 0 for literals
	upper   bool   // the letter was uppercase: URL-escape the value
	digits  int    // keep this many right-hand parts; 0 keeps all
	reverse bool   // the "r" transformer
	delims  string // delimiters to split on; "" means "."
}

// maxMacroDigits bounds the DIGIT transformer. Any value at or above the
// number of parts keeps them all; DNS names have at most 127 labels.
const maxMacroDigits = 128

// Macro letters (§7.2). c, r and t are allowed only in explanation text
// (§7.1: "only in 'exp' text").
const (
	macroLetters    = "slodiphvcrt"
	expOnlyLetters  = "crt"
	macroDelimiters = ".-+,/_="
)

// parseMacroString parses s. With space, SP is a literal (explain-string,
// §6.2); with expLetters, %{c} %{r} %{t} are allowed.
func parseMacroString(s string, space, expLetters bool) (macroString, i18n.Msg) {
	var m macroString
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			m = append(m, macroToken{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			// macro-literal = %x21-24 / %x26-7E
			if (c < 0x21 || c > 0x7e) && !(space && c == ' ') {
				return nil, i18n.M("spf.macro.char", "0x"+strconv.FormatUint(uint64(c), 16))
			}
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(s) {
			return nil, i18n.M("spf.macro.end")
		}
		switch s[i+1] {
		case '%', '_', '-':
			flush()
			m = append(m, macroToken{escape: true, lit: map[byte]string{'%': "%", '_': " ", '-': "%20"}[s[i+1]]})
			i++
			continue
		case '{':
		default:
			return nil, i18n.M("spf.macro.not-macro", s[i:i+2])
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return nil, i18n.M("spf.macro.unterminated", s[i:])
		}
		body := s[i+2 : i+end]
		tok, reason := parseMacroBody(body, expLetters)
		if !reason.IsZero() {
			return nil, i18n.M("spf.macro.bad", s[i:i+end+1], reason)
		}
		flush()
		m = append(m, tok)
		i += end
	}
	flush()
	return m, i18n.Msg{}
}

// parseMacroBody parses macro-letter transformers *delimiter.
func parseMacroBody(b string, expLetters bool) (macroToken, i18n.Msg) {
	var t macroToken
	if b == "" {
		return t, i18n.M("spf.macro.no-letter")
	}
	l := b[0] | 0x20
	if !isAlpha(b[0]) || !strings.ContainsRune(macroLetters, rune(l)) {
		return t, i18n.M("spf.macro.letter", b[:1])
	}
	if !expLetters && strings.IndexByte(expOnlyLetters, l) >= 0 {
		return t, i18n.M("spf.macro.exp-only", string(b[0]))
	}
	t.letter, t.upper = l, b[0] != l
	i := 1
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	if i > 1 {
		n, err := strconv.Atoi(b[1:i])
		if err != nil || n > maxMacroDigits {
			n = maxMacroDigits
		}
		// §7.3: if a DIGIT is specified, the value MUST be nonzero.
		if n == 0 {
			return t, i18n.M("spf.macro.zero")
		}
		t.digits = n
	}
	if i < len(b) && b[i]|0x20 == 'r' {
		t.reverse = true
		i++
	}
	for ; i < len(b); i++ {
		if strings.IndexByte(macroDelimiters, b[i]) < 0 {
			return t, i18n.M("spf.macro.delimiter", b[i:i+1])
		}
		if strings.IndexByte(t.delims, b[i]) < 0 {
			t.delims += b[i : i+1]
		}
	}
	return t, i18n.Msg{}
}

// String writes the macro-string back as it was parsed.
func (m macroString) String() string {
	var b strings.Builder
	for _, t := range m {
		switch {
		case t.escape:
			b.WriteString(map[string]string{"%": "%%", " ": "%_", "%20": "%-"}[t.lit])
		case t.letter == 0:
			b.WriteString(t.lit)
		default:
			b.WriteString("%{")
			l := t.letter
			if t.upper {
				l -= 0x20
			}
			b.WriteByte(l)
			if t.digits > 0 {
				b.WriteString(strconv.Itoa(t.digits))
			}
			if t.reverse {
				b.WriteByte('r')
			}
			b.WriteString(t.delims)
			b.WriteByte('}')
		}
	}
	return b.String()
}

// macroEnv holds the values macros expand to.
type macroEnv struct {
	sender   string // %{s}
	local    string // %{l}
	domain   string // %{o}: the sender's domain
	current  string // %{d}
	ip       netip.Addr
	helo     string                      // %{h}
	receiver string                      // %{r}
	now      int64                       // %{t}
	ptr      func(current string) string // %{p}, looked up only when used
}

// expand expands m. The result is bounded by the length of m times the
// longest value, all of which are bounded by the caller.
func (m macroString) expand(env *macroEnv) string {
	var b strings.Builder
	for _, t := range m {
		if t.letter == 0 {
			b.WriteString(t.lit)
			continue
		}
		b.WriteString(t.expand(env))
	}
	return b.String()
}

func (t macroToken) expand(env *macroEnv) string {
	var v string
	switch t.letter {
	case 's':
		v = env.sender
	case 'l':
		v = env.local
	case 'o':
		v = env.domain
	case 'd':
		v = env.current
	case 'i':
		v = dottedIP(env.ip)
	case 'p':
		v = env.ptr(env.current)
	case 'v':
		v = "in-addr"
		if env.ip.Is6() {
			v = "ip6"
		}
	case 'h':
		v = env.helo
	case 'c':
		v = env.ip.String()
	case 'r':
		v = env.receiver
	case 't':
		v = strconv.FormatInt(env.now, 10)
	}
	// §7.3: split on the delimiters, optionally reverse, keep the
	// right-most DIGIT parts, join with ".".
	if t.digits > 0 || t.reverse || (t.delims != "" && t.delims != ".") {
		delims := t.delims
		if delims == "" {
			delims = "."
		}
		parts := splitAny(v, delims)
		if t.reverse {
			for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
				parts[i], parts[j] = parts[j], parts[i]
			}
		}
		if t.digits > 0 && t.digits < len(parts) {
			parts = parts[len(parts)-t.digits:]
		}
		v = strings.Join(parts, ".")
	}
	if t.upper {
		v = urlEscape(v)
	}
	return v
}

func splitAny(s, seps string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(seps, s[i]) >= 0 {
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// dottedIP is %{i}: dotted quad for IPv4, dot-separated nibbles for IPv6
// (§7.3). The RFC does not fix the case of the hex digits: its §7.4
// example is lowercase, pyspf (the conformance suite's reference, test
// v-macro-ip6) writes uppercase. DNS names are case-insensitive, so only
// exp= text can show the difference; we follow the suite.
func dottedIP(ip netip.Addr) string {
	if ip.Is4() {
		return ip.String()
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i, x := range ip.As16() {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteByte(hex[x>>4])
		b.WriteByte('.')
		b.WriteByte(hex[x&0xf])
	}
	return b.String()
}

// urlEscape escapes every octet outside RFC 3986 "unreserved" (§7.3:
// uppercase macro letters are URL-encoded).
func urlEscape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xf])
	}
	return b.String()
}
