// Package mtasts checks a domain's MTA-STS (RFC 8461) and TLS-RPT (RFC
// 8460) set-up for real: the _mta-sts TXT record and its id, the policy
// fetched from https://mta-sts.DOMAIN/.well-known/mta-sts.txt (certificate
// verified, no redirects, at most 64 KB, with a timeout, only from public
// addresses unless a test allows otherwise), its syntax, mode and max_age,
// whether each live MX matches one of its mx patterns, and the _smtp._tls
// record's rua URIs. Everything it reads is a stranger's; it never panics
// on it and bounds every read.
package mtasts

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/internal/netguard"
)

// Bounds.
const (
	MaxPolicyBytes = 64 << 10
	DefaultTimeout = 10 * time.Second
	// MaxAge is RFC 8461's upper bound of max_age (about a year).
	MaxAge = 31557600
	// ShortMaxAge: a policy kept for less than a day protects little
	// (RFC 8461 §3.2 suggests weeks).
	ShortMaxAge = 86400
	maxMX       = 20
	// CertWarning: a policy host certificate expiring sooner is warned of.
	CertWarning = 14 * 24 * time.Hour
)

// Modes of a policy.
const (
	Enforce = "enforce"
	Testing = "testing"
	None    = "none"
)

// ParseRecord checks an _mta-sts TXT record (RFC 8461 §3.1) and returns
// its id.
func ParseRecord(txt string) (string, error) {
	fields := strings.Split(txt, ";")
	if strings.TrimSpace(fields[0]) != "v=STSv1" {
		return "", errors.New(`the record must start with "v=STSv1"`)
	}
	id := ""
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			if strings.TrimSpace(f) == "" {
				continue
			}
			return "", fmt.Errorf("%q is not a key=value field", strings.TrimSpace(f))
		}
		if k == "id" {
			id = v
		}
	}
	if id == "" {
		return "", errors.New("the record has no id= (it changes with each new policy)")
	}
	if len(id) > 32 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		return "", fmt.Errorf("id=%q must be 1 to 32 letters and digits", id)
	}
	return id, nil
}

// Policy is a parsed MTA-STS policy.
type Policy struct {
	Mode   string   `json:"mode"`
	MX     []string `json:"mx"`
	MaxAge int64    `json:"max_age"`
	// CertNotAfter is when the certificate of mta-sts.DOMAIN expires
	// (fetched policies only).
	CertNotAfter time.Time `json:"certificate_not_after,omitzero"`
}

// ParsePolicy reads a policy body (RFC 8461 §3.2): an error for what makes
// it unusable, warnings for what weakens it.
func ParsePolicy(body []byte) (*Policy, []string, error) {
	p := &Policy{MaxAge: -1}
	var warns []string
	version := ""
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 4096), MaxPolicyBytes)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, warns, fmt.Errorf("line %q is not key: value", clip(line))
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "version":
			version = v
		case "mode":
			p.Mode = v
		case "mx":
			if len(p.MX) < maxMX {
				p.MX = append(p.MX, strings.ToLower(strings.TrimSuffix(v, ".")))
			}
		case "max_age":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || len(v) > 10 {
				return nil, warns, fmt.Errorf("max_age %q is not a number of seconds", clip(v))
			}
			p.MaxAge = n
		default:
			warns = append(warns, fmt.Sprintf("unknown key %q (ignored)", clip(k)))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, warns, fmt.Errorf("reading the policy: %v", err)
	}
	switch {
	case version != "STSv1":
		return nil, warns, fmt.Errorf(`version is %q, not "STSv1"`, clip(version))
	case p.Mode != Enforce && p.Mode != Testing && p.Mode != None:
		return nil, warns, fmt.Errorf("mode %q is not enforce, testing or none", clip(p.Mode))
	case p.MaxAge < 0:
		return nil, warns, errors.New("max_age is missing")
	case p.MaxAge > MaxAge:
		return nil, warns, fmt.Errorf("max_age %d is over RFC 8461's limit of %d seconds (a year)", p.MaxAge, MaxAge)
	case p.Mode != None && len(p.MX) == 0:
		return nil, warns, errors.New("no mx: line: a policy in " + p.Mode + " mode must name the MX hosts")
	}
	if p.MaxAge < ShortMaxAge && p.Mode != None {
		warns = append(warns, fmt.Sprintf("max_age %d is under a day: senders forget the policy quickly (weeks are usual)", p.MaxAge))
	}
	for _, m := range p.MX {
		if strings.Count(m, "*") > 1 || strings.Contains(m, "*") && !strings.HasPrefix(m, "*.") {
			warns = append(warns, fmt.Sprintf("mx pattern %q: a wildcard may only be a whole first label (*.example.com)", clip(m)))
		}
	}
	return p, warns, nil
}

