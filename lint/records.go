package lint

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/dane"
	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/mtasts"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
)

// DMARCReport is the DMARC part of a check.
type DMARCReport struct {
	// Domain is the discovery for the domain itself by the RFC 9989 Tree
	// Walk; OrgDomain its organizational domain and how it was found; Org
	// the organizational domain's own record, when the domain is below it
	// and the walk stopped before.
	Domain    *dmarc.Discovery `json:"domain"`
	OrgDomain dmarc.Org        `json:"org_domain"`
	Org       *dmarc.Discovery `json:"org,omitempty"`
	// Summary says in words what the record asks of receivers; Report.In
	// says it (SummaryText).
	Summary     []i18n.Msg `json:"-"`
	SummaryText string     `json:"summary,omitempty"`
}

func (l *linter) dmarc(ctx context.Context) *DMARCReport {
	w := dmarc.NewWalker(l.r)
	rep := &DMARCReport{Domain: w.Discover(ctx, l.domain), OrgDomain: w.OrgDomain(ctx, l.domain)}
	if org := rep.OrgDomain.Domain; org != l.domain && org != rep.Domain.Domain {
		rep.Org = w.Discover(ctx, org)
	}
	if o := rep.OrgDomain; o.PSL != "" {
		l.add("dmarc", Info, m("lint.dmarc.org-psl", o.Domain, orgHow(o), o.PSL), none)
	}
	for _, why := range rep.Domain.Discarded {
		l.add("dmarc", Error, why, none)
	}
	d := rep.Domain
	rec := d.Record
	if rec == nil {
		switch {
		case d.Result == dmarc.TempError:
			l.add("dmarc", Warning, m("lint.dmarc.lookup", d.Reason), none) // the tally says whose failure it was
		case d.Syntax != nil:
			l.add("dmarc", Error, m("lint.dmarc.unusable", d.Reason), m("lint.dmarc.unusable.fix", d.Domain))
		default:
			l.add("dmarc", Error, m("lint.dmarc.none", l.domain), m("lint.dmarc.none.fix", rep.OrgDomain.Domain))
		}
		return rep
	}
	rep.Summary = summary(l.domain, d)
	if d.Inherited {
		l.add("dmarc", Info, m("lint.dmarc.inherited", l.domain, d.Domain), none)
	}
	for _, is := range rec.Issues {
		sev := Warning
		if is.Severity == dmarc.SeverityError {
			sev = Error
		}
		msg := m("lint.dmarc.issue", is.Tag, is.Message)
		if is.Pos > 0 {
			msg = m("lint.dmarc.issue-at", is.Pos, is.Tag, is.Message)
		}
		l.add("dmarc", sev, msg, none)
	}
	if rec.P == dmarc.PolicyNone {
		l.add("dmarc", Info, m("lint.dmarc.p-none"), m("lint.dmarc.p-none.fix"))
	}
	for _, list := range []struct {
		tag  string
		uris []string
	}{{"rua", rec.RUA}, {"ruf", rec.RUF}} {
		for i, u := range list.uris {
			if i == 5 {
				break
			}
			l.reportURI(ctx, d.Domain, list.tag, u)
		}
	}
	return rep
}

// reportURI checks one rua or ruf URI: syntax, an MX at the destination,
// and the external-destination authorization.
func (l *linter) reportURI(ctx context.Context, policyDomain, tag, u string) {
	if err := dmarc.CheckURI(u); err != nil {
		l.add("dmarc", Error, m("lint.uri.bad", tag, shown(u), i18n.Of(err)), m("lint.uri.bad.fix"))
		return
	}
	host, ok := dmarc.ReportHost(u)
	if !ok {
		return // another scheme: nothing to check by DNS
	}
	if _, err := l.r.LookupMX(ctx, host); err != nil {
		switch {
		case dnsx.KindOf(err) == dnsx.NXDomain:
			l.add("dmarc", Error, m("lint.uri.nxdomain", tag, shown(u), host), m("lint.uri.nxdomain.fix"))
			return
		case dnsx.KindOf(err) == dnsx.NoData:
			l.add("dmarc", Warning, m("lint.uri.no-mx", tag, shown(u), host), m("lint.uri.no-mx.fix", host))
		}
	}
	if dmarc.PSLOrgDomain(host) == dmarc.PSLOrgDomain(policyDomain) {
		return
	}
	name, ok := dmarc.ExternalDestination(ctx, l.r, policyDomain, host)
	if ok {
		l.add("dmarc", Info, m("lint.uri.external", tag, shown(u), name), none)
		return
	}
	l.add("dmarc", Error, m("lint.uri.unauthorized", tag, shown(u)), m("lint.uri.unauthorized.fix", host, name))
}

