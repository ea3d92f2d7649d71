package requirements

import (
	"fmt"
	"net/mail"
	"regexp"
	"strconv"
	"strings"

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
	it := Item{ID: "display-name", Title: "The From display name does not pose as another sender"}
	name := strings.TrimSpace(in.From.Name)
	if name == "" {
		it.Status = NA
		it.Evidence = append(it.Evidence, "the From has no display name")
		return it
	}
	it.Evidence = append(it.Evidence, "display name: "+shown(name))
	var problems []string
	for _, m := range addressInName.FindAllStringSubmatch(name, 3) {
		if d := strings.ToLower(m[1]); d != in.From.Domain {
			problems = append(problems, fmt.Sprintf("it holds the address %s, at %s, not the From domain %s", shown(m[0]), shown(d), shown(in.From.Domain)))
		}
	}
	for _, mark := range verificationMarks {
		if strings.Contains(name, mark) {
			problems = append(problems, "it carries "+mark+", which reads as a verification badge")
			break
		}
	}
	if low := strings.ToLower(name); strings.Contains(low, "verified") || strings.Contains(low, "verificato") {
		problems = append(problems, "it calls itself verified")
	}
	if to, err := mail.ParseAddressList(in.Message.First("To")); err == nil {
		for _, a := range to {
			if n := strings.TrimSpace(a.Name); len(n) >= 3 && strings.EqualFold(n, name) {
				problems = append(problems, "it is the recipient's own name, from To")
				break
			}
		}
	}
	if subj := strings.TrimSpace(message.DecodeHeader(in.Message.First("Subject"))); len(subj) >= 8 && strings.Contains(strings.ToLower(name), strings.ToLower(subj)) {
		problems = append(problems, "it repeats the Subject")
	}
	if len(problems) == 0 {
		it.Status = Pass
		return it
	}
	it.Status = Warn
	it.Evidence = append(it.Evidence, problems...)
	it.Fix = "use your organization's (or your own) name as the display name: no addresses, no badges, no subject text, not the recipient's name"
	return it
}

// replyPrefixes are Subject prefixes of replies and forwards in the
// languages testerd's users write (Re:, Fwd:, the Italian R: and I:, the
// German AW: and WG:, the French TR:, the Spanish RV:).
var replyPrefixes = []string{"re:", "fwd:", "fw:", "r:", "i:", "aw:", "wg:", "tr:", "rv:"}

func checkReplyPrefix(m *message.Message) Item {
	it := Item{ID: "reply-prefix", Title: "Re: and Fwd: only on real replies and forwards"}
	subj := strings.ToLower(strings.TrimSpace(message.DecodeHeader(m.First("Subject"))))
	prefix := ""
	for _, p := range replyPrefixes {
		if strings.HasPrefix(subj, p) {
			prefix = p
			break
		}
	}
	if prefix == "" {
		it.Status = Pass
		it.Evidence = append(it.Evidence, "the Subject has no reply or forward prefix")
		return it
	}
	if m.First("In-Reply-To") != "" || m.First("References") != "" {
		it.Status = Pass
		it.Evidence = append(it.Evidence, fmt.Sprintf("the Subject starts with %q and the message names the one it answers (In-Reply-To or References)", prefix))
		return it
	}
	it.Status = Warn
	it.Evidence = append(it.Evidence, fmt.Sprintf("the Subject starts with %q, but there is no In-Reply-To or References: it is not a reply or forward", prefix))
	it.Fix = "drop the " + strings.ToUpper(prefix[:len(prefix)-1]) + ": prefix unless the message answers or forwards another"
	return it
}

