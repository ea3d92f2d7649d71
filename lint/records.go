package lint

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
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
	Summary   string           `json:"summary,omitempty"`
}

func (l *linter) dmarc(ctx context.Context) *DMARCReport {
	w := dmarc.NewWalker(l.r)
	rep := &DMARCReport{Domain: w.Discover(ctx, l.domain), OrgDomain: w.OrgDomain(ctx, l.domain)}
	if org := rep.OrgDomain.Domain; org != l.domain && org != rep.Domain.Domain {
		rep.Org = w.Discover(ctx, org)
	}
	if o := rep.OrgDomain; o.PSL != "" {
		l.add("dmarc", Info, fmt.Sprintf("the organizational domain is %s by the DNS Tree Walk of RFC 9989 (%s), but %s by the Public Suffix List that receivers still on RFC 7489 use: relaxed alignment may differ between them", o.Domain, orgHow(o), o.PSL), "")
	}
	for _, why := range rep.Domain.Discarded {
		l.add("dmarc", Error, shown(why), "")
	}
	d := rep.Domain
	rec := d.Record
	if rec == nil {
		switch {
		case d.Result == dmarc.TempError:
			l.add("dmarc", Warning, "the DMARC lookup failed: "+shown(d.Reason), "check the name servers")
		case d.Syntax != nil:
			l.add("dmarc", Error, "the DMARC record cannot be used: "+shown(d.Reason), "correct the record at _dmarc."+d.Domain+` to "v=DMARC1; p=none; rua=mailto:<your reports address>"`)
		default:
			l.add("dmarc", Error, "no DMARC record at _dmarc."+l.domain+" or its organizational domain; Gmail and Yahoo require one of bulk senders",
				"publish _dmarc."+rep.OrgDomain.Domain+` TXT "v=DMARC1; p=none; rua=mailto:<your reports address>"`)
		}
		return rep
	}
	rep.Summary = summary(l.domain, d)
	if d.Inherited {
		l.add("dmarc", Info, fmt.Sprintf("%s has no record of its own: the DNS Tree Walk finds the record of %s, whose sp= applies to it", l.domain, d.Domain), "")
	}
	for _, is := range rec.Issues {
		sev := Warning
		if is.Severity == dmarc.SeverityError {
			sev = Error
		}
		msg := fmt.Sprintf("%s=: %s", is.Tag, shown(is.Message))
		if is.Pos > 0 {
			msg = fmt.Sprintf("column %d, %s", is.Pos, msg)
		}
		l.add("dmarc", sev, msg, "")
	}
	if rec.P == dmarc.PolicyNone {
		l.add("dmarc", Info, "p=none: receivers report but do not act; enough for Gmail and Yahoo's bulk rules", "move to quarantine, then reject, once the reports show all your mail aligned")
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
		l.add("dmarc", Error, fmt.Sprintf("%s=%s: %s", tag, shown(u), shown(err.Error())), "write it as mailto:address@domain")
		return
	}
	host, ok := dmarc.ReportHost(u)
	if !ok {
		return // another scheme: nothing to check by DNS
	}
	if _, err := l.r.LookupMX(ctx, host); err != nil {
		switch {
		case dnsx.KindOf(err) == dnsx.NXDomain:
			l.add("dmarc", Error, fmt.Sprintf("%s=%s: %s does not exist, so no report can be delivered", tag, shown(u), host), "use an address at a domain that receives mail")
			return
		case dnsx.KindOf(err) == dnsx.NoData:
			l.add("dmarc", Warning, fmt.Sprintf("%s=%s: %s has no MX record; reports go to its address records, if any", tag, shown(u), host), "give "+host+" an MX")
		}
	}
	if dmarc.PSLOrgDomain(host) == dmarc.PSLOrgDomain(policyDomain) {
		return
	}
	name, ok := dmarc.ExternalDestination(ctx, l.r, policyDomain, host)
	if ok {
		l.add("dmarc", Info, fmt.Sprintf("%s=%s: external destination authorized by %s", tag, shown(u), name), "")
		return
	}
	l.add("dmarc", Error, fmt.Sprintf("%s=%s is in another domain that has not authorized it: reporters skip it (RFC 7489 §7.1)", tag, shown(u)),
		fmt.Sprintf(`ask %s to publish %s TXT "v=DMARC1"`, host, name))
}

