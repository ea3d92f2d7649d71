package requirements

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/net/idna"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
)

// checkReceiving checks that the From and Reply-To domains can receive
// mail (an MX, or else an address, RFC 5321 §5.1): a reply or a bounce to
// a domain that cannot is what providers count against the sender. A null
// MX (RFC 7505) says the domain takes no mail.
func checkReceiving(ctx context.Context, r dnsx.Resolver, in Input) Item {
	it := Item{ID: "receiving-domains"}
	domains := []string{}
	if in.From.Domain != "" {
		domains = append(domains, in.From.Domain)
	}
	if rt := in.Message.First("Reply-To"); rt != "" {
		if addrs, err := mail.ParseAddressList(rt); err == nil {
			for _, a := range addrs {
				if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
					if d, err := message.Domain(a.Address[at+1:]); err == nil && !containsFold(domains, d) && len(domains) < 3 {
						domains = append(domains, d)
					}
				}
			}
		}
	}
	if len(domains) == 0 {
		it.Status = NA
		it.Evidence = append(it.Evidence, m("ev.receiving.none"))
		return it
	}
	var bad, unsure []i18n.Msg
	for _, d := range domains {
		mxs, err := r.LookupMX(ctx, d)
		switch {
		case err == nil && len(mxs) == 1 && mxs[0].Host == "." && mxs[0].Pref == 0:
			bad = append(bad, m("ev.receiving.null-mx", shown(d)))
			continue
		case err == nil && len(mxs) > 0:
			it.Evidence = append(it.Evidence, m("ev.receiving.mx", shown(d), shown(strings.TrimSuffix(mxs[0].Host, "."))))
			continue
		case err != nil && !dnsx.IsNotFound(err):
			unsure = append(unsure, m("ev.receiving.mx-failed", shown(d), dnsx.KindOf(err).String()))
			continue
		}
		a4, err4 := r.LookupIP(ctx, "ip4", d)
		a6, err6 := r.LookupIP(ctx, "ip6", d)
		switch {
		case len(a4)+len(a6) > 0:
			it.Evidence = append(it.Evidence, m("ev.receiving.address", shown(d)))
		case (err4 != nil && !dnsx.IsNotFound(err4)) || (err6 != nil && !dnsx.IsNotFound(err6)):
			unsure = append(unsure, m("ev.receiving.address-failed", shown(d)))
		default:
			bad = append(bad, m("ev.receiving.nothing", shown(d)))
		}
	}
	switch {
	case len(bad) > 0:
		it.Status = Fail
		it.Evidence = append(it.Evidence, bad...)
		it.Problem, it.Fix = bad[0], m("req.receiving-domains.fix")
	case len(unsure) > 0:
		it.Status, it.Problem = Warn, unsure[0]
		it.Evidence = append(it.Evidence, unsure...)
	default:
		it.Status = Pass
	}
	return it
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// checkScripts looks at the internationalized domain names the message
// shows (From, Reply-To, MAIL FROM, the DKIM signing domains): a label
// that mixes scripts beyond what Unicode's "highly restrictive" profile
// allows (UTS #39 §5.2: one script, or Latin with Han and Japanese kana,
// Han with Bopomofo, or Han with Hangul) is how look-alike domains are
// made, and providers treat it so.
func checkScripts(in Input) Item {
	it := Item{ID: "idn-scripts"}
	names := map[string]string{}
	add := func(what, d string) {
		if d != "" && strings.Contains(strings.ToLower(d), "xn--") {
			names[strings.ToLower(d)] = what
		}
	}
	add("From", in.From.Domain)
	if at := strings.LastIndexByte(in.MailFrom, '@'); at >= 0 {
		add("MAIL FROM", in.MailFrom[at+1:])
	}
	if addrs, err := mail.ParseAddressList(in.Message.First("Reply-To")); err == nil {
		for _, a := range addrs {
			if at := strings.LastIndexByte(a.Address, '@'); at >= 0 {
				add("Reply-To", a.Address[at+1:])
			}
		}
	}
	if in.DKIM != nil {
		for _, sig := range in.DKIM.Signatures {
			add("DKIM d=", sig.Domain)
		}
	}
	if len(names) == 0 {
		it.Status = NA
		it.Evidence = append(it.Evidence, m("ev.idn.none"))
		return it
	}
	var mixed []i18n.Msg
	sorted := make([]string, 0, len(names))
	for d := range names {
		sorted = append(sorted, d)
	}
	slices.Sort(sorted)
	for _, d := range sorted {
		what := names[d]
		u, err := idna.Lookup.ToUnicode(d)
		if err != nil {
			mixed = append(mixed, m("ev.idn.invalid", what, shown(d), err.Error()))
			continue
		}
		clean := true
		for _, label := range strings.Split(u, ".") {
			if scripts, ok := highlyRestrictive(label); !ok {
				clean = false
				mixed = append(mixed, m("ev.idn.mixed", what, shown(d), shown(u), label, strings.Join(scripts, " + ")))
			}
		}
		if clean {
			it.Evidence = append(it.Evidence, m("ev.idn.ok", what, shown(d), shown(u)))
		}
	}
	if len(mixed) == 0 {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	it.Evidence = append(it.Evidence, mixed...)
	it.Problem, it.Fix = mixed[0], m("req.idn-scripts.fix")
	return it
}

// highlyRestrictive reports whether a label's scripts, Common and
// Inherited aside, form one of UTS #39's highly restrictive sets, and
// lists them.
func highlyRestrictive(label string) ([]string, bool) {
	seen := map[string]bool{}
	var order []string
	for _, r := range label {
		if r < 0x80 && r != '-' && !unicode.IsLetter(r) {
			continue
		}
		name := scriptOf(r)
		if name == "" || name == "Common" || name == "Inherited" || seen[name] {
			continue
		}
		seen[name] = true
		order = append(order, name)
	}
	if len(order) <= 1 {
		return order, true
	}
	allowed := [][]string{
		{"Latin", "Han", "Hiragana", "Katakana"},
		{"Latin", "Han", "Bopomofo"},
		{"Latin", "Han", "Hangul"},
	}
	for _, set := range allowed {
		ok := true
		for s := range seen {
			if !containsFold(set, s) {
				ok = false
				break
			}
		}
		if ok {
			return order, true
		}
	}
	return order, false
}

// scriptOf names the Unicode script of r.
func scriptOf(r rune) string {
	for name, table := range unicode.Scripts {
		if unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

// checkIPv6 applies Gmail's rule for mail over IPv6: the sending address
// needs reverse DNS that resolves back, and the message SPF or DKIM.
func checkIPv6(in Input, rdns Status, spfPass, dkimPass bool) Item {
	it := Item{ID: "ipv6"}
	if !in.IP.IsValid() || !in.IP.Unmap().Is6() {
		it.Status = NA
		it.Evidence = append(it.Evidence, m("ev.ipv6.v4"))
		return it
	}
	it.Evidence = append(it.Evidence, m("ev.ipv6.v6", in.IP.String()))
	var missing []i18n.Msg
	if rdns != Pass {
		missing = append(missing, m("word.confirmed-ptr"))
	}
	if !spfPass && !dkimPass {
		missing = append(missing, m("word.spf-or-dkim"))
	}
	if len(missing) == 0 {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	it.Problem, it.Fix = m("req.ipv6.problem", in.IP.String(), m("list", missing)), m("req.ipv6.fix")
	return it
}
