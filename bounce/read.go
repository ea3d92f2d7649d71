package bounce

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// Bounds of what is read of a stranger's bounce.
const (
	MaxInput = 1 << 20 // octets read
	maxDepth = 4       // message/rfc822 inside message/rfc822 …
	maxParts = 50
	maxText  = 64 << 10 // text searched for a reply
)

// Reading is what could be read of a bounce: the delivery status
// notification's fields (RFC 3464) when there is one, else the SMTP reply
// found in the text.
type Reading struct {
	// DSN: the message held a message/delivery-status part.
	DSN bool
	// Code and EnhancedCode are the reply's ("550", "5.7.26"); Status is
	// the DSN's Status field when there is one.
	Code, EnhancedCode string
	// Diagnostic is the reply text as read, continuation lines joined.
	Diagnostic string
	// RemoteMTA and ReportingMTA name the servers (DSN fields), and
	// Recipient the address that bounced.
	RemoteMTA, ReportingMTA, Recipient string
	// text is everything searched, lower case, for the provider's marks.
	text string
}

// Read reads raw: a whole returned message (a DSN, also one forwarded
// inside another message), or pasted text that quotes an SMTP reply.
func Read(raw []byte) *Reading {
	if len(raw) > MaxInput {
		raw = raw[:MaxInput]
	}
	r := &Reading{}
	var texts []string
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil && looksLikeMessage(msg.Header) {
		w := &walker{r: r}
		w.part(textproto.MIMEHeader(msg.Header), readAll(msg.Body), 0)
		texts = w.texts
		for _, h := range []string{"From", "Subject", "Received"} {
			texts = append(texts, msg.Header.Get(h))
		}
	} else {
		texts = []string{string(raw)}
	}
	all := strings.Join(texts, "\n")
	if len(all) > maxText {
		all = all[:maxText]
	}
	r.text = strings.ToLower(all + "\n" + r.Diagnostic + "\n" + r.RemoteMTA + "\n" + r.ReportingMTA)
	if r.Diagnostic == "" {
		r.Code, r.EnhancedCode, r.Diagnostic = findReply(all)
	}
	if r.EnhancedCode == "" {
		if _, ec, _ := findReply(r.Diagnostic); ec != "" {
			r.EnhancedCode = ec
		}
	}
	return r
}

// looksLikeMessage: a header with the fields of a message, not a line of
// pasted text that happens to hold a colon.
func looksLikeMessage(h mail.Header) bool {
	return h.Get("Content-Type") != "" || h.Get("From") != "" || h.Get("Subject") != ""
}

func readAll(r io.Reader) []byte {
	b, _ := io.ReadAll(io.LimitReader(r, MaxInput))
	return b
}

// walker walks the MIME tree of a returned message.
type walker struct {
	r     *Reading
	texts []string
	parts int
}

func (w *walker) part(h textproto.MIMEHeader, body []byte, depth int) {
	if w.parts++; w.parts > maxParts || depth > maxDepth {
		return
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil || mt == "" {
		mt = "text/plain"
	}
	body = decode(h.Get("Content-Transfer-Encoding"), body)
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if params["boundary"] == "" {
			return
		}
		mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err != nil {
				return
			}
			w.part(p.Header, readAll(p), depth+1)
		}
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		if !w.r.DSN {
			w.r.DSN = true
			w.status(body)
		}
	case mt == "message/rfc822" || mt == "message/global":
		// A forwarded bounce, or the returned message itself (whose
		// header may hold the original's Received lines).
		if msg, err := mail.ReadMessage(bytes.NewReader(body)); err == nil {
			w.part(textproto.MIMEHeader(msg.Header), readAll(msg.Body), depth+1)
		}
	case mt == "text/rfc822-headers":
	case strings.HasPrefix(mt, "text/"):
		w.texts = append(w.texts, string(body))
	}
}

