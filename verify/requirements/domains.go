package requirements

import (
	"context"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/net/idna"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/message"
)

// checkReceiving checks that the From and Reply-To domains can receive
// mail (an MX, or else an address, RFC 5321 §5.1): a reply or a bounce to
// a domain that cannot is what providers count against the sender. A null
// MX (RFC 7505) says the domain takes no mail.
func checkReceiving(ctx context.Context, r dnsx.Resolver, in Input) Item {
	it := Item{ID: "receiving-domains", Title: "The From and Reply-To domains can receive mail"}
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
		it.Evidence = append(it.Evidence, "no From or Reply-To domain")
		return it
	}
	var bad, unsure []string
	for _, d := range domains {
		mxs, err := r.LookupMX(ctx, d)
		switch {
		case err == nil && len(mxs) == 1 && mxs[0].Host == "." && mxs[0].Pref == 0:
			bad = append(bad, shown(d)+" has a null MX (RFC 7505): it takes no mail")
			continue
		case err == nil && len(mxs) > 0:
			it.Evidence = append(it.Evidence, fmt.Sprintf("%s: MX %s", shown(d), shown(strings.TrimSuffix(mxs[0].Host, "."))))
			continue
		case err != nil && !dnsx.IsNotFound(err):
			unsure = append(unsure, fmt.Sprintf("%s: the MX lookup failed (%v)", shown(d), dnsx.KindOf(err)))
			continue
		}
		a4, err4 := r.LookupIP(ctx, "ip4", d)
		a6, err6 := r.LookupIP(ctx, "ip6", d)
		switch {
		case len(a4)+len(a6) > 0:
			it.Evidence = append(it.Evidence, shown(d)+": no MX, but an address (mail goes there)")
		case (err4 != nil && !dnsx.IsNotFound(err4)) || (err6 != nil && !dnsx.IsNotFound(err6)):
			unsure = append(unsure, shown(d)+": the address lookups failed")
		default:
			bad = append(bad, shown(d)+" has no MX and no address: mail to it cannot be delivered")
		}
	}
	switch {
	case len(bad) > 0:
		it.Status = Fail
		it.Evidence = append(it.Evidence, bad...)
		it.Fix = "publish an MX for each domain people may answer (From, Reply-To), or use a domain that has one"
	case len(unsure) > 0:
		it.Status = Warn
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
	it := Item{ID: "idn-scripts", Title: "Internationalized domain names do not mix scripts (UTS #39)"}
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
		it.Evidence = append(it.Evidence, "no internationalized domain name")
		return it
	}
	var mixed []string
	sorted := make([]string, 0, len(names))
	for d := range names {
		sorted = append(sorted, d)
	}
	slices.Sort(sorted)
	for _, d := range sorted {
		what := names[d]
		u, err := idna.Lookup.ToUnicode(d)
		if err != nil {
			mixed = append(mixed, fmt.Sprintf("%s %s is not a valid IDN: %v", what, shown(d), err))
			continue
		}
		clean := true
		for _, label := range strings.Split(u, ".") {
			if scripts, ok := highlyRestrictive(label); !ok {
				clean = false
				mixed = append(mixed, fmt.Sprintf("%s %s (%s): the label %q mixes %s", what, shown(d), shown(u), label, strings.Join(scripts, " and ")))
			}
		}
		if clean {
			it.Evidence = append(it.Evidence, fmt.Sprintf("%s %s (%s): one script per label", what, shown(d), shown(u)))
		}
	}
	if len(mixed) == 0 {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	it.Evidence = append(it.Evidence, mixed...)
	it.Fix = "use a domain whose labels are each in one script (or plain ASCII): mixed scripts are how look-alike domains are made"
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
	it := Item{ID: "ipv6", Title: "Over IPv6: reverse DNS, and SPF or DKIM passing", Blocking: true}
	if !in.IP.IsValid() || !in.IP.Unmap().Is6() {
		it.Status = NA
		it.Evidence = append(it.Evidence, "the probe came over IPv4; if your server also sends over IPv6, send a probe over each")
		return it
	}
	it.Evidence = append(it.Evidence, "the probe came over IPv6 from "+in.IP.String())
	var missing []string
	if rdns != Pass {
		missing = append(missing, "forward-confirmed reverse DNS")
	}
	if !spfPass && !dkimPass {
		missing = append(missing, "SPF or DKIM passing")
	}
	if len(missing) == 0 {
		it.Status = Pass
		return it
	}
	it.Status = Fail
	it.Evidence = append(it.Evidence, "missing: "+strings.Join(missing, ", "))
	it.Fix = "give the IPv6 address a PTR whose name resolves back to it, and authenticate with SPF or DKIM; or send to Gmail over IPv4"
	return it
}