// orgHow says how the Tree Walk found an organizational domain.
func orgHow(o dmarc.Org) string {
	switch o.By {
	case "psd=n", "psd=y":
		return o.At + " says " + o.By
	case "record":
		return "the highest name with a DMARC record, " + o.At
	}
	return "no DMARC record on the walk"
}

// summary says in plain words what the record asks of receivers.
func summary(domain string, d *dmarc.Discovery) string {
	r := d.Record
	act := map[dmarc.Policy]string{dmarc.PolicyNone: "delivered as usual (monitoring only)",
		dmarc.PolicyQuarantine: "sent to spam", dmarc.PolicyReject: "rejected"}
	var b strings.Builder
	fmt.Fprintf(&b, "Mail from %s that fails DMARC is %s (p=%s", domain, act[r.P], r.P)
	if r.PCT != 100 {
		fmt.Fprintf(&b, "; receivers still on RFC 7489 apply it to %d%% of it", r.PCT)
	}
	b.WriteString(").")
	if r.SP != r.P {
		fmt.Fprintf(&b, " Subdomains: %s (sp=%s).", act[r.SP], r.SP)
	}
	if r.NP != r.SP {
		fmt.Fprintf(&b, " Subdomains that do not exist: %s (np=%s).", act[r.NP], r.NP)
	}
	fmt.Fprintf(&b, " Alignment: DKIM %s, SPF %s.", r.ADKIM, r.ASPF)
	if len(r.RUA) > 0 {
		fmt.Fprintf(&b, " Aggregate reports go to %s.", shown(strings.Join(r.RUA, ", ")))
	} else {
		b.WriteString(" Nobody receives aggregate reports.")
	}
	if r.Testing {
		b.WriteString(" t=y: the owner is testing, so receivers apply a weaker policy.")
	}
	return b.String()
}

