package lint

import (
	"fmt"
	"io"
	"strings"
)

// WriteText writes the report for a terminal: the findings first, then
// each area's details.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s: %d %s, %d %s (%d DNS lookups)\n\n", r.Domain, r.Errors, plural(r.Errors, "error", "errors"),
		r.Warnings, plural(r.Warnings, "warning", "warnings"), r.Lookups)
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  [%s] %s: %s\n", f.Severity, f.Area, f.Message)
		if f.Fix != "" {
			fmt.Fprintf(w, "          fix: %s\n", f.Fix)
		}
	}
	if s := r.SPF; s != nil {
		fmt.Fprintf(w, "\n== SPF\n")
		for _, rec := range s.Records {
			fmt.Fprintf(w, "  record: %q\n", rec)
		}
		if s.Tree != nil {
			fmt.Fprintf(w, "  worst case: %d of 10 DNS-querying terms, %d of 2 void lookups; %d IPv4 addresses, %d IPv6 networks\n",
				s.DNSTerms, s.VoidLookups, s.IPv4Addresses, s.IPv6Networks)
			for _, m := range s.MXTerms {
				fmt.Fprintf(w, "  %q in %s: %d MX names (limit 10, counted apart from the 10 terms)\n", m.Term, m.Domain, m.Names)
			}
			fmt.Fprintln(w, "  tree:")
			writeNode(w, s.Tree, 2)
		}
		if s.Trace != "" {
			fmt.Fprintf(w, "\n%s", s.Trace)
		}
	}
	if d := r.DMARC; d != nil && d.Domain != nil {
		fmt.Fprintf(w, "\n== DMARC\n")
		for _, q := range d.Domain.Queries {
			fmt.Fprintf(w, "  %s: %s%s\n", q.Name, strings.Join(quoteAll(q.Records), " "), q.Error)
		}
		if d.Summary != "" {
			fmt.Fprintf(w, "  %s\n", d.Summary)
		}
	}
	if len(r.DKIM) > 0 {
		fmt.Fprintf(w, "\n== DKIM\n")
		for _, k := range r.DKIM {
			switch {
			case k.Key != nil && k.Problem == "":
				fmt.Fprintf(w, "  s=%s (%s): %s, %d bits\n", k.Selector, k.Source, keyType(k.Key), k.Key.Bits)
			default:
				fmt.Fprintf(w, "  s=%s (%s): %s\n", k.Selector, k.Source, k.Problem)
			}
		}
	}
	if m := r.MX; m != nil {
		fmt.Fprintf(w, "\n== MX\n")
		for _, h := range m.Hosts {
			fmt.Fprintf(w, "  %d %s\n", h.Pref, h.Host)
			for _, a := range h.Addresses {
				fmt.Fprintf(w, "      %s  %s  %s\n", a.IP, ptrText(a.PTR), map[bool]string{true: "forward-confirmed", false: "not confirmed"}[a.Confirmed])
			}
		}
	}
}

func writeNode(w io.Writer, n *SPFNode, indent int) {
	pad := strings.Repeat("  ", indent)
	via := ""
	if n.Via != "" {
		via = " (" + n.Via + ")"
	}
	fmt.Fprintf(w, "%s%s%s: %d DNS terms\n", pad, n.Domain, via, n.DNSTerms)
	if n.Record != "" {
		fmt.Fprintf(w, "%s  %q\n", pad, n.Record)
	}
	if n.Problem != "" {
		fmt.Fprintf(w, "%s  problem: %s\n", pad, n.Problem)
	}
	for _, c := range n.Children {
		writeNode(w, c, indent+1)
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