// orgHow says how the Tree Walk found an organizational domain.
func orgHow(o dmarc.Org) i18n.Msg {
	switch o.By {
	case "psd=n", "psd=y":
		return m("lint.org.psd", o.At, o.By)
	case "record":
		return m("lint.org.record", o.At)
	}
	return m("lint.org.none")
}

// summary says in plain words what the record asks of receivers.
func summary(domain string, d *dmarc.Discovery) []i18n.Msg {
	r := d.Record
	act := func(p dmarc.Policy) i18n.Msg { return m("lint.summary.act." + string(p)) }
	parts := []i18n.Msg{m("lint.summary.policy", domain, act(r.P), string(r.P))}
	if r.PCT != 100 {
		parts[0] = m("lint.summary.policy-pct", domain, act(r.P), string(r.P), r.PCT)
	}
	if r.SP != r.P {
		parts = append(parts, m("lint.summary.sp", act(r.SP), string(r.SP)))
	}
	if r.NP != r.SP {
		parts = append(parts, m("lint.summary.np", act(r.NP), string(r.NP)))
	}
	parts = append(parts, m("lint.summary.alignment", string(r.ADKIM), string(r.ASPF)))
	if len(r.RUA) > 0 {
		parts = append(parts, m("lint.summary.rua", shown(strings.Join(r.RUA, ", "))))
	} else {
		parts = append(parts, m("lint.summary.no-rua"))
	}
	if r.Testing {
		parts = append(parts, m("lint.summary.testing"))
	}
	return parts
}

// Where a selector came from.
const (
	SourceGiven = "given" // by the person asking
	SourceSeen  = "seen"  // in probes from the domain
)

// DKIMKey is one selector's key record.
type DKIMKey struct {
	Selector string    `json:"selector"`
	Source   string    `json:"source"` // SourceGiven or SourceSeen
	Key      *dkim.Key `json:"key,omitempty"`
	Problem  i18n.Msg  `json:"problem,omitzero"`
}

func (l *linter) dkim(ctx context.Context, o Options) []*DKIMKey {
	var keys []*DKIMKey
	seen := map[string]bool{}
	add := func(sels []string, source string) {
		for _, s := range sels {
			s = strings.ToLower(strings.TrimSpace(s))
			if s == "" || seen[s] || len(keys) == MaxSelectors {
				continue
			}
			seen[s] = true
			keys = append(keys, &DKIMKey{Selector: s, Source: source})
		}
	}
	add(o.Selectors, SourceGiven)
	add(o.Seen, SourceSeen)
	if len(keys) == 0 {
		l.add("dkim", Info, m("lint.dkim.no-selector"), none)
		return []*DKIMKey{}
	}
	for _, k := range keys {
		name := k.Selector + "._domainkey." + l.domain
		txts, err := l.r.LookupTXT(ctx, name)
		if err != nil {
			k.Problem = m("text", shown(err.Error()))
			if dnsx.IsNotFound(err) {
				k.Problem = m("lint.dkim.no-key-short")
				l.add("dkim", Error, m("lint.dkim.no-key", k.Selector, name), m("lint.dkim.no-key.fix", name))
			} else {
				l.add("dkim", Warning, m("lint.dkim.lookup", k.Selector, shown(err.Error())), none)
			}
			continue
		}
		if len(txts) > 1 {
			l.add("dkim", Warning, m("lint.dkim.records", k.Selector, len(txts), name), m("lint.fix.keep-one"))
		}
		key, err := dkim.ParseKey(txts[0])
		k.Key = key
		if key != nil {
			key.Name, key.Records = name, len(txts)
		}
		if key != nil && key.Revoked {
			k.Problem = m("lint.dkim.revoked-short")
			l.add("dkim", Warning, m("lint.dkim.revoked", k.Selector), m("lint.dkim.revoked.fix"))
			continue
		}
		if err != nil {
			k.Problem = i18n.Of(err)
			l.add("dkim", Error, m("lint.dkim.bad-key", k.Selector, i18n.Of(err)), m("lint.dkim.bad-key.fix"))
			continue
		}
		switch {
		case key.Type != "ed25519" && key.Bits < dkim.MinRSABits:
			l.add("dkim", Error, m("lint.dkim.short", k.Selector, strconv.Itoa(key.Bits)), m("lint.dkim.short.fix"))
		case key.Type != "ed25519" && key.Bits < 2048:
			l.add("dkim", Warning, m("lint.dkim.weak", k.Selector, strconv.Itoa(key.Bits)), m("lint.dkim.weak.fix"))
		default:
			l.add("dkim", Info, m("lint.dkim.key", k.Selector, keyType(key), strconv.Itoa(key.Bits)), none)
		}
		if key.Testing {
			l.add("dkim", Warning, m("lint.dkim.testing", k.Selector), m("lint.dkim.testing.fix"))
		}
		if len(key.Services) > 0 && !slices.Contains(key.Services, "email") && !slices.Contains(key.Services, "*") {
			l.add("dkim", Error, m("lint.dkim.service", k.Selector, strings.Join(key.Services, ":")), m("lint.dkim.service.fix"))
		}
	}
	return keys
}

