// Package message is testerd's one home for the mail format. It splits a
// received message into its raw header fields and body without changing a
// byte, which DKIM canonicalization needs (RFC 6376 §3.4); reads the
// header facts verdicts depend on (the From domain, RFC 5322 §3.6.2 and
// RFC 9989 §4.4; Subject, decoded from RFC 2047 in any charset mail uses;
// msg-ids); and writes the mail testerd sends (Header, Text), refusing
// CR, LF and NUL in every field.
//
// Everything here comes from strangers. Parse never fails: a header line
// without a colon, a missing blank line or bare LF line ends are recorded
// as facts and the message is still split as well as it can be. Sizes are
// bounded by the caller (the SMTP size limit); Parse itself allocates at
// most one normalized copy of the input.
package message

import (
	"bytes"
	"strings"
)

// MaxFields bounds the header fields Parse keeps; the rest of a header that
// long is treated as body, and Message.TooManyFields says so.
const MaxFields = 1000

// Field is one header field exactly as received: Raw holds the name, the
// colon, the value with its folding, and the final CRLF.
type Field struct {
	Name string
	Raw  string
	// Malformed is set for a header line with no colon or an invalid
	// field name (RFC 5322 §2.2).
	Malformed bool
}

// Value is the field body after the colon, unfolded (CRLF removed before
// WSP, RFC 5322 §2.2.3) and trimmed.
func (f Field) Value() string {
	v := f.Raw[len(f.Name):]
	if f.Malformed {
		v = f.Raw
	} else {
		v = v[1:] // the colon
	}
	v = strings.ReplaceAll(v, "\r\n", "")
	return strings.TrimSpace(v)
}

// Message is a parsed message. Raw is the message with CRLF line ends;
// Header and Body slice it.
type Message struct {
	Raw    []byte
	Header []byte
	Body   []byte
	Fields []Field
	// NoBody reports that no empty line ended the header: the whole
	// message was read as header and the body is empty.
	NoBody bool
	// BareLF reports that some lines ended in LF alone; they were read as
	// CRLF, the way files saved on Unix and many MTAs deliver them.
	BareLF bool
	// LongestLine is the longest line in octets, without its CRLF.
	LongestLine int
	// TooManyFields reports that the header had more than MaxFields fields.
	TooManyFields bool
}

// Parse splits raw into header fields and body.
func Parse(raw []byte) *Message {
	m := &Message{}
	if hasBareLF(raw) {
		m.BareLF = true
		raw = toCRLF(raw)
	}
	m.Raw = raw
	m.LongestLine = longestLine(raw)

	pos := 0
	for pos < len(raw) {
		if bytes.HasPrefix(raw[pos:], []byte("\r\n")) {
			m.Header = raw[:pos]
			m.Body = raw[pos+2:]
			return m
		}
		if len(m.Fields) == MaxFields {
			m.TooManyFields = true
			m.Header = raw[:pos]
			m.Body = raw[pos:]
			return m
		}
		end := fieldEnd(raw, pos)
		m.Fields = append(m.Fields, newField(string(raw[pos:end])))
		pos = end
	}
	m.Header = raw
	m.NoBody = true
	return m
}

// fieldEnd returns the end of the field starting at pos: after the CRLF of
// its last line, continuation lines (starting with WSP) included.
func fieldEnd(raw []byte, pos int) int {
	for {
		i := bytes.Index(raw[pos:], []byte("\r\n"))
		if i < 0 {
			return len(raw)
		}
		pos += i + 2
		if pos >= len(raw) || (raw[pos] != ' ' && raw[pos] != '\t') {
			return pos
		}
	}
}

func newField(raw string) Field {
	colon := strings.IndexByte(raw, ':')
	if colon <= 0 {
		return Field{Raw: raw, Malformed: true}
	}
	name := raw[:colon]
	for i := 0; i < len(name); i++ {
		// ftext: printable US-ASCII except colon (RFC 5322 §3.6.8). A
		// space before the colon is obsolete syntax (§4.5); keep the
		// name without it so lookups still work, but flag it.
		if c := name[i]; c < 33 || c > 126 {
			trimmed := strings.TrimRight(name, " \t")
			return Field{Name: trimmed, Raw: raw, Malformed: true}
		}
	}
	return Field{Name: name, Raw: raw}
}

// Get returns the fields named name (case-insensitive), top to bottom.
func (m *Message) Get(name string) []Field {
	var out []Field
	for _, f := range m.Fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	return out
}

// First returns the unfolded value of the first field named name, or "".
func (m *Message) First(name string) string {
	for _, f := range m.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value()
		}
	}
	return ""
}

// FileLineEnds converts a message saved with LF line ends only (as files
// saved on Unix are, with no CR anywhere) to the CRLF form it had on the
// wire, and reports whether it did. A message with any CR is left alone:
// its bare LFs, if any, are the sender's.
func FileLineEnds(raw []byte) ([]byte, bool) {
	if bytes.IndexByte(raw, '\r') >= 0 || bytes.IndexByte(raw, '\n') < 0 {
		return raw, false
	}
	return toCRLF(raw), true
}

func hasBareLF(b []byte) bool {
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

func toCRLF(b []byte) []byte {
	out := make([]byte, 0, len(b)+bytes.Count(b, []byte("\n")))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

func longestLine(b []byte) int {
	longest := 0
	for len(b) > 0 {
		i := bytes.Index(b, []byte("\r\n"))
		if i < 0 {
			i = len(b)
			b = nil
		} else {
			b = b[i+2:]
		}
		longest = max(longest, i)
	}
	return longest
}
