package requirements

import (
	"context"
	"net/netip"
	"strings"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/verify/spf"
)

// checkHELO: the HELO/EHLO name is a domain name that resolves (Orange,
// GMX/WEB.DE and IONOS ask it; RFC 5321 §4.1.1.1 asks for the client's
// primary host name). Only a session has one: offline it does not apply.
func checkHELO(ctx context.Context, r dnsx.Resolver, in Input) Item {
	it := Item{ID: "helo"}
	helo := strings.TrimSuffix(in.Helo, ".")
	switch {
	case helo == "":
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.helo.none")}
		return it
	case strings.HasPrefix(helo, "["):
		it.Status, it.Problem, it.Fix = Fail, m("req.helo.literal", shown(helo)), m("req.helo.fix-name")
		return it
	case !strings.Contains(helo, ".") || dnsx.CheckName(helo) != nil:
		it.Status, it.Problem, it.Fix = Fail, m("req.helo.not-fqdn", shown(helo)), m("req.helo.fix-name")
		return it
	}
	addrs, err := r.LookupIP(ctx, "ip", helo)
	if err != nil {
		k := dnsx.KindOf(err)
		it.Evidence = append(it.Evidence, m("ev.helo.error", shown(helo), k.String()))
		if k == dnsx.ServFail || k == dnsx.Timeout || k == dnsx.Unreachable || k == dnsx.Refused {
			it.Status, it.Problem = Warn, m("req.helo.unsure", shown(helo))
			return it
		}
		it.Status, it.Problem, it.Fix = Fail, m("req.helo.unresolved", shown(helo)), m("req.helo.fix-resolve", shown(helo), in.IP.String())
		return it
	}
	it.Evidence = append(it.Evidence, m("ev.helo.addrs", shown(helo), addrList(addrs)))
	it.Status = Pass
	return it
}

// checkGenericRDNS: the confirmed PTR name is the sender's own, not one
// an access provider assigns (GMX/WEB.DE: generic names "usually result
// in rejection"; IONOS takes no mail from dial-up or dynamic addresses).
// confirmed is the name checkReverseDNS confirmed, "" for none.
func checkGenericRDNS(ip netip.Addr, confirmed string) Item {
	it := Item{ID: "rdns-generic"}
	if confirmed == "" {
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.generic.no-ptr")}
		return it
	}
	if why := generic(confirmed, ip); !why.IsZero() {
		it.Status, it.Problem, it.Fix = Fail, m("req.rdns.generic", shown(confirmed), why), m("req.rdns.fix-generic", ip.String())
		return it
	}
	it.Status, it.Evidence = Pass, []i18n.Msg{m("ev.generic.own", shown(confirmed))}
	return it
}

// checkSPFAuthorized: SPF does not refuse the sending server. La Poste
// rejects what the sender's SPF record does not authorize, and a record
// that cannot be evaluated: a fail or a permerror, not a missing record
// (which the spf requirement counts).
func checkSPFAuthorized(in Input) Item {
	it := Item{ID: "spf-authorized"}
	var e *spf.Evaluation
	if in.SPF != nil {
		e = in.SPF.Effective()
	}
	if e == nil {
		it.Status, it.Evidence = NA, []i18n.Msg{m("req.spf.no-identity")}
		return it
	}
	it.Evidence = append(it.Evidence, m("ev.spf", string(e.Result), shown(e.Domain), string(e.Identity), in.IP.String()))
	switch e.Result {
	case spf.Fail:
		it.Status = Fail
		it.Problem, it.Fix = m("req.spf.problem", string(e.Result), shown(e.Domain), in.IP.String()), m("req.spf.fix-authorize", in.IP.String(), shown(e.Domain))
	case spf.PermError:
		it.Status = Fail
		it.Problem, it.Fix = m("req.spf.permerror", shown(e.Domain)), m("req.spf.fix-record", shown(e.Domain))
	case spf.SoftFail:
		it.Status = Warn
		it.Problem, it.Fix = m("req.spf.problem", string(e.Result), shown(e.Domain), in.IP.String()), m("req.spf.fix-authorize", in.IP.String(), shown(e.Domain))
	default:
		it.Status = Pass
	}
	return it
}

// checkDKIMAligned: a DKIM signature passes for a domain aligned with the
// From domain, relaxed at least. GMX and WEB.DE make it the floor ("SPF
// alone is not sufficient").
func checkDKIMAligned(in Input) Item {
	it := Item{ID: "dkim-aligned"}
	d := in.DMARC
	if d == nil || d.FromDomain == "" {
		it.Status, it.Problem, it.Fix = Fail, m("req.alignment.no-from"), m("req.alignment.fix-from")
		return it
	}
	if d.DKIMAligned {
		it.Status, it.Evidence = Pass, []i18n.Msg{m("ev.dkim-aligned.ok", shown(d.FromDomain))}
		return it
	}
	it.Status = Fail
	it.Problem, it.Fix = m("req.dkim-aligned.problem", shown(d.FromDomain)), m("req.dkim-aligned.fix", shown(d.OrgDomain))
	return it
}