func keyType(k *dkim.Key) string {
	if k.Type == "" {
		return "rsa"
	}
	return k.Type
}

// MXReport is the MX part of a check.
type MXReport struct {
	Hosts  []MXHost `json:"hosts"`
	NullMX bool     `json:"null_mx,omitempty"`
	MTASTS string   `json:"mta_sts,omitempty"`
	// STSPolicy is the fetched MTA-STS policy, when there is one.
	STSPolicy *mtasts.Policy `json:"mta_sts_policy,omitempty"`
	TLSRPT    string         `json:"tls_rpt,omitempty"`
}

// MXHost is one MX host with its addresses and their reverse DNS.
type MXHost struct {
	Host      string      `json:"host"`
	Pref      uint16      `json:"pref"`
	Addresses []MXAddress `json:"addresses"`
}

// MXAddress is one address of an MX host.
type MXAddress struct {
	IP        netip.Addr `json:"ip"`
	PTR       []string   `json:"ptr,omitempty"`
	Confirmed bool       `json:"confirmed"`
}

const (
	maxMXHosts        = 10
	maxAddrsPerFamily = 2
)

func (l *linter) mx(ctx context.Context) *MXReport {
	rep := &MXReport{Hosts: []MXHost{}}
	mxs, err := l.r.LookupMX(ctx, l.domain)
	switch {
	case dnsx.KindOf(err) == dnsx.NXDomain:
		l.add("mx", Error, m("lint.mx.nxdomain", l.domain), none)
		return rep
	case dnsx.KindOf(err) == dnsx.NoData:
		l.add("mx", Warning, m("lint.mx.none", l.domain), m("lint.mx.none.fix"))
	case err != nil:
		l.add("mx", Warning, m("lint.mx.lookup", shown(err.Error())), none)
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		rep.NullMX = true
		l.add("mx", Info, m("lint.mx.null", l.domain), none)
		mxs = nil
	}
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	for i, mx := range mxs {
		if i == maxMXHosts {
			l.add("mx", Info, m("lint.mx.more", len(mxs)-i), none)
			break
		}
		h := MXHost{Host: strings.TrimSuffix(mx.Host, "."), Pref: mx.Pref, Addresses: []MXAddress{}}
		for _, network := range []string{"ip4", "ip6"} {
			addrs, err := l.r.LookupIP(ctx, network, h.Host)
			if err != nil {
				continue
			}
			for j, a := range addrs {
				if j == maxAddrsPerFamily {
					break
				}
				h.Addresses = append(h.Addresses, l.confirm(ctx, a))
			}
		}
		if len(h.Addresses) == 0 {
			l.add("mx", Error, m("lint.mx.no-address", shown(h.Host)), m("lint.mx.no-address.fix"))
		}
		for _, a := range h.Addresses {
			if !a.Confirmed {
				l.add("mx", Warning, m("lint.mx.ptr", shown(h.Host), a.IP.String(), ptrText(a.PTR)), m("lint.mx.ptr.fix", a.IP.String()))
			}
		}
		rep.Hosts = append(rep.Hosts, h)
	}
	rep.MTASTS = l.present(ctx, "_mta-sts."+l.domain, "v=STSv1", "MTA-STS (RFC 8461)")
	rep.TLSRPT = l.present(ctx, "_smtp._tls."+l.domain, "v=TLSRPTv1", "TLS-RPT (RFC 8460)")
	l.mtaSTS(ctx, rep)
	l.tlsRPT(rep)
	tlsa := l.dane(ctx, rep)
	l.mxTLS(ctx, rep, tlsa)
	return rep
}