// DKIMKey is one selector's key record.
type DKIMKey struct {
	Selector string    `json:"selector"`
	Source   string    `json:"source"` // given, or seen in probes
	Key      *dkim.Key `json:"key,omitempty"`
	Problem  string    `json:"problem,omitempty"`
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
	add(o.Selectors, "given")
	add(o.Seen, "seen in probes")
	if len(keys) == 0 {
		l.add("dkim", Info, "no selector to check: give one (selectors are not discoverable from DNS), or send a probe", "")
		return []*DKIMKey{}
	}
	for _, k := range keys {
		name := k.Selector + "._domainkey." + l.domain
		txts, err := l.r.LookupTXT(ctx, name)
		if err != nil {
			k.Problem = shown(err.Error())
			if dnsx.IsNotFound(err) {
				l.add("dkim", Error, fmt.Sprintf("s=%s: no key record at %s", k.Selector, name), "publish the public key your signer uses at "+name)
			} else {
				l.add("dkim", Warning, fmt.Sprintf("s=%s: the lookup failed: %s", k.Selector, shown(err.Error())), "")
			}
			continue
		}
		if len(txts) > 1 {
			l.add("dkim", Warning, fmt.Sprintf("s=%s: %d TXT records at %s; verifiers may pick any", k.Selector, len(txts), name), "keep one")
		}
		key, err := dkim.ParseKey(txts[0])
		k.Key = key
		if key != nil {
			key.Name, key.Records = name, len(txts)
		}
		if key != nil && key.Revoked {
			k.Problem = "revoked"
			l.add("dkim", Warning, fmt.Sprintf("s=%s is revoked (empty p=): signatures with it fail", k.Selector), "sign with a current selector")
			continue
		}
		if err != nil {
			k.Problem = shown(err.Error())
			l.add("dkim", Error, fmt.Sprintf("s=%s: %s", k.Selector, shown(err.Error())), "republish the key record as your signer documents it")
			continue
		}
		switch {
		case key.Type != "ed25519" && key.Bits < dkim.MinRSABits:
			l.add("dkim", Error, fmt.Sprintf("s=%s is a %d-bit RSA key: under 1024 bits verifiers refuse it (RFC 8301)", k.Selector, key.Bits), "generate a 2048-bit key")
		case key.Type != "ed25519" && key.Bits < 2048:
			l.add("dkim", Warning, fmt.Sprintf("s=%s is a %d-bit RSA key: 2048 is recommended", k.Selector, key.Bits), "rotate to a 2048-bit key")
		default:
			l.add("dkim", Info, fmt.Sprintf("s=%s: %s key, %d bits", k.Selector, keyType(key), key.Bits), "")
		}
		if key.Testing {
			l.add("dkim", Warning, fmt.Sprintf("s=%s has t=y: verifiers treat its signatures as testing", k.Selector), "remove t=y once signing works")
		}
		if len(key.Services) > 0 && !slices.Contains(key.Services, "email") && !slices.Contains(key.Services, "*") {
			l.add("dkim", Error, fmt.Sprintf("s=%s has s=%s: the key is not for email", k.Selector, strings.Join(key.Services, ":")), "remove s= or set s=email")
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
		l.add("mx", Error, l.domain+" does not exist (NXDOMAIN)", "")
		return rep
	case dnsx.KindOf(err) == dnsx.NoData:
		l.add("mx", Warning, l.domain+" has no MX: mail to it goes to its A/AAAA records, and bounces to it may be lost", "publish an MX, or a null MX (0 .) if it never receives mail")
	case err != nil:
		l.add("mx", Warning, "the MX lookup failed: "+shown(err.Error()), "")
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		rep.NullMX = true
		l.add("mx", Info, l.domain+" publishes a null MX (RFC 7505): it receives no mail", "")
		mxs = nil
	}
	slices.SortStableFunc(mxs, func(a, b *net.MX) int { return int(a.Pref) - int(b.Pref) })
	for i, m := range mxs {
		if i == maxMXHosts {
			l.add("mx", Info, fmt.Sprintf("%d more MX hosts not checked", len(mxs)-i), "")
			break
		}
		h := MXHost{Host: strings.TrimSuffix(m.Host, "."), Pref: m.Pref, Addresses: []MXAddress{}}
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
			l.add("mx", Error, fmt.Sprintf("MX %s has no address: mail cannot be delivered to it", shown(h.Host)), "give it an A/AAAA record or remove it")
		}
		for _, a := range h.Addresses {
			if !a.Confirmed {
				l.add("mx", Warning, fmt.Sprintf("MX %s [%s]: reverse DNS is not forward-confirmed (%s)", shown(h.Host), a.IP, ptrText(a.PTR)),
					"set the PTR of "+a.IP.String()+" to a name that resolves back to it")
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
			l.add("mx", Warning, fmt.Sprintf("MX %s: the TLSA lookup failed (%v): DANE not checked", shown(host), dnsx.KindOf(err)), "")
			continue
		}
		out[host] = rrs
		if !ad {
			l.add("mx", Warning, fmt.Sprintf("MX %s has %d TLSA record(s), but testerd's resolver did not mark them DNSSEC-validated (no AD bit): either the zone is not signed, and senders doing DANE ignore the records, or the resolver testerd uses does not validate", shown(host), len(rrs)),
				"sign the zone with DNSSEC; to check from here, run testerd with a validating resolver (--resolver)")
		} else {
			l.add("mx", Info, fmt.Sprintf("MX %s: %d TLSA record(s), validated by DNSSEC", shown(host), len(rrs)), "")
		}
		for _, rr := range rrs {
			if rr.Usage == 0 || rr.Usage == 1 {
				l.add("mx", Warning, fmt.Sprintf("MX %s: TLSA usage %d (PKIX) is not used for SMTP (RFC 7672 §3.1.3): senders ignore it", shown(host), rr.Usage),
					"publish usage 3 (DANE-EE) or 2 (DANE-TA)")
			}
		}
	}
	if len(without) > 0 && len(out) == 0 {
		l.add("mx", Info, "no DANE TLSA records for "+shown(strings.Join(without, ", "))+" (optional: DANE needs a DNSSEC-signed zone)", "")
	}
	return out
}

// daneMatch reports whether a certificate chain (leaf first) matches one
// of the DANE-EE (3) or DANE-TA (2) TLSA records.
func daneMatch(rrs []*dns.TLSA, chain []*x509.Certificate) bool {
	for _, rr := range rrs {
		var certs []*x509.Certificate
		switch rr.Usage {
		case 3:
			certs = chain[:min(1, len(chain))]
		case 2:
			if len(chain) > 1 {
				certs = chain[1:]
			}
		}
		for _, c := range certs {
			data := c.Raw
			if rr.Selector == 1 {
				data = c.RawSubjectPublicKeyInfo
			}
			var got string
			switch rr.MatchingType {
			case 0:
				got = hex.EncodeToString(data)
			case 1:
				sum := sha256.Sum256(data)
				got = hex.EncodeToString(sum[:])
			case 2:
				sum := sha512.Sum512(data)
				got = hex.EncodeToString(sum[:])
			}
			if got != "" && strings.EqualFold(got, rr.Certificate) {
				return true
			}
		}
	}
	return false
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
			l.add("mx", Warning, fmt.Sprintf("MX %s [%s] is not a public address: its STARTTLS was not checked", shown(host), a), "")
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
			if daneMatch(rrs, st.PeerCertificates) {
				l.add("mx", Info, fmt.Sprintf("MX %s: its certificate matches its TLSA records (DANE)", shown(host)), "")
			} else {
				l.add("mx", Error, fmt.Sprintf("MX %s: its certificate matches none of its TLSA records: senders doing DANE will not deliver", shown(host)),
					"publish TLSA records for the certificate the MX presents (roll them before changing the certificate)")
			}
		}
		if err != nil {
			sev, what := Warning, "senders fall back to sending in the clear"
			if enforce {
				sev, what = Error, "senders that apply your MTA-STS policy will not deliver"
			}
			l.add("mx", sev, fmt.Sprintf("MX %s [%s]: STARTTLS with a valid certificate failed (%s): %s", shown(host), a, shown(err.Error()), what),
				"offer STARTTLS on port 25 with a certificate from a public authority that names "+host)
			continue
		}
		l.add("mx", Info, fmt.Sprintf("MX %s [%s]: STARTTLS, %s, certificate valid for its name", shown(host), a, tls.VersionName(st.Version)), "")
	}
}

