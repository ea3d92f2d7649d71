package reports

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"path"
	"strings"

	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/reports/dmarcrpt"
)

// Limits of extraction.
const (
	// MaxReport bounds one decompressed report, and MaxMessageReports
	// all the reports of one message together: one decompression budget
	// per message, however many parts it has.
	MaxReport         = 32 << 20
	MaxMessageReports = 32 << 20
	// MaxParts bounds the MIME parts looked at, MaxDepth their nesting.
	MaxParts = 50
	MaxDepth = 4
)

// File is one report document found in a message.
type File struct {
	// Name is the attachment's file name, if any.
	Name string
	// Container says how it was packed: xml, json, zip or gzip.
	Container string
	// Data is the report as unpacked: DMARC XML, or TLS-RPT JSON (TLS).
	Data []byte
}

// ErrTooBig is a report over MaxReport once decompressed; ErrBudget is the
// reports of a message over MaxMessageReports together.
var (
	ErrTooBig = fmt.Errorf("the report is over %d MB decompressed", MaxReport>>20)
	ErrBudget = fmt.Errorf("the reports of this message are over %d MB decompressed in all; the rest are not read", MaxMessageReports>>20)
	// ErrDaily: the client network's reports are over the Ingester's
	// daily budget; the message is kept, unread.
	ErrDaily = errors.New("the reports from this network are over today's decompression budget; the message is kept, not read")
)

// Extract finds the reports in a message as reporters send them: a zip
// with one file, the first gzip member, XML or TLS-RPT JSON as a part or
// as the body, octet-streams sniffed by content; the decompressed size is
// bounded per report and per message. Parts that are not reports are
// skipped; a part that looks like one but cannot be read is an error in
// the list returned beside the files.
func Extract(raw []byte) ([]File, []error) { return extract(raw, MaxMessageReports, ErrBudget) }

// extract is Extract within budget decompressed bytes; over it, a report
// is the error over (ErrBudget, or ErrDaily when the budget is the day's).
func extract(raw []byte, budget int64, over error) ([]File, []error) {
	h, body := split(raw)
	x := &extractor{budget: budget, over: over}
	x.part(h, body, 0)
	if len(x.files) == 0 && len(x.errs) == 0 {
		x.errs = append(x.errs, errors.New("no report found: no zip, gzip, XML or TLS-RPT JSON part"))
	}
	return x.files, x.errs
}

// split reads the header that says how the body is packed and returns the
// body byte for byte: a binary part (a gzip posted to /api/tlsrpt, a
// binary attachment by BDAT) may hold bare LFs that message.Parse would
// turn into CRLF and so corrupt. A header net/mail cannot read falls back
// to message.Parse.
func split(raw []byte) (textproto.MIMEHeader, []byte) {
	h := textproto.MIMEHeader{}
	if msg, err := mail.ReadMessage(bytes.NewReader(raw)); err == nil {
		for _, name := range []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"} {
			if v := msg.Header.Get(name); v != "" {
				h.Set(name, v)
			}
		}
		body, _ := io.ReadAll(msg.Body) // a bytes.Reader: no error
		return h, body
	}
	m := message.Parse(raw)
	for _, name := range []string{"Content-Type", "Content-Transfer-Encoding", "Content-Disposition"} {
		if v := m.First(name); v != "" {
			h.Set(name, v)
		}
	}
	return h, m.Body
}

type extractor struct {
	files []File
	errs  []error
	parts int
	// budget is what is left of the message's decompression budget;
	// over is the error past it.
	budget int64
	over   error
}

func (x *extractor) part(h textproto.MIMEHeader, body []byte, depth int) {
	x.parts++
	if x.parts > MaxParts {
		return
	}
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil {
		mt, params = "text/plain", map[string]string{}
	}
	if strings.HasPrefix(mt, "multipart/") {
		if depth == MaxDepth || params["boundary"] == "" {
			return
		}
		r := multipart.NewReader(bytes.NewReader(body), params["boundary"])
		for {
			p, err := r.NextRawPart()
			if err != nil {
				return // io.EOF, or a broken multipart: keep what was found
			}
			b, err := io.ReadAll(io.LimitReader(p, MaxReport+1))
			if err != nil {
				return
			}
			x.part(p.Header, b, depth+1)
		}
	}
	name := params["name"]
	if _, dp, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil && dp["filename"] != "" {
		name = dp["filename"]
	}
	name = path.Base(strings.ReplaceAll(name, "\\", "/"))
	data, err := decodeCTE(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		x.errs = append(x.errs, fmt.Errorf("%s: %w", partName(name, mt), err))
		return
	}
	kind := sniff(mt, name, data)
	if kind == "" {
		return
	}
	if x.budget <= 0 {
		x.errs = append(x.errs, fmt.Errorf("%s (%s): %w", partName(name, mt), kind, x.over))
		return
	}
	xmlDoc, err := unpackAtMost(kind, data, min(x.budget, MaxReport))
	if err == nil {
		x.budget -= int64(len(xmlDoc))
	} else if errors.Is(err, ErrTooBig) && x.budget < MaxReport {
		err = x.over
	}
	if err != nil {
		x.errs = append(x.errs, fmt.Errorf("%s (%s): %w", partName(name, mt), kind, err))
		return
	}
	x.files = append(x.files, File{Name: name, Container: kind, Data: xmlDoc})
}