// dane looks up the TLSA records of up to maxMXTLS MX hosts (RFC 7672:
// _25._tcp.HOST) and says whether testerd's resolver validated them.
func (l *linter) dane(ctx context.Context, rep *MXReport) map[string][]*dns.TLSA {
	if l.tlsa == nil {
		return nil
	}
	out := map[string][]*dns.TLSA{}
	var without []string
	for i, h := range rep.Hosts {
		if i == maxMXTLS {
			break
		}
		host := strings.TrimSuffix(h.Host, ".")
		rrs, ad, err := l.tlsa.LookupTLSA(ctx, "_25._tcp."+host)
		switch {
		case err != nil && dnsx.IsNotFound(err):
			without = append(without, host)
			continue
		case err != nil:
			l.add("mx", Warning, m("lint.dane.lookup", shown(host), fmt.Sprint(dnsx.KindOf(err))), none)
			continue
		}
		out[host] = rrs
		if !ad {
			l.add("mx", Warning, m("lint.dane.unvalidated", shown(host), len(rrs)), m("lint.dane.unvalidated.fix"))
		} else {
			l.add("mx", Info, m("lint.dane.validated", shown(host), len(rrs)), none)
		}
		for _, rr := range rrs {
			if rr.Usage == 0 || rr.Usage == 1 {
				l.add("mx", Warning, m("lint.dane.pkix", shown(host), int(rr.Usage)), m("lint.dane.pkix.fix"))
			}
		}
	}
	if len(without) > 0 && len(out) == 0 {
		l.add("mx", Info, m("lint.dane.none", shown(strings.Join(without, ", "))), none)
	}
	return out
}

// MXTLS checks that each MX offers STARTTLS with a certificate valid for
// its name, over port 25 (Port in tests): it connects to the domain's mail
// servers, so it runs only where the operator turns it on.
type MXTLS struct {
	// Hostname is the EHLO name.
	Hostname string
	// Probe runs the SMTP conversation on conn up to a TLS handshake
	// with cfg and returns what the server presented: outbound.ProbeTLS,
	// the path deliveries take, so a check and a delivery see the same.
	Probe func(ctx context.Context, conn net.Conn, hostname, serverName string, cfg *tls.Config) (tls.ConnectionState, error)
	// Port is the SMTP port; "25" unless set (tests).
	Port string
	// RootCAs, if set, replaces the system roots (tests).
	RootCAs *x509.CertPool
	// AllowPrivate lets MX hosts resolve to loopback and private
	// addresses (tests).
	AllowPrivate bool
}

// maxMXTLS bounds the MX hosts connected to in one check.
const maxMXTLS = 3

// mxTLS connects to the first address of up to maxMXTLS MX hosts. Where
// MTA-STS enforces, a failure is an error (senders will not deliver);
// elsewhere a warning (senders fall back to plaintext).
func (l *linter) mxTLS(ctx context.Context, rep *MXReport, tlsa map[string][]*dns.TLSA) {
	if l.mxtls == nil {
		return
	}
	enforce := rep.STSPolicy != nil && rep.STSPolicy.Mode == mtasts.Enforce
	port := l.mxtls.Port
	if port == "" {
		port = "25"
	}
	for i, h := range rep.Hosts {
		if i == maxMXTLS || len(h.Addresses) == 0 {
			break
		}
		host := strings.TrimSuffix(h.Host, ".")
		a := h.Addresses[0].IP
		if !l.mxtls.AllowPrivate && !netguard.Public(a) {
			l.add("mx", Warning, m("lint.tls.private", shown(host), a.String()), none)
			continue
		}
		// The handshake keeps whatever certificate the MX presents, so
		// that it can be checked against both the public authorities and
		// the TLSA records.
		cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		conn, err := (&net.Dialer{}).DialContext(cctx, "tcp", net.JoinHostPort(a.String(), port))
		var st tls.ConnectionState
		if err == nil {
			st, err = l.mxtls.Probe(cctx, conn, l.mxtls.Hostname, host, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
		}
		cancel()
		if err == nil && len(st.PeerCertificates) == 0 {
			err = errors.New("no certificate")
		}
		if err == nil {
			inter := x509.NewCertPool()
			for _, c := range st.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err = st.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: host, Roots: l.mxtls.RootCAs, Intermediates: inter})
		}
		if rrs := tlsa[host]; len(rrs) > 0 && len(st.PeerCertificates) > 0 {
			if dane.Match(dane.Usable(rrs), st.PeerCertificates, host) {
				l.add("mx", Info, m("lint.dane.match", shown(host)), none)
			} else {
				l.add("mx", Error, m("lint.dane.mismatch", shown(host)), m("lint.dane.mismatch.fix"))
			}
		}
		if err != nil {
			sev, what := Warning, m("lint.tls.fallback")
			if enforce {
				sev, what = Error, m("lint.tls.enforced")
			}
			l.add("mx", sev, m("lint.tls.failed", shown(host), a.String(), shown(err.Error()), what), m("lint.tls.failed.fix", host))
			continue
		}
		l.add("mx", Info, m("lint.tls.ok", shown(host), a.String(), tls.VersionName(st.Version)), none)
	}
}

