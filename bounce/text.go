package bounce

import (
	"fmt"
	"io"
	"strings"

	"github.com/testerd/testerd/i18n"
)

// WriteText writes an explanation for a terminal or a mail, in l.
func WriteText(w io.Writer, s *Said, l i18n.Lang) {
	if s.Provider != "" || s.Code != "" || s.EnhancedCode != "" {
		fmt.Fprintf(w, "%s\n", strings.TrimSpace(l.T("bounce.text.head", orDash(s.Provider), strings.TrimSpace(s.Code+" "+s.EnhancedCode))))
	}
	if s.Diagnostic != "" {
		fmt.Fprintf(w, "  “%s”\n", s.Diagnostic)
	}
	fmt.Fprintf(w, "\n%s\n", s.MeaningText)
	if s.Recognised {
		fmt.Fprintf(w, "%s %s\n", l.T("bounce.text.side"), s.SideText)
	}
	if len(s.StepsText) > 0 {
		fmt.Fprintf(w, "\n%s\n", l.T("label.steps"))
		for i, st := range s.StepsText {
			fmt.Fprintf(w, "%d. %s\n", i+1, st)
		}
	}
	if s.Source != "" {
		fmt.Fprintf(w, "\n%s %s\n", l.T("bounce.text.source"), s.Source)
	}
}
