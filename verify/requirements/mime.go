package requirements

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strings"

	"github.com/testerd/testerd/message"
)

// Bounds of the MIME walk.
const (
	MaxMIMEParts = 100
	MaxMIMEDepth = 5
)

// mimeFacts is what the walk found.
type mimeFacts struct {
	summary string
	// problems are structural (size-and-structure item); undeclared
	// are 8-bit bodies declared 7bit (format item).
	problems, undeclared []string
	parts, leaves        int
}

// walkMIME checks the structure: parsable Content-Types, boundaries,
// closed multiparts, known transfer encodings, and 8-bit content only
// where declared.
func walkMIME(m *message.Message) *mimeFacts {
	f := &mimeFacts{}
	ct := m.First("Content-Type")
	if ct != "" && len(m.Get("MIME-Version")) == 0 {
		f.problems = append(f.problems, "Content-Type without MIME-Version: 1.0")
	}
	f.walk(textproto.MIMEHeader{
		"Content-Type":              {ct},
		"Content-Transfer-Encoding": {m.First("Content-Transfer-Encoding")},
	}, m.Body, 0, "message")
	var types []string
	if ct == "" {
		types = append(types, "text/plain (no Content-Type)")
	} else if mt, _, err := mime.ParseMediaType(ct); err == nil {
		types = append(types, mt)
	}
	f.summary = fmt.Sprintf("MIME: %s, %d %s", strings.Join(types, ""), f.leaves, plural(f.leaves, "body part", "body parts"))
	return f
}

func (f *mimeFacts) walk(h textproto.MIMEHeader, body []byte, depth int, where string) {
	f.parts++
	ct := h.Get("Content-Type")
	mt, params := "text/plain", map[string]string{}
	if ct != "" {
		var err error
		mt, params, err = mime.ParseMediaType(ct)
		if err != nil {
			f.problems = append(f.problems, fmt.Sprintf("%s: Content-Type does not parse: %s", where, shown(ct)))
			return
		}
	}
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	switch cte {
	case "", "7bit", "8bit", "binary", "quoted-printable", "base64":
	default:
		f.problems = append(f.problems, fmt.Sprintf("%s: unknown Content-Transfer-Encoding %s", where, shown(cte)))
	}
	if !strings.HasPrefix(mt, "multipart/") {
		f.leaves++
		if (cte == "" || cte == "7bit") && has8bit(body) {
			f.undeclared = append(f.undeclared, fmt.Sprintf("%s: 8-bit content in a part declared 7bit (set Content-Transfer-Encoding: 8bit or encode it)", where))
		}
		return
	}
	if depth == MaxMIMEDepth {
		f.problems = append(f.problems, fmt.Sprintf("%s: multiparts nested deeper than %d levels", where, MaxMIMEDepth))
		return
	}
	boundary := params["boundary"]
	if boundary == "" {
		f.problems = append(f.problems, fmt.Sprintf("%s: %s without a boundary", where, mt))
		return
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	n := 0
	for {
		p, err := r.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.problems = append(f.problems, fmt.Sprintf("%s: %s (a missing closing boundary?)", where, err))
			return
		}
		n++
		if f.parts >= MaxMIMEParts {
			f.problems = append(f.problems, fmt.Sprintf("more than %d MIME parts: the rest was not checked", MaxMIMEParts))
			return
		}
		b, err := io.ReadAll(p)
		if err != nil {
			f.problems = append(f.problems, fmt.Sprintf("%s part %d: %s (a missing closing boundary?)", where, n, err))
			return
		}
		f.walk(p.Header, b, depth+1, fmt.Sprintf("%s part %d", where, n))
	}
	if n == 0 {
		f.problems = append(f.problems, fmt.Sprintf("%s: %s with no parts", where, mt))
	}
}