// mtaSTS checks the MTA-STS record and, with a fetcher, the policy: its
// syntax, and that every MX the domain publishes matches it.
func (l *linter) mtaSTS(ctx context.Context, rep *MXReport) {
	if rep.MTASTS == "" {
		return
	}
	if _, err := mtasts.ParseRecord(rep.MTASTS); err != nil {
		l.add("mx", Error, m("lint.sts.record", shown(err.Error())), m("lint.sts.record.fix"))
		return
	}
	if l.sts == nil {
		return
	}
	p, warns, err := l.sts.Fetch(ctx, l.domain)
	for _, w := range warns {
		l.add("mx", Warning, m("lint.sts.policy", shown(w)), none)
	}
	if err != nil {
		l.add("mx", Error, m("lint.sts.policy", shown(err.Error())), m("lint.sts.policy.fix", l.domain))
		return
	}
	rep.STSPolicy = p
	l.add("mx", Info, m("lint.sts.ok", string(p.Mode), p.MaxAge, shown(strings.Join(p.MX, ", "))), none)
	for _, h := range rep.Hosts {
		matched := false
		for _, m := range p.MX {
			matched = matched || mtasts.Matches(m, h.Host)
		}
		if matched || p.Mode == mtasts.None {
			continue
		}
		sev, what := Error, m("lint.sts.no-deliver")
		if p.Mode == mtasts.Testing {
			sev, what = Warning, m("lint.sts.testing")
		}
		l.add("mx", sev, m("lint.sts.unmatched", shown(h.Host), what), m("lint.sts.unmatched.fix", h.Host))
	}
	if rep.TLSRPT == "" {
		l.add("mx", Info, m("lint.sts.no-tlsrpt"), m("lint.sts.no-tlsrpt.fix", l.domain))
	}
}

// tlsRPT checks the TLS-RPT record's rua URIs.
func (l *linter) tlsRPT(rep *MXReport) {
	if rep.TLSRPT == "" {
		return
	}
	if _, err := mtasts.CheckTLSRPT(rep.TLSRPT); err != nil {
		l.add("mx", Error, m("lint.tlsrpt.record", shown(err.Error())), m("lint.tlsrpt.record.fix"))
	}
}

func ptrText(names []string) i18n.Msg {
	if len(names) == 0 {
		return m("lint.ptr.none")
	}
	return m("lint.ptr", shown(strings.Join(names, ", ")))
}

// confirm looks up an address's PTR names and whether one resolves back.
func (l *linter) confirm(ctx context.Context, a netip.Addr) MXAddress {
	out := MXAddress{IP: a}
	names, _, _ := dnsx.ReverseConfirm(ctx, l.r, a, 3)
	for _, n := range names {
		out.PTR = append(out.PTR, n.Name)
		out.Confirmed = out.Confirmed || n.Confirmed
	}
	return out
}

// present reports a policy record (report only) and returns it.
func (l *linter) present(ctx context.Context, name, prefix, what string) string {
	txts, _ := l.r.LookupTXT(ctx, name)
	for _, t := range txts {
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(t)), strings.ToLower(prefix)) {
			l.add("mx", Info, m("lint.published", what, shown(t)), none)
			return t
		}
	}
	l.add("mx", Info, m("lint.unpublished", what, name), none)
	return ""
}
