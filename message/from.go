package message

import (
	"net/mail"
	"slices"
	"strings"

	"golang.org/x/net/idna"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
)

// MaxShown bounds header text copied into results for display.
const MaxShown = 998

// From is what the From header says about the author's domain (RFC 5322
// §3.6.2). Domain is set only when there is exactly one From header with
// exactly one address; otherwise Problem says why, and nothing can align
// with it (RFC 7489 §6.6.1).
type From struct {
	// Header is the unfolded field value (clipped to MaxShown).
	Header  string `json:"header,omitempty"`
	Name    string `json:"name,omitempty"`
	Address string `json:"address,omitempty"`
	// Domain is lowercase ASCII (A-labels), without a trailing dot.
	Domain  string   `json:"domain,omitempty"`
	Headers int      `json:"headers"`
	Problem i18n.Msg `json:"problem,omitzero"`
	// Domains lists the distinct domains of a From header that holds
	// several addresses (at most MaxAuthors), for RFC 9989 §4.4.
	Domains []string `json:"domains,omitempty"`
}

// MaxAuthors bounds the addresses of one From header that are looked at.
const MaxAuthors = 10

// From reads the From header of m.
func (m *Message) From() From {
	fields := m.Get("From")
	f := From{Headers: len(fields)}
	switch len(fields) {
	case 0:
		f.Problem = i18n.M("from.none")
		return f
	case 1:
	default:
		f.Header = clip(fields[0].Value())
		f.Problem = i18n.M("from.several", len(fields))
		return f
	}
	f.Header = clip(fields[0].Value())
	addr, domain, problem := ParseFrom(fields[0].Value())
	f.Problem = problem
	if addr == nil && domain == "" {
		f.Domains = authorDomains(fields[0].Value())
	}
	if addr != nil {
		f.Name = clip(DisplayText(addr.Name))
		f.Address = clip(addr.Address)
	}
	f.Domain = domain
	return f
}

// ParseFrom parses a From header value. It returns the single address and
// its domain, or a problem in words.
func ParseFrom(value string) (*mail.Address, string, i18n.Msg) {
	if strings.TrimSpace(value) == "" {
		return nil, "", i18n.M("from.empty")
	}
	list, err := mailParser.ParseList(value)
	if err != nil {
		return nil, "", i18n.M("from.unparsable", clip(strings.TrimPrefix(err.Error(), "mail: ")))
	}
	switch len(list) {
	case 0:
		return nil, "", i18n.M("from.no-address")
	case 1:
	default:
		return nil, "", i18n.M("from.addresses", len(list))
	}
	a := list[0]
	at := strings.LastIndexByte(a.Address, '@')
	if at < 0 {
		return a, "", i18n.M("from.no-domain")
	}
	domain, err := Domain(a.Address[at+1:])
	if err != nil {
		return a, "", i18n.M("from.domain", i18n.Of(err))
	}
	return a, domain, i18n.Msg{}
}

// authorDomains returns the distinct domains of a From value with more
// than one address, nil otherwise.
func authorDomains(value string) []string {
	list, err := mailParser.ParseList(value)
	if err != nil || len(list) < 2 {
		return nil
	}
	var out []string
	for i, a := range list {
		if i == MaxAuthors {
			break
		}
		at := strings.LastIndexByte(a.Address, '@')
		if at < 0 {
			continue
		}
		if d, err := Domain(a.Address[at+1:]); err == nil && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// mailParser decodes encoded-words in display names in any charset the
// word decoder knows.
var mailParser = mail.AddressParser{WordDecoder: wordDecoder}

// Domain normalizes a domain from a header or DNS for comparison: A-labels,
// lowercase, no trailing dot. Address literals ([192.0.2.1]) and names that
// are not valid host names are errors.
func Domain(d string) (string, error) {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" {
		return "", i18n.Errorf("name.empty")
	}
	if strings.HasPrefix(d, "[") {
		return "", i18n.Errorf("name.literal", clip(d))
	}
	a, err := idnaProfile.ToASCII(d)
	if err != nil {
		return "", i18n.Errorf("name.invalid", clip(d))
	}
	a = strings.ToLower(a)
	if !isHostName(a) {
		return "", i18n.Errorf("name.invalid", clip(d))
	}
	return a, nil
}

// isHostName checks letters, digits, hyphens and underscores in labels of
// 1 to 63 octets, 253 in all (RFC 1035 §2.3.4, RFC 2181 §11).
func isHostName(d string) bool {
	if len(d) > 253 {
		return false
	}
	for _, label := range strings.Split(d, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// idnaProfile accepts host names, including underscores, which real
// senders use in DKIM and DMARC names.
var idnaProfile = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.BidiRule())

func clip(s string) string { return untrusted.Clip(s, MaxShown) }

// MsgID returns s trimmed if it is one well-formed msg-id ("<left@right>",
// RFC 5322 §3.6.4, printable ASCII with no spaces or specials), else "".
func MsgID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) < 5 || len(s) > 250 || s[0] != '<' || s[len(s)-1] != '>' {
		return ""
	}
	inner := s[1 : len(s)-1]
	if !strings.Contains(inner, "@") || strings.ContainsAny(inner, "<> \t\r\n\"\\()[],;:") {
		return ""
	}
	for i := 0; i < len(inner); i++ {
		if inner[i] < 0x21 || inner[i] > 0x7e {
			return ""
		}
	}
	return s
}

// MsgIDs returns the well-formed msg-ids of a References or In-Reply-To
// value, the last max of them.
func MsgIDs(refs string, max int) []string {
	var out []string
	for _, f := range strings.Fields(refs) {
		if id := MsgID(f); id != "" {
			out = append(out, id)
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return out
}

// Keyword is a structured field's first token, lowercased, without
// comments or parameters ("auto-replied (vacation); x=y" → "auto-replied").
func Keyword(v string) string {
	var b strings.Builder
	depth := 0
	for _, r := range v {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case depth > 0:
		case r == ';':
			return strings.ToLower(strings.TrimSpace(b.String()))
		default:
			b.WriteRune(r)
		}
	}
	return strings.ToLower(strings.TrimSpace(b.String()))
}