func checkBothAligned(in Input) Item {
	it := Item{ID: "both-aligned", Title: "Both SPF and DKIM align with the From domain"}
	d := in.DMARC
	if d == nil || d.FromDomain == "" {
		it.Status = NA
		it.Evidence = append(it.Evidence, "no single From domain to align with")
		return it
	}
	switch {
	case d.SPFAligned && d.DKIMAligned:
		it.Status = Pass
		it.Evidence = append(it.Evidence, "SPF and DKIM both pass for domains aligned with "+shown(d.FromDomain))
	case d.SPFAligned || d.DKIMAligned:
		one, other := "SPF", "DKIM"
		if d.DKIMAligned {
			one, other = "DKIM", "SPF"
		}
		it.Status = Warn
		it.Evidence = append(it.Evidence, fmt.Sprintf("only %s is aligned with %s: DMARC passes on it alone, and a forward or a list that breaks it leaves nothing", one, shown(d.FromDomain)))
		it.Fix = fmt.Sprintf("send with a MAIL FROM (return path) under %s that passes SPF: providers are moving to requiring both", shown(d.OrgDomain))
		if other == "DKIM" {
			it.Fix = fmt.Sprintf("sign with d=%s (or a parent): providers are moving to requiring both", shown(d.OrgDomain))
		}
	default:
		it.Status = NA
		it.Evidence = append(it.Evidence, "neither is aligned: see the alignment requirement")
	}
	return it
}

// checkSPFEntries looks for the entries Gmail calls suspicious in the SPF
// records the evaluation read (the sender's and its includes'): a pass for
// everyone (+all), a network so wide it is everyone too (an IPv4 /8 or an
// IPv6 /16 or wider), and ptr, which RFC 7208 §5.5 says not to use.
func checkSPFEntries(in Input) Item {
	it := Item{ID: "spf-entries", Title: "No suspicious entries in the SPF record (+all, huge networks, ptr)", Blocking: true}
	var ev *spf.Evaluation
	if in.SPF != nil {
		ev = in.SPF.Effective()
	}
	if ev == nil || ev.Trace == nil || ev.Trace.Record == "" {
		it.Status = NA
		it.Evidence = append(it.Evidence, "no SPF record was read")
		return it
	}
	var found []string
	nodes, seen := []*spf.Node{ev.Trace}, 0
	for len(nodes) > 0 && seen < 2*spf.MaxDNSTerms {
		n := nodes[0]
		nodes, seen = nodes[1:], seen+1
		for _, term := range strings.Fields(n.Record) {
			if why := suspicious(term); why != "" {
				found = append(found, fmt.Sprintf("%s: %s (%s)", shown(n.Domain), shown(term), why))
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
		it.Evidence = append(it.Evidence, fmt.Sprintf("%d SPF record(s) read, none with +all, a huge network or ptr", seen))
		return it
	}
	it.Status = Fail
	it.Evidence = append(it.Evidence, found...)
	it.Fix = "end the record with ~all or -all, list your servers' own addresses instead of huge networks, and use ip4:, ip6: or a: instead of ptr"
	return it
}

// suspicious says why one SPF term is suspicious, or "".
func suspicious(term string) string {
	t := strings.ToLower(term)
	q := "+"
	if t != "" && strings.ContainsRune("+-~?", rune(t[0])) {
		q, t = t[:1], t[1:]
	}
	switch {
	case t == "all" && q == "+":
		return "anyone passes"
	case t == "ptr" || strings.HasPrefix(t, "ptr:"):
		return "ptr is slow and unreliable; RFC 7208 §5.5 says not to use it"
	case q != "+":
		return ""
	case strings.HasPrefix(t, "ip4:") || strings.HasPrefix(t, "ip6:"):
		_, bits, ok := strings.Cut(t[4:], "/")
		if !ok {
			return ""
		}
		n, err := strconv.Atoi(bits)
		if err != nil {
			return ""
		}
		if strings.HasPrefix(t, "ip4:") && n <= spf.WideIPv4Bits || strings.HasPrefix(t, "ip6:") && n <= spf.WideIPv6Bits {
			return fmt.Sprintf("a /%d lets a huge part of the Internet pass", n)
		}
	}
	return ""
}
