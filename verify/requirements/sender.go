package requirements

import (
	"net/mail"
	"regexp"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/spf"
)

// The rules the providers added in 2025–26 about how a message presents
// its sender: a display name that does not pose as someone else, reply
// and forward prefixes only on replies and forwards, and both SPF and
// DKIM aligned rather than one.

// verificationMarks are characters a display name uses to look verified
// (a check mark, a padlock, a shield), which providers treat as posing.
var verificationMarks = []string{"✅", "✔", "✓", "☑", "🔒", "🔐", "🛡", "✔️", "☑️"}

// addressInName finds an address-like word in a display name.
var addressInName = regexp.MustCompile(`[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)`)

func checkDisplayName(in Input) Item {
	it := Item{ID: "display-name"}
	name := strings.TrimSpace(in.From.Name)
	if name == "" {
		it.Status = NA
		it.Evidence = append(it.Evidence, m("ev.name.none"))
		return it
	}
	it.Evidence = append(it.Evidence, m("ev.name", shown(name)))
	var problems []i18n.Msg
	for _, a := range addressInName.FindAllStringSubmatch(name, 3) {
		if d := strings.ToLower(a[1]); d != in.From.Domain {
			problems = append(problems, m("ev.name.address", shown(a[0]), shown(d), shown(in.From.Domain)))
		}
	}
	for _, mark := range verificationMarks {
		if strings.Contains(name, mark) {
			problems = append(problems, m("ev.name.badge", mark))
			break
		}
	}
	if low := strings.ToLower(name); strings.Contains(low, "verified") || strings.Contains(low, "verificato") {
		problems = append(problems, m("ev.name.verified"))
	}
	if to, err := mail.ParseAddressList(in.Message.First("To")); err == nil {
		for _, a := range to {
			if n := strings.TrimSpace(a.Name); len(n) >= 3 && strings.EqualFold(n, name) {
				problems = append(problems, m("ev.name.recipient"))
				break
			}
		}
	}
	if subj := strings.TrimSpace(message.DecodeHeader(in.Message.First("Subject"))); len(subj) >= 8 && strings.Contains(strings.ToLower(name), strings.ToLower(subj)) {
		problems = append(problems, m("ev.name.subject"))
	}
	if len(problems) == 0 {
		it.Status = Pass
		return it
	}
	it.Status = Warn
	it.Evidence = append(it.Evidence, problems...)
	it.Problem, it.Fix = m("req.display-name.problem", shown(name), problems[0]), m("req.display-name.fix")
	return it
}

// replyPrefixes are Subject prefixes of replies and forwards in the
// languages testerd's users write (Re:, Fwd:, the Italian R: and I:, the
// German AW: and WG:, the French TR:, the Spanish RV:).
var replyPrefixes = []string{"re:", "fwd:", "fw:", "r:", "i:", "aw:", "wg:", "tr:", "rv:"}

func checkReplyPrefix(msg *message.Message) Item {
	it := Item{ID: "reply-prefix"}
	subj := strings.ToLower(strings.TrimSpace(message.DecodeHeader(msg.First("Subject"))))
	prefix := ""
	for _, p := range replyPrefixes {
		if strings.HasPrefix(subj, p) {
			prefix = p
			break
		}
	}
	if prefix == "" {
		it.Status = Pass
		it.Evidence = append(it.Evidence, m("ev.prefix.none"))
		return it
	}
	if msg.First("In-Reply-To") != "" || msg.First("References") != "" {
		it.Status = Pass
		it.Evidence = append(it.Evidence, m("ev.prefix.reply", prefix))
		return it
	}
	it.Status = Warn
	it.Evidence = append(it.Evidence, m("ev.prefix.not-reply", prefix))
	it.Problem, it.Fix = m("req.reply-prefix.problem", prefix), m("req.reply-prefix.fix", strings.ToUpper(prefix[:len(prefix)-1]))
	return it
}

func checkBothAligned(in Input) Item {
	it := Item{ID: "both-aligned"}
	d := in.DMARC
	if d == nil || d.FromDomain == "" {
		it.Status = NA
		it.Evidence = append(it.Evidence, m("ev.both.no-from"))
		return it
	}
	switch {
	case d.SPFAligned && d.DKIMAligned:
		it.Status = Pass
		it.Evidence = append(it.Evidence, m("ev.both.ok", shown(d.FromDomain)))
	case d.SPFAligned || d.DKIMAligned:
		one := "SPF"
		if d.DKIMAligned {
			one = "DKIM"
		}
		it.Status = Warn
		it.Problem = m("req.both-aligned.problem", one, shown(d.FromDomain))
		it.Fix = m("req.both-aligned.fix-spf", shown(d.OrgDomain))
		if one == "SPF" {
			it.Fix = m("req.both-aligned.fix-dkim", shown(d.OrgDomain))
		}
	default:
		it.Status = NA
		it.Evidence = append(it.Evidence, m("ev.both.none"))
	}
	return it
}

// checkSPFEntries looks for the entries Gmail calls suspicious in the SPF
// records the evaluation read (the sender's and its includes'): a pass for
// everyone (+all), a network so wide it is everyone too (an IPv4 /8 or an
// IPv6 /16 or wider), and ptr, which RFC 7208 §5.5 says not to use.
func checkSPFEntries(in Input) Item {
	it := Item{ID: "spf-entries"}
	var ev *spf.Evaluation
	if in.SPF != nil {
		ev = in.SPF.Effective()
	}
	if ev == nil || ev.Trace == nil || ev.Trace.Record == "" {
		it.Status = NA
		it.Evidence = append(it.Evidence, m("ev.entries.none"))
		return it
	}
	var found []i18n.Msg
	nodes, seen := []*spf.Node{ev.Trace}, 0
	for len(nodes) > 0 && seen < 2*spf.MaxDNSTerms {
		n := nodes[0]
		nodes, seen = nodes[1:], seen+1
		for _, term := range strings.Fields(n.Record) {
			if why := suspicious(term); !why.IsZero() {
				found = append(found, m("ev.entries.found", shown(n.Domain), shown(term), why))
			}
		}
		for _, st := range n.Steps {
			if st.Sub != nil {
				nodes = append(nodes, st.Sub)
			}
		}
	}
	if len(found) == 0 {
		it.Status = Pass
		it.Evidence = append(it.Evidence, m("ev.entries.ok", seen))
		return it
	}
	it.Status = Fail
	it.Evidence = append(it.Evidence, found...)
	it.Problem, it.Fix = m("req.spf-entries.problem", found[0]), m("req.spf-entries.fix")
	return it
}

// suspicious says why one SPF term is suspicious, or is zero.
func suspicious(term string) i18n.Msg {
	t := strings.ToLower(term)
	q := "+"
	if t != "" && strings.ContainsRune("+-~?", rune(t[0])) {
		q, t = t[:1], t[1:]
	}
	switch {
	case t == "all" && q == "+":
		return m("why.plus-all")
	case t == "ptr" || strings.HasPrefix(t, "ptr:"):
		return m("why.ptr")
	case q != "+":
		return i18n.Msg{}
	case strings.HasPrefix(t, "ip4:") || strings.HasPrefix(t, "ip6:"):
		_, bits, ok := strings.Cut(t[4:], "/")
		if !ok {
			return i18n.Msg{}
		}
		n, err := strconv.Atoi(bits)
		if err != nil {
			return i18n.Msg{}
		}
		if strings.HasPrefix(t, "ip4:") && n <= spf.WideIPv4Bits || strings.HasPrefix(t, "ip6:") && n <= spf.WideIPv6Bits {
			return m("why.wide", n)
		}
	}
	return i18n.Msg{}
}
