package requirements

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
)

// Bounds of the MIME walk.
const (
	MaxMIMEParts = 100
	MaxMIMEDepth = 5
)

// mimeFacts is what the walk found.
type mimeFacts struct {
	summary i18n.Msg
	// problems are structural (size-and-structure item); undeclared
	// are 8-bit bodies declared 7bit (format item).
	problems, undeclared []i18n.Msg
	parts, leaves        int
	// bodies are the leaves, in order, for the content checks.
	bodies []leaf
}

// leaf is one non-multipart part: its type, name and body as sent (the
// content checks decode what they read, within their bounds).
type leaf struct {
	where, mediaType, filename, cte string
	attachment                      bool
	raw                             []byte
}

// walkMIME checks the structure: parsable Content-Types, boundaries,
// closed multiparts, known transfer encodings, and 8-bit content only
// where declared.
func walkMIME(msg *message.Message) *mimeFacts {
	f := &mimeFacts{}
	ct := msg.First("Content-Type")
	if ct != "" && len(msg.Get("MIME-Version")) == 0 {
		f.problems = append(f.problems, m("ev.mime.version"))
	}
	f.walk(textproto.MIMEHeader{
		"Content-Type":              {ct},
		"Content-Transfer-Encoding": {msg.First("Content-Transfer-Encoding")},
	}, msg.Body, 0, "")
	top := "text/plain"
	if mt, _, err := mime.ParseMediaType(ct); ct != "" && err == nil {
		top = mt
	}
	f.summary = m("ev.mime.summary", top, f.leaves)
	return f
}

// child is the number of a multipart's nth part.
func child(where string, n int) string {
	if where == "" {
		return strconv.Itoa(n)
	}
	return where + "." + strconv.Itoa(n)
}

// part names a MIME part by its number ("1.2", as IMAP numbers them), or
// the message itself ("").
func part(n string) i18n.Msg {
	if n == "" {
		return m("word.message")
	}
	return m("word.part", n)
}

func (f *mimeFacts) walk(h textproto.MIMEHeader, body []byte, depth int, where string) {
	f.parts++
	ct := h.Get("Content-Type")
	mt, params := "text/plain", map[string]string{}
	if ct != "" {
		var err error
		mt, params, err = mime.ParseMediaType(ct)
		if err != nil {
			f.problems = append(f.problems, m("ev.mime.type", part(where), shown(ct)))
			return
		}
	}
	cte := strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	switch cte {
	case "", "7bit", "8bit", "binary", "quoted-printable", "base64":
	default:
		f.problems = append(f.problems, m("ev.mime.cte", part(where), shown(cte)))
	}
	if !strings.HasPrefix(mt, "multipart/") {
		f.leaves++
		lf := leaf{where: where, mediaType: mt, filename: params["name"], cte: cte, raw: body}
		if cd := h.Get("Content-Disposition"); cd != "" {
			if d, p, err := mime.ParseMediaType(cd); err == nil {
				lf.attachment = d == "attachment"
				if p["filename"] != "" {
					lf.filename = p["filename"]
				}
			}
		}
		lf.filename = message.DecodeHeader(lf.filename)
		f.bodies = append(f.bodies, lf)
		if (cte == "" || cte == "7bit") && has8bit(body) {
			f.undeclared = append(f.undeclared, m("ev.mime.8bit", part(where)))
		}
		return
	}
	if depth == MaxMIMEDepth {
		f.problems = append(f.problems, m("ev.mime.depth", part(where), MaxMIMEDepth))
		return
	}
	boundary := params["boundary"]
	if boundary == "" {
		f.problems = append(f.problems, m("ev.mime.boundary", part(where), mt))
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
			f.problems = append(f.problems, m("ev.mime.broken", part(where), err.Error()))
			return
		}
		n++
		if f.parts >= MaxMIMEParts {
			f.problems = append(f.problems, m("ev.mime.parts", MaxMIMEParts))
			return
		}
		b, err := io.ReadAll(p)
		if err != nil {
			f.problems = append(f.problems, m("ev.mime.broken", part(child(where, n)), err.Error()))
			return
		}
		f.walk(p.Header, b, depth+1, child(where, n))
	}
	if n == 0 {
		f.problems = append(f.problems, m("ev.mime.empty", part(where), mt))
	}
}
