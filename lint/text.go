package lint

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
)

// WriteText writes the report for a terminal in l: the findings first,
// then each area's details.
func (r *Report) WriteText(w io.Writer, l i18n.Lang) {
	r = r.In(l)
	fmt.Fprintf(w, "%s\n\n", l.T("lint.text.head", r.Domain, r.Errors, r.Warnings, r.Lookups))
	for _, f := range r.Findings {
		fmt.Fprintf(w, "  [%s] %s: %s\n", l.T("severity."+string(f.Severity)), f.Area, f.Text)
		if f.FixText != "" {
			fmt.Fprintf(w, "          %s %s\n", l.T("lint.text.fix"), f.FixText)
		}
	}
	if s := r.SPF; s != nil {
		fmt.Fprintf(w, "\n== SPF\n")
		for _, rec := range s.Records {
			fmt.Fprintf(w, "  %s %q\n", l.T("lint.text.record"), rec)
		}
		if s.Tree != nil {
			fmt.Fprintf(w, "  %s\n", l.T("domain.worst", s.DNSTerms, s.VoidLookups, s.IPv4Addresses, s.IPv6Networks))
			for _, m := range s.MXTerms {
				fmt.Fprintf(w, "  %s\n", l.T("lint.text.mx-term", m.Term, m.Domain, m.Names))
			}
			fmt.Fprintf(w, "  %s\n", l.T("lint.text.tree"))
			writeNode(w, s.Tree, 2, l)
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
		if d.SummaryText != "" {
			fmt.Fprintf(w, "  %s\n", d.SummaryText)
		}
	}
	if len(r.DKIM) > 0 {
		fmt.Fprintf(w, "\n== DKIM\n")
		for _, k := range r.DKIM {
			source := l.T("domain.source." + k.Source)
			switch {
			case k.Key != nil && k.Problem.IsZero():
				fmt.Fprintf(w, "  s=%s (%s): %s\n", k.Selector, source, l.T("lint.text.key", keyType(k.Key), strconv.Itoa(k.Key.Bits)))
			default:
				fmt.Fprintf(w, "  s=%s (%s): %s\n", k.Selector, source, l.Say(k.Problem))
			}
		}
	}
	if m := r.MX; m != nil {
		fmt.Fprintf(w, "\n== MX\n")
		for _, h := range m.Hosts {
			fmt.Fprintf(w, "  %d %s\n", h.Pref, h.Host)
			for _, a := range h.Addresses {
				confirmed := l.T("domain.unconfirmed")
				if a.Confirmed {
					confirmed = l.T("domain.confirmed")
				}
				fmt.Fprintf(w, "      %s  %s  %s\n", a.IP, l.Say(ptrText(a.PTR)), confirmed)
			}
		}
	}
}

func writeNode(w io.Writer, n *SPFNode, indent int, l i18n.Lang) {
	pad := strings.Repeat("  ", indent)
	via := ""
	if n.Via != "" {
		via = " (" + n.Via + ")"
	}
	fmt.Fprintf(w, "%s%s%s: %s\n", pad, n.Domain, via, l.T("lint.text.terms", n.DNSTerms))
	if n.Record != "" {
		fmt.Fprintf(w, "%s  %q\n", pad, n.Record)
	}
	if !n.Problem.IsZero() {
		fmt.Fprintf(w, "%s  %s %s\n", pad, l.T("lint.text.problem"), l.Say(n.Problem))
	}
	for _, c := range n.Children {
		writeNode(w, c, indent+1, l)
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}
