package reply

import (
	"sort"
	"strings"
	"testing"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/i18n/i18ntest"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/rcpt"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify/verifytest"
)

// TestPseudoLocale writes the reply to every golden verdict, as each
// tester would, in the pseudo-locale: every word of it must come from the
// catalog or be data (records, addresses, headers, the DNS answers in the
// trace, the quoted bounce wording).
func TestPseudoLocale(t *testing.T) {
	l := i18n.EnablePseudo()
	words := map[string]int{}
	replies := 0
	for _, name := range verifytest.Cases(t) {
		v := verifytest.Judge(t, name)
		for _, k := range kind.Testers {
			vk := *v
			vk.Kind = k
			p := &store.Probe{ID: store.NewID(), Address: rcpt.Parse(k, string(l)), ClientIP: v.Envelope.IP, Helo: "mail.abc.it", MailFrom: "joe@abc.it"}
			body := cfg.body(p, &vk, k, "joe@abc.it")
			replies++
			bad := i18ntest.Unmarked(dataLines(body), vk.Message.Text(), vk.From.Name, vk.From.Header)
			for _, w := range bad {
				words[w]++
			}
			if len(bad) > 0 && len(words) < 50 {
				t.Errorf("%s to %s@: %d words not from the catalog: %q", name, k, len(bad), bad[:min(len(bad), 20)])
			}
		}
	}
	if len(words) > 0 {
		var all []string
		for w := range words {
			all = append(all, w)
		}
		sort.Slice(all, func(i, j int) bool { return words[all[i]] > words[all[j]] })
		t.Logf("%d distinct words outside the catalog: %q", len(all), all[:min(len(all), 40)])
	}
	t.Logf("%d replies in the pseudo-locale", replies)
}

// dataLines drops the lines of a reply that are data as a whole: header
// fields as added (Authentication-Results, Received-SPF, their folded
// continuations) and the DNS answers and records of the trace.
func dataLines(body string) string {
	var out []string
	folded := false
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "Authentication-Results:"), strings.HasPrefix(trimmed, "Received-SPF:"):
			folded = true
			continue
		case folded && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) && !strings.Contains(line, i18n.PseudoOpen):
			continue
		}
		folded = false
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
