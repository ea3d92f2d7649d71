package message

// Header writes the header fields of the mail testerd sends (replies,
// report summaries). It refuses any name or value holding CR, LF or NUL,
// the only way a stranger's text could add a field of its own, and folds
// long values at spaces.

import (
	"bytes"
	"fmt"
	"mime/quotedprintable"
	"strings"
)

// maxLine is the folding target for header lines (RFC 5322 §2.1.1).
const maxLine = 78

// Header accumulates header fields; the first error sticks.
type Header struct {
	b   bytes.Buffer
	err error
}

// Add writes one field, folded.
func (h *Header) Add(name, value string) {
	if h.err != nil {
		return
	}
	if name == "" || strings.ContainsAny(name, "\r\n: \t") {
		h.err = fmt.Errorf("mail header: bad header field name %q", name)
		return
	}
	if strings.ContainsAny(value, "\r\n") || strings.ContainsRune(value, 0) {
		h.err = fmt.Errorf("mail header: %s value holds CR, LF or NUL", name)
		return
	}
	line := len(name) + 1
	h.b.WriteString(name)
	h.b.WriteByte(':')
	for i, word := range strings.Split(value, " ") {
		if i > 0 && line+1+len(word) > maxLine && line > len(name)+1 {
			h.b.WriteString("\r\n")
			line = 0
		}
		h.b.WriteByte(' ')
		h.b.WriteString(word)
		line += 1 + len(word)
		if line > 998 {
			h.err = fmt.Errorf("mail header: %s has a word too long to fold", name)
			return
		}
	}
	h.b.WriteString("\r\n")
}

// Bytes returns the fields written, or the first error.
func (h *Header) Bytes() ([]byte, error) { return h.b.Bytes(), h.err }

// Text finishes a plain-text message of testerd's own: the fields of h,
// the MIME fields of a UTF-8 text body, then body (any line ends) in
// quoted-printable. Replies, report summaries and alerts are all written
// with it.
func Text(h *Header, body string) ([]byte, error) {
	h.Add("MIME-Version", "1.0")
	h.Add("Content-Type", "text/plain; charset=utf-8")
	h.Add("Content-Transfer-Encoding", "quoted-printable")
	head, err := h.Bytes()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Write(head)
	out.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&out)
	qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")))
	qp.Close()
	return out.Bytes(), nil
}