// Matches reports whether an MX host matches a policy's mx pattern: the
// same name, or "*.rest" matching exactly one more label (RFC 8461 §4.1).
func Matches(pattern, host string) bool {
	pattern = strings.ToLower(strings.TrimSuffix(pattern, "."))
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, parent, ok := strings.Cut(host, ".")
		return ok && label != "" && parent == rest
	}
	return pattern == host
}

// Fetcher fetches policies.
type Fetcher struct {
	Resolver dnsx.Resolver
	// Port is the HTTPS port; "443" unless set (tests).
	Port string
	// RootCAs, if set, replaces the system roots (tests).
	RootCAs *x509.CertPool
	// AllowPrivate lets the policy host resolve to loopback and private
	// addresses (tests); off, such a host is refused.
	AllowPrivate bool
	Timeout      time.Duration
}

// ErrRefusedAddress is returned for a policy host at a non-public address.
var ErrRefusedAddress = errors.New("resolves only to private, loopback or otherwise non-public addresses, which testerd does not fetch from")

// Fetch gets and parses mta-sts.DOMAIN's policy.
func (f *Fetcher) Fetch(ctx context.Context, domain string) (*Policy, []string, error) {
	timeout := f.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host := "mta-sts." + domain
	var addrs []netip.Addr
	found := 0
	for _, fam := range []string{"ip4", "ip6"} {
		as, _ := f.Resolver.LookupIP(ctx, fam, host)
		found += len(as)
		for _, a := range as {
			if f.AllowPrivate || netguard.Public(a) {
				addrs = append(addrs, a)
			}
		}
	}
	switch {
	case len(addrs) == 0 && found > 0:
		return nil, nil, fmt.Errorf("%s %w", host, ErrRefusedAddress)
	case len(addrs) == 0:
		return nil, nil, fmt.Errorf("%s has no address: the policy cannot be fetched", host)
	}
	port := f.Port
	if port == "" {
		port = "443"
	}
	dialer := &net.Dialer{Timeout: timeout}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var last error
				for _, a := range addrs[:min(len(addrs), 4)] {
					c, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port))
					if err == nil {
						return c, nil
					}
					last = err
				}
				return nil, last
			},
			TLSClientConfig:       &tls.Config{RootCAs: f.RootCAs, ServerName: host, MinVersion: tls.VersionTLS12},
			ResponseHeaderTimeout: timeout,
			DisableKeepAlives:     true,
		},
		// RFC 8461 §3.3: redirects are not followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+"/.well-known/mta-sts.txt", nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("fetching https://%s/.well-known/mta-sts.txt: %v", host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("https://%s/.well-known/mta-sts.txt answered %s (RFC 8461 takes only 200, and follows no redirect)", host, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxPolicyBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the policy: %v", err)
	}
	if len(body) > MaxPolicyBytes {
		return nil, nil, fmt.Errorf("the policy is over %d KB", MaxPolicyBytes>>10)
	}
	p, warns, err := ParsePolicy(body)
	if p != nil && resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		p.CertNotAfter = resp.TLS.PeerCertificates[0].NotAfter.UTC()
		if left := time.Until(p.CertNotAfter); left < CertWarning {
			warns = append(warns, fmt.Sprintf("the certificate of %s expires on %s: renew it, or senders stop fetching the policy", host, p.CertNotAfter.Format("2006-01-02")))
		}
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "text/plain" {
		warns = append(warns, fmt.Sprintf("served as %q; RFC 8461 §3.3 says text/plain", clip(resp.Header.Get("Content-Type"))))
	}
	return p, warns, err
}

// CheckTLSRPT checks a _smtp._tls record (RFC 8460 §3): v=TLSRPTv1 and
// rua= with mailto: or https: URIs.
func CheckTLSRPT(txt string) ([]string, error) {
	fields := strings.Split(txt, ";")
	if strings.TrimSpace(fields[0]) != "v=TLSRPTv1" {
		return nil, errors.New(`the record must start with "v=TLSRPTv1"`)
	}
	var rua string
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(strings.TrimSpace(f), "="); ok && k == "rua" {
			rua = v
		}
	}
	if rua == "" {
		return nil, errors.New("the record has no rua= (where reports go)")
	}
	var uris []string
	for _, u := range strings.Split(rua, ",") {
		u = strings.TrimSpace(u)
		pu, err := url.Parse(u)
		switch {
		case err != nil:
			return uris, fmt.Errorf("rua %q is not a URI", clip(u))
		case pu.Scheme == "mailto":
			if _, err := mail.ParseAddress(pu.Opaque); err != nil {
				return uris, fmt.Errorf("rua %q: %q is not an address", clip(u), clip(pu.Opaque))
			}
		case pu.Scheme == "https":
			if pu.Host == "" {
				return uris, fmt.Errorf("rua %q has no host", clip(u))
			}
		default:
			return uris, fmt.Errorf("rua %q: only mailto: and https: URIs are reporting destinations", clip(u))
		}
		uris = append(uris, u)
	}
	return uris, nil
}

func clip(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
