package spf

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// WriteText writes ev as readable text: result and reason, record,
// counts, headers and the trace. Values from DNS or the probe are quoted
// where they could hold control characters.
func (ev *Evaluation) WriteText(w io.Writer, receiver string) {
	label := "MAIL FROM " + safe(ev.Sender)
	if ev.Identity == IdentityHelo {
		label = "HELO " + safe(ev.Domain)
	}
	fmt.Fprintf(w, "%s from %s: %s\n", label, ev.IP, ev.Result)
	fmt.Fprintf(w, "  %s\n", safe(ev.Reason))
	if ev.Record != "" {
		fmt.Fprintf(w, "  record of %s: %s\n", safe(ev.Domain), strconv.Quote(ev.Record))
	}
	if ev.Explanation != "" {
		fmt.Fprintf(w, "  explanation: %s\n", strconv.Quote(ev.Explanation))
	}
	if p := ev.Problem; p != nil && p.Column > 0 {
		fmt.Fprintf(w, "  problem at column %d of %s's record: %s\n", p.Column, safe(p.Domain), strconv.Quote(p.Term))
		fmt.Fprintf(w, "    %s\n", strconv.Quote(ev.Trace.findRecord(p.Domain)))
		fmt.Fprintf(w, "    %s^\n", strings.Repeat(" ", p.Column))
	}
	fmt.Fprintf(w, "  DNS-querying terms: %d of %d; void lookups: %d of %d\n", ev.DNSTerms, ev.DNSTermsLimit, ev.VoidLookups, ev.VoidLookupsLimit)
	fmt.Fprintf(w, "  Received-SPF: %s\n", ev.ReceivedSPF(receiver))
	fmt.Fprintf(w, "  Authentication-Results: %s\n", ev.AuthResultsPart())
	if ev.Trace != nil {
		fmt.Fprintf(w, "  trace:\n")
		ev.Trace.writeText(w, "    ")
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

func (n *Node) writeText(w io.Writer, indent string) {
	via := ""
	if n.Via != "" {
		via = " (" + n.Via + ")"
	}
	fmt.Fprintf(w, "%s%s%s → %s", indent, safe(n.Domain), via, n.Result)
	if n.Note != "" {
		fmt.Fprintf(w, ": %s", safe(n.Note))
	}
	fmt.Fprintln(w)
	if n.Query != nil {
		writeQuery(w, indent+"  ", *n.Query)
	}
	for _, s := range n.Steps {
		s.writeText(w, indent+"  ")
	}
	if n.Exp != nil {
		n.Exp.writeText(w, indent+"  ")
	}
}

func (s *Step) writeText(w io.Writer, indent string) {
	outcome := "no match"
	if s.Match {
		outcome = "MATCH"
	}
	if s.Sub != nil && s.Sub.Via == "redirect" {
		outcome = "→ " + string(s.Sub.Result)
	}
	fmt.Fprintf(w, "%scol %d %s", indent, s.Pos, strconv.Quote(s.Term))
	if s.Count > 0 {
		fmt.Fprintf(w, " [DNS term %d of %d]", s.Count, MaxDNSTerms)
	}
	if s.Target != "" {
		fmt.Fprintf(w, " target %s", strconv.Quote(s.Target))
	}
	fmt.Fprintf(w, ": %s", outcome)
	if s.Note != "" {
		fmt.Fprintf(w, " (%s)", safe(s.Note))
	}
	fmt.Fprintln(w)
	for _, q := range s.Queries {
		writeQuery(w, indent+"    ", q)
	}
	if s.Sub != nil {
		s.Sub.writeText(w, indent+"    ")
	}
}

func writeQuery(w io.Writer, indent string, q Query) {
	fmt.Fprintf(w, "%s%s %s ?", indent, safe(q.Name), q.Type)
	if q.Error != "" {
		fmt.Fprintf(w, " %s", q.Error)
	}
	for _, a := range q.Answers {
		fmt.Fprintf(w, " %s", strconv.Quote(a))
	}
	if q.More > 0 {
		fmt.Fprintf(w, " …and %d more", q.More)
	}
	if q.Void {
		fmt.Fprintf(w, " [void lookup]")
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