// status reads the per-message and first per-recipient fields of a
// delivery-status body (RFC 3464 §2.2, §2.3): groups of header-like
// fields separated by blank lines.
func (w *walker) status(body []byte) {
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(body)))
	for range 10 {
		h, err := tp.ReadMIMEHeader()
		if v := value(h.Get("Reporting-MTA")); v != "" && w.r.ReportingMTA == "" {
			w.r.ReportingMTA = v
		}
		if h.Get("Final-Recipient") != "" || h.Get("Status") != "" || h.Get("Diagnostic-Code") != "" {
			w.r.Recipient = clip(value(h.Get("Final-Recipient")), 200)
			w.r.RemoteMTA = clip(value(h.Get("Remote-MTA")), 200)
			if s := strings.TrimSpace(h.Get("Status")); statusRE.MatchString(s) {
				w.r.EnhancedCode = s
			}
			if d := value(h.Get("Diagnostic-Code")); d != "" {
				code, ec, text := findReply(d)
				w.r.Code, w.r.Diagnostic = code, clip(d, 2000)
				if text != "" {
					w.r.Diagnostic = clip(text, 2000)
				}
				if ec != "" {
					w.r.EnhancedCode = ec
				}
			}
			return // the first recipient's: a bounce to one is the usual case
		}
		if err != nil {
			return
		}
	}
}

// value is a DSN field's value without its type ("dns; mx.example" →
// "mx.example", "smtp; 550 …" → "550 …").
func value(v string) string {
	if _, rest, ok := strings.Cut(v, ";"); ok {
		v = rest
	}
	return strings.Join(strings.Fields(v), " ")
}

var (
	statusRE = regexp.MustCompile(`^[245]\.\d{1,3}\.\d{1,3}$`)
	// replyRE finds an SMTP reply line: a code, an optional enhanced
	// code, and text, as MTAs quote them in bounces ("550-5.7.26 …",
	// "550 5.1.1 <x@y>: …", "421 4.7.0 [TSS04] …").
	replyRE = regexp.MustCompile(`(?m)(?:^|[\s:('"\[])([245]\d\d)[ -]#?([245]\.\d{1,3}\.\d{1,3})?\s*(.*)$`)
)

// findReply returns the first SMTP reply quoted in text that has an
// enhanced status code, or else the first one with a 4xx or 5xx code, its
// continuation lines (same code) joined into one text.
func findReply(text string) (code, enhanced, reply string) {
	if len(text) > maxText {
		text = text[:maxText]
	}
	matches := replyRE.FindAllStringSubmatchIndex(text, 200)
	best := -1
	for i, m := range matches {
		c := text[m[2]:m[3]]
		if c[0] == '2' {
			continue
		}
		if m[4] >= 0 {
			best = i
			break
		}
		if best < 0 {
			best = i
		}
	}
	if best < 0 {
		return "", "", ""
	}
	m := matches[best]
	code = text[m[2]:m[3]]
	if m[4] >= 0 {
		enhanced = text[m[4]:m[5]]
	}
	parts := []string{strings.TrimSpace(text[m[6]:m[7]])}
	// Gmail and others continue a reply on lines with the same code;
	// MTAs that wrap what they quote continue it on indented lines.
	rest := text[m[1]:]
	for len(parts) < 10 {
		line, after, _ := strings.Cut(strings.TrimPrefix(rest, "\n"), "\n")
		if c, _, ok := strings.Cut(strings.TrimSpace(line), "-"); ok && c == code || strings.HasPrefix(strings.TrimSpace(line), code+" ") {
			line = strings.TrimSpace(line)[len(code)+1:]
		} else if line == "" || line[0] != ' ' && line[0] != '\t' {
			break
		}
		parts = append(parts, strings.TrimSpace(line))
		rest = "\n" + after
		if after == "" {
			break
		}
	}
	return code, enhanced, clip(strings.Join(strings.Fields(strings.Join(parts, " ")), " "), 2000)
}

// decode undoes a part's transfer encoding; what cannot be decoded is
// read as it is.
func decode(cte string, body []byte) []byte {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		if out, err := base64.StdEncoding.DecodeString(string(clean)); err == nil {
			return out
		}
	case "quoted-printable":
		if out, err := io.ReadAll(io.LimitReader(quotedprintable.NewReader(bytes.NewReader(body)), MaxInput)); err == nil {
			return out
		}
	}
	return body
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