func partName(name, mt string) string {
	if name != "" && name != "." {
		return name
	}
	return mt + " part"
}

// sniff says what a part holds: zip, gzip, xml, or "" for not a report.
func sniff(mt, name string, data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return "zip"
	case bytes.HasPrefix(data, []byte{0x1f, 0x8b}):
		return "gzip"
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")
	isXML := bytes.HasPrefix(trimmed, []byte("<?xml")) || bytes.HasPrefix(trimmed, []byte("<feedback"))
	isJSON := bytes.HasPrefix(trimmed, []byte("{"))
	switch mt {
	case "application/tlsrpt+gzip":
		return "gzip"
	case "application/tlsrpt+json", "application/json":
		return "json"
	case "application/zip", "application/x-zip-compressed", "application/x-zip":
		return "zip" // not a zip by content: unpack says so
	case "application/gzip", "application/x-gzip":
		return "gzip"
	case "text/xml", "application/xml":
		return "xml"
	}
	if isXML && (mt == "text/plain" || mt == "application/octet-stream" || strings.HasSuffix(strings.ToLower(name), ".xml")) {
		return "xml"
	}
	if isJSON && (mt == "text/plain" || mt == "application/octet-stream" || strings.HasSuffix(strings.ToLower(name), ".json")) {
		return "json"
	}
	return ""
}

// TLS reports whether a file holds a TLS report (RFC 8460 JSON) rather
// than DMARC XML.
func (f File) TLS() bool {
	return bytes.HasPrefix(bytes.TrimLeft(f.Data, " \t\r\n\xef\xbb\xbf"), []byte("{"))
}

func decodeCTE(cte string, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil {
			// Some reporters omit padding.
			raw := bytes.TrimRight(clean, "=")
			out = make([]byte, base64.RawStdEncoding.DecodedLen(len(raw)))
			n, err = base64.RawStdEncoding.Decode(out, raw)
		}
		if err != nil {
			return nil, fmt.Errorf("base64: %w", err)
		}
		return out[:n], nil
	case "quoted-printable":
		return io.ReadAll(io.LimitReader(quotedprintable.NewReader(bytes.NewReader(body)), MaxReport+1))
	}
	return body, nil
}

// unpack returns the XML of a zip (exactly one file), a gzip (the first
// member only: some reporters append bytes) or XML as it is, refusing
// anything over MaxReport once decompressed.
func unpack(kind string, data []byte) ([]byte, error) {
	return unpackAtMost(kind, data, MaxReport)
}

// unpackAtMost is unpack with a smaller bound.
func unpackAtMost(kind string, data []byte, limit int64) ([]byte, error) {
	var r io.Reader
	switch kind {
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, err
		}
		var files []*zip.File
		for _, f := range zr.File {
			if !f.FileInfo().IsDir() {
				files = append(files, f)
			}
		}
		if len(files) != 1 {
			return nil, fmt.Errorf("the zip holds %d files, not one", len(files))
		}
		if files[0].UncompressedSize64 > uint64(limit) {
			return nil, ErrTooBig
		}
		rc, err := files[0].Open()
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		r = rc
	case "gzip":
		gr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		gr.Multistream(false)
		r = gr
	default:
		r = bytes.NewReader(data)
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return nil, ErrTooBig
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// FromFile reads a report file as found on disk or in an archive: zip,
// gzip or XML, told apart by content and name.
func FromFile(name string, data []byte) ([]byte, string, error) {
	kind := sniff("application/octet-stream", name, data)
	if kind == "" {
		kind = "xml"
	}
	xmlDoc, err := unpack(kind, data)
	return xmlDoc, kind, err
}

// Original finds report reportID again in the message it came in: the
// XML as the reporter sent it, decompressed now rather than stored so.
func Original(raw []byte, reportID string) ([]byte, bool) {
	files, _ := Extract(raw)
	for _, f := range files {
		if f.TLS() {
			continue
		}
		if fb, err := dmarcrpt.Parse(f.Data); err == nil && fb.Metadata.ReportID == reportID {
			return f.Data, true
		}
	}
	return nil, false
}
