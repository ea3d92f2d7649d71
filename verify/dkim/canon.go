package dkim

import (
	"bytes"
	"strings"
)

// Canonicalization algorithms (RFC 6376 §3.4).
const (
	Simple  = "simple"
	Relaxed = "relaxed"
)

// CanonicalHeader canonicalizes one raw header field, CRLF included, with
// "simple" or "relaxed" (RFC 6376 §3.4.1, §3.4.2).
func CanonicalHeader(raw, alg string) string {
	if alg == Simple {
		return raw
	}
	colon := strings.IndexByte(raw, ':')
	if colon < 0 {
		return raw
	}
	name := strings.ToLower(strings.TrimRight(raw[:colon], " \t"))
	value := strings.ReplaceAll(raw[colon+1:], "\r\n", "")
	var b strings.Builder
	b.Grow(len(name) + len(value) + 3)
	b.WriteString(name)
	b.WriteByte(':')
	space := false
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space && b.Len() > len(name)+1 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
	}
	b.WriteString("\r\n")
	return b.String()
}

// CanonicalBody canonicalizes a body with CRLF line ends, with "simple" or
// "relaxed" (RFC 6376 §3.4.3, §3.4.4). The result may share memory with
// body.
func CanonicalBody(body []byte, alg string) []byte {
	if alg == Simple {
		// Remove all empty lines at the end; an empty body becomes one CRLF.
		b := body
		for bytes.HasSuffix(b, []byte("\r\n\r\n")) {
			b = b[:len(b)-2]
		}
		if len(b) == 0 || bytes.Equal(b, []byte("\r\n")) {
			return []byte("\r\n")
		}
		if !bytes.HasSuffix(b, []byte("\r\n")) {
			return append(bytes.Clone(b), '\r', '\n')
		}
		return b
	}
	out := make([]byte, 0, len(body)+2)
	blank := 0 // pending empty lines, written only if text follows
	for len(body) > 0 {
		i := bytes.Index(body, []byte("\r\n"))
		var line []byte
		if i < 0 {
			line, body = body, nil
		} else {
			line, body = body[:i], body[i+2:]
		}
		line = relaxLine(line)
		if len(line) == 0 {
			blank++
			continue
		}
		for ; blank > 0; blank-- {
			out = append(out, '\r', '\n')
		}
		out = append(out, line...)
		out = append(out, '\r', '\n')
	}
	return out
}

// relaxLine reduces runs of WSP to one space and drops trailing WSP.
func relaxLine(line []byte) []byte {
	if bytes.IndexByte(line, '\t') < 0 && !bytes.Contains(line, []byte("  ")) && !bytes.HasSuffix(line, []byte(" ")) {
		return line
	}
	out := make([]byte, 0, len(line))
	space := false
	for _, c := range line {
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space {
			out = append(out, ' ')
		}
		space = false
		out = append(out, c)
	}
	return out
}