// mtaSTS checks the MTA-STS record and, with a fetcher, the policy: its
// syntax, and that every MX the domain publishes matches it.
func (l *linter) mtaSTS(ctx context.Context, rep *MXReport) {
	if rep.MTASTS == "" {
		return
	}
	if _, err := mtasts.ParseRecord(rep.MTASTS); err != nil {
		l.add("mx", Error, "MTA-STS record: "+err.Error(), `publish _mta-sts TXT "v=STSv1; id=<a new value at each policy change>"`)
		return
	}
	if l.sts == nil {
		return
	}
	p, warns, err := l.sts.Fetch(ctx, l.domain)
	for _, w := range warns {
		l.add("mx", Warning, "MTA-STS policy: "+shown(w), "")
	}
	if err != nil {
		l.add("mx", Error, "MTA-STS policy: "+shown(err.Error()), "serve the policy at https://mta-sts."+l.domain+"/.well-known/mta-sts.txt with a valid certificate for mta-sts."+l.domain+", as text/plain, without redirects")
		return
	}
	rep.STSPolicy = p
	l.add("mx", Info, fmt.Sprintf("MTA-STS policy: mode %s, max_age %d s, mx %s", p.Mode, p.MaxAge, shown(strings.Join(p.MX, ", "))), "")
	for _, h := range rep.Hosts {
		matched := false
		for _, m := range p.MX {
			matched = matched || mtasts.Matches(m, h.Host)
		}
		if matched || p.Mode == mtasts.None {
			continue
		}
		sev, what := Error, "senders that apply the policy will not deliver to it"
		if p.Mode == mtasts.Testing {
			sev, what = Warning, "in enforce mode senders would not deliver to it (testing mode: they report it)"
		}
		l.add("mx", sev, fmt.Sprintf("MX %s matches no mx: line of the MTA-STS policy: %s", shown(h.Host), what),
			"add \"mx: "+h.Host+"\" to the policy (and change the record's id=)")
	}
	if rep.TLSRPT == "" {
		l.add("mx", Info, "MTA-STS without TLS-RPT: failures to deliver securely are not reported to you", `publish _smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls-reports@`+l.domain+`"`)
	}
}

// tlsRPT checks the TLS-RPT record's rua URIs.
func (l *linter) tlsRPT(rep *MXReport) {
	if rep.TLSRPT == "" {
		return
	}
	if _, err := mtasts.CheckTLSRPT(rep.TLSRPT); err != nil {
		l.add("mx", Error, "TLS-RPT record: "+shown(err.Error()), `publish _smtp._tls TXT "v=TLSRPTv1; rua=mailto:ADDRESS" (or an https: URI)`)
	}
}

func ptrText(names []string) string {
	if len(names) == 0 {
		return "no PTR"
	}
	return "PTR " + shown(strings.Join(names, ", "))
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
			l.add("mx", Info, what+" is published: "+shown(t), "")
			return t
		}
	}
	l.add("mx", Info, what+" is not published at "+name+" (optional)", "")
	return ""
}
