package spf

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/testerd/testerd/i18n"
)

// WriteText writes ev as readable text in l: result and reason, record,
// counts, headers and the trace. Values from DNS or the probe are quoted
// where they could hold control characters.
func (ev *Evaluation) WriteText(w io.Writer, receiver string, l i18n.Lang) {
	label := "MAIL FROM " + safe(ev.Sender)
	if ev.Identity == IdentityHelo {
		label = "HELO " + safe(ev.Domain)
	}
	fmt.Fprintf(w, "%s\n", l.T("spf.text.head", label, ev.IP.String(), string(ev.Result)))
	fmt.Fprintf(w, "  %s\n", safe(l.Say(ev.Reason)))
	if ev.Record != "" {
		fmt.Fprintf(w, "  %s %s\n", l.T("spf.text.record", safe(ev.Domain)), strconv.Quote(ev.Record))
	}
	if ev.Explanation != "" {
		fmt.Fprintf(w, "  %s %s\n", l.T("spf.text.explanation"), strconv.Quote(ev.Explanation))
	}
	if p := ev.Problem; p != nil && p.Column > 0 {
		fmt.Fprintf(w, "  %s %s\n", l.T("spf.text.problem", p.Column, safe(p.Domain)), strconv.Quote(p.Term))
		fmt.Fprintf(w, "    %s\n", strconv.Quote(ev.Trace.findRecord(p.Domain)))
		fmt.Fprintf(w, "    %s^\n", strings.Repeat(" ", p.Column))
	}
	fmt.Fprintf(w, "  %s\n", l.T("spf.text.counts", ev.DNSTerms, ev.DNSTermsLimit, ev.VoidLookups, ev.VoidLookupsLimit))
	fmt.Fprintf(w, "  Received-SPF: %s\n", ev.ReceivedSPF(receiver))
	fmt.Fprintf(w, "  Authentication-Results: %s\n", ev.AuthResultsPart())
	if ev.Trace != nil {
		fmt.Fprintf(w, "  %s\n", l.T("spf.text.trace"))
		ev.Trace.writeText(w, "    ", l)
	}
}

// findRecord returns the record of domain in the trace.
func (n *Node) findRecord(domain string) string {
	if n == nil {
		return ""
	}
	if n.Domain == domain && n.Record != "" {
		return n.Record
	}
	for _, s := range n.Steps {
		if r := s.Sub.findRecord(domain); r != "" {
			return r
		}
	}
	return ""
}

func (n *Node) writeText(w io.Writer, indent string, l i18n.Lang) {
	via := ""
	if n.Via != "" {
		via = " (" + n.Via + ")"
	}
	fmt.Fprintf(w, "%s%s%s → %s", indent, safe(n.Domain), via, n.Result)
	if !n.Note.IsZero() {
		fmt.Fprintf(w, ": %s", safe(l.Say(n.Note)))
	}
	fmt.Fprintln(w)
	if n.Query != nil {
		writeQuery(w, indent+"  ", *n.Query, l)
	}
	for _, s := range n.Steps {
		s.writeText(w, indent+"  ", l)
	}
	if n.Exp != nil {
		n.Exp.writeText(w, indent+"  ", l)
	}
}

func (s *Step) writeText(w io.Writer, indent string, l i18n.Lang) {
	outcome := l.T("spf.text.no-match")
	if s.Match {
		outcome = l.T("spf.text.match")
	}
	if s.Sub != nil && s.Sub.Via == "redirect" {
		outcome = "→ " + string(s.Sub.Result)
	}
	fmt.Fprintf(w, "%s%s %s", indent, l.T("spf.text.col", s.Pos), strconv.Quote(s.Term))
	if s.Count > 0 {
		fmt.Fprintf(w, " [%s]", l.T("spf.text.term", s.Count, MaxDNSTerms))
	}
	if s.Target != "" {
		fmt.Fprintf(w, " %s %s", l.T("spf.text.target"), strconv.Quote(s.Target))
	}
	fmt.Fprintf(w, ": %s", outcome)
	if !s.Note.IsZero() {
		fmt.Fprintf(w, " (%s)", safe(l.Say(s.Note)))
	}
	fmt.Fprintln(w)
	for _, q := range s.Queries {
		writeQuery(w, indent+"    ", q, l)
	}
	if s.Sub != nil {
		s.Sub.writeText(w, indent+"    ", l)
	}
}

func writeQuery(w io.Writer, indent string, q Query, l i18n.Lang) {
	fmt.Fprintf(w, "%s%s %s ?", indent, safe(q.Name), q.Type)
	if q.Error != "" {
		fmt.Fprintf(w, " %s", q.Error)
	}
	for _, a := range q.Answers {
		fmt.Fprintf(w, " %s", strconv.Quote(a))
	}
	if q.More > 0 {
		fmt.Fprintf(w, " %s", l.T("spf.text.more", q.More))
	}
	if q.Void {
		fmt.Fprintf(w, " [%s]", l.T("spf.text.void"))
	}
	fmt.Fprintln(w)
}

// safe makes a value printable on one line: control characters and
// bytes that are not UTF-8 are escaped, the rest is kept as it is.
func safe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
