package explain

import (
	"fmt"
	"strings"

	"github.com/testerd/testerd/verify/requirements"
)

// MaxScore is the score of a message with no finding.
const MaxScore = 10.0

// Weights are the points each failed requirement costs the score; a
// warning costs half. They are published (the README's table is generated
// from them) so that every point lost names its finding. The heaviest are
// what refuses mail from any sender; then the bulk senders' rules; then
// what only raises suspicion.
var Weights = []struct {
	ID     string
	Points float64
}{
	{"auth", 3}, {"gmail-from", 3}, {"rdns", 2}, {"ipv6", 2}, {"tls", 1}, {"spf-entries", 1}, {"format", 1},
	{"alignment", 2}, {"spf", 1}, {"dkim", 1}, {"dmarc", 1}, {"unsubscribe", 1},
	{"helo", 1}, {"rdns-generic", 1}, {"dkim-aligned", 1}, {"spf-authorized", 1},
	{"attachments", 2}, {"link-reputation", 2}, {"html-clip", 1}, {"link-text", 1}, {"links", 0.5}, {"text-part", 0.5}, {"images", 0.5},
	{"body-unsubscribe", 0.5}, {"unsubscribe-try", 1},
	{"reputation", 2}, {"receiving-domains", 1}, {"idn-scripts", 1},
	{"display-name", 1}, {"reply-prefix", 1}, {"both-aligned", 1}, {"size", 1}, {"arc", 0},
}

// Points is what a requirement with status st costs.
func Points(id string, st requirements.Status) float64 {
	for _, w := range Weights {
		if w.ID == id {
			switch st {
			case requirements.Fail:
				return w.Points
			case requirements.Warn:
				return w.Points / 2
			}
		}
	}
	return 0
}

// WeightsMarkdown is the README's table of the weights (a test keeps the
// README equal to it).
func WeightsMarkdown() string {
	var b strings.Builder
	b.WriteString("| requirement | points when it fails | when it warns |\n| --- | --- | --- |\n")
	for _, w := range Weights {
		fmt.Fprintf(&b, "| %s | %g | %g |\n", w.ID, w.Points, w.Points/2)
	}
	return b.String()
}
