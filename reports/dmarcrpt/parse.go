// Package dmarcrpt parses DMARC aggregate (rua) report XML as mailbox
// providers send it: both the RFC 7489 Appendix C format and RFC 9990's
// namespaced one, with the same structs. It is lenient where real
// reporters are sloppy (the case of values, empty or repeated elements)
// and strict where it matters (dates and counts). It is pure: no store, no
// network; package reports finds the XML in the mail, and ingests and
// summarizes what it reads.
package dmarcrpt

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/testerd/testerd/internal/untrusted"
)

// Feedback is one aggregate report.
type Feedback struct {
	Version  string   `json:"version,omitempty"`
	Metadata Metadata `json:"metadata"`
	Policy   Policy   `json:"policy"`
	Records  []Record `json:"records"`
}

// Metadata is report_metadata.
type Metadata struct {
	OrgName   string    `json:"org_name"`
	Email     string    `json:"email"`
	ReportID  string    `json:"report_id"`
	Begin     time.Time `json:"begin"`
	End       time.Time `json:"end"`
	Generator string    `json:"generator,omitempty"`
	Errors    []string  `json:"errors,omitempty"`
}

// Policy is policy_published.
type Policy struct {
	Domain  string `json:"domain"`
	ADKIM   string `json:"adkim,omitempty"`
	ASPF    string `json:"aspf,omitempty"`
	P       string `json:"p"`
	SP      string `json:"sp,omitempty"`
	NP      string `json:"np,omitempty"`
	PCT     string `json:"pct,omitempty"`
	FO      string `json:"fo,omitempty"`
	Testing string `json:"testing,omitempty"`
}

// Record is one row: a source IP and what happened to its messages.
type Record struct {
	SourceIP     netip.Addr `json:"source_ip"`
	Count        int64      `json:"count"`
	Disposition  string     `json:"disposition"`
	DKIM         string     `json:"dkim"` // policy_evaluated: aligned DKIM
	SPF          string     `json:"spf"`  // policy_evaluated: aligned SPF
	Reasons      []string   `json:"reasons,omitempty"`
	HeaderFrom   string     `json:"header_from"`
	EnvelopeFrom string     `json:"envelope_from,omitempty"`
	EnvelopeTo   string     `json:"envelope_to,omitempty"`
	AuthDKIM     []AuthDKIM `json:"auth_dkim,omitempty"`
	AuthSPF      []AuthSPF  `json:"auth_spf,omitempty"`
}

// AuthDKIM is one auth_results/dkim.
type AuthDKIM struct {
	Domain   string `json:"domain"`
	Selector string `json:"selector,omitempty"`
	Result   string `json:"result"`
}

// AuthSPF is one auth_results/spf.
type AuthSPF struct {
	Domain string `json:"domain"`
	Scope  string `json:"scope,omitempty"`
	Result string `json:"result"`
}

// DMARCPass: the message passed DMARC (aligned DKIM or SPF pass).
func (r *Record) DMARCPass() bool { return r.DKIM == "pass" || r.SPF == "pass" }

// DKIMPass: some DKIM signature passed, aligned or not.
func (r *Record) DKIMPass() bool {
	for _, d := range r.AuthDKIM {
		if d.Result == "pass" {
			return true
		}
	}
	return false
}

// SPFPass: SPF passed, aligned or not.
func (r *Record) SPFPass() bool {
	for _, s := range r.AuthSPF {
		if s.Result == "pass" {
			return true
		}
	}
	return false
}

// Limits of parsing.
const (
	MaxRecords = 100000
	// maxSpan is the longest date range accepted.
	maxSpan = 366 * 24 * time.Hour
)

// The XML shapes. An untagged XMLName matches "feedback" in any
// namespace, so RFC 9990's namespaced reports decode with these too.
type xmlFeedback struct {
	XMLName  xml.Name `xml:"feedback"`
	Version  string   `xml:"version"`
	Metadata struct {
		OrgName   string   `xml:"org_name"`
		Email     string   `xml:"email"`
		ReportID  string   `xml:"report_id"`
		Begin     string   `xml:"date_range>begin"`
		End       string   `xml:"date_range>end"`
		Generator string   `xml:"generator"`
		Errors    []string `xml:"error"`
	} `xml:"report_metadata"`
	Policy struct {
		Domain  string `xml:"domain"`
		ADKIM   string `xml:"adkim"`
		ASPF    string `xml:"aspf"`
		P       string `xml:"p"`
		SP      string `xml:"sp"`
		NP      string `xml:"np"`
		PCT     string `xml:"pct"`
		FO      string `xml:"fo"`
		Testing string `xml:"testing"`
	} `xml:"policy_published"`
	Records []struct {
		Row struct {
			SourceIP string `xml:"source_ip"`
			Count    string `xml:"count"`
			Policy   struct {
				Disposition string `xml:"disposition"`
				DKIM        string `xml:"dkim"`
				SPF         string `xml:"spf"`
				Reasons     []struct {
					Type    string `xml:"type"`
					Comment string `xml:"comment"`
				} `xml:"reason"`
			} `xml:"policy_evaluated"`
		} `xml:"row"`
		Identifiers struct {
			HeaderFrom   string `xml:"header_from"`
			EnvelopeFrom string `xml:"envelope_from"`
			EnvelopeTo   string `xml:"envelope_to"`
		} `xml:"identifiers"`
		Auth struct {
			DKIM []struct {
				Domain   string `xml:"domain"`
				Selector string `xml:"selector"`
				Result   string `xml:"result"`
			} `xml:"dkim"`
			SPF []struct {
				Domain string `xml:"domain"`
				Scope  string `xml:"scope"`
				Result string `xml:"result"`
			} `xml:"spf"`
		} `xml:"auth_results"`
	} `xml:"record"`
}

// ErrNoFeedback is an XML document without a feedback element.
var ErrNoFeedback = errors.New("no <feedback> element")

// Parse reads one report. Invalid UTF-8 is replaced rather than refused;
// the feedback element may sit inside a wrapper (some reporters put it in
// an xs:schema), and what follows its end is ignored.
func Parse(doc []byte) (*Feedback, error) {
	if !utf8.Valid(doc) {
		doc = bytes.ToValidUTF8(doc, []byte("\uFFFD"))
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	d.CharsetReader = func(charset string, r io.Reader) (io.Reader, error) {
		// Reporters declare ISO-8859-1 or us-ascii for what is ASCII in
		// practice; read the bytes as they are.
		return r, nil
	}
	var x xmlFeedback
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil, ErrNoFeedback
		}
		if err != nil {
			return nil, fmt.Errorf("XML: %w", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "feedback" {
			if err := d.DecodeElement(&x, &se); err != nil {
				return nil, fmt.Errorf("XML: %w", err)
			}
			break
		}
	}
	return convert(&x)
}

// norm lowercases and trims a value: reporters write Pass and " none ".
func norm(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func convert(x *xmlFeedback) (*Feedback, error) {
	f := &Feedback{Version: strings.TrimSpace(x.Version)}
	m := &f.Metadata
	m.OrgName, m.Email = strings.TrimSpace(x.Metadata.OrgName), strings.TrimSpace(x.Metadata.Email)
	m.ReportID, m.Generator = strings.TrimSpace(x.Metadata.ReportID), strings.TrimSpace(x.Metadata.Generator)
	for _, e := range x.Metadata.Errors {
		if e = strings.TrimSpace(e); e != "" {
			m.Errors = append(m.Errors, e)
		}
	}
	if m.ReportID == "" {
		return nil, errors.New("report_metadata has no report_id")
	}
	begin, err := unixTime("begin", x.Metadata.Begin)
	if err != nil {
		return nil, err
	}
	end, err := unixTime("end", x.Metadata.End)
	if err != nil {
		return nil, err
	}
	if end.Before(begin) {
		return nil, fmt.Errorf("date_range ends (%s) before it begins (%s)", end, begin)
	}
	if end.Sub(begin) > maxSpan {
		return nil, fmt.Errorf("date_range spans %s, more than a year", end.Sub(begin))
	}
	m.Begin, m.End = begin, end

	p := x.Policy
	f.Policy = Policy{Domain: norm(strings.TrimSuffix(strings.TrimSpace(p.Domain), ".")), ADKIM: norm(p.ADKIM), ASPF: norm(p.ASPF),
		P: norm(p.P), SP: norm(p.SP), NP: norm(p.NP), PCT: strings.TrimSpace(p.PCT), FO: strings.TrimSpace(p.FO), Testing: norm(p.Testing)}
	if f.Policy.Domain == "" {
		return nil, errors.New("policy_published has no domain")
	}
	if len(x.Records) > MaxRecords {
		return nil, fmt.Errorf("%d records, over the limit of %d", len(x.Records), MaxRecords)
	}
	f.Records = make([]Record, 0, len(x.Records))
	for i, xr := range x.Records {
		ip, err := netip.ParseAddr(strings.TrimSpace(xr.Row.SourceIP))
		if err != nil {
			return nil, fmt.Errorf("record %d: source_ip %q is not an IP address", i+1, clip(xr.Row.SourceIP))
		}
		n, err := strconv.ParseInt(strings.TrimSpace(xr.Row.Count), 10, 64)
		if err != nil || n < 0 || n > 1e12 {
			return nil, fmt.Errorf("record %d: count %q is not a message count", i+1, clip(xr.Row.Count))
		}
		r := Record{SourceIP: ip.Unmap(), Count: n, Disposition: norm(xr.Row.Policy.Disposition),
			DKIM: norm(xr.Row.Policy.DKIM), SPF: norm(xr.Row.Policy.SPF),
			HeaderFrom:   norm(xr.Identifiers.HeaderFrom),
			EnvelopeFrom: norm(xr.Identifiers.EnvelopeFrom), EnvelopeTo: norm(xr.Identifiers.EnvelopeTo)}
		for _, rs := range xr.Row.Policy.Reasons {
			if t := norm(rs.Type); t != "" {
				if c := strings.TrimSpace(rs.Comment); c != "" {
					t += ": " + clip(c)
				}
				r.Reasons = append(r.Reasons, t)
			}
		}
		for _, d := range xr.Auth.DKIM {
			r.AuthDKIM = append(r.AuthDKIM, AuthDKIM{Domain: norm(d.Domain), Selector: strings.TrimSpace(d.Selector), Result: norm(d.Result)})
		}
		for _, s := range xr.Auth.SPF {
			r.AuthSPF = append(r.AuthSPF, AuthSPF{Domain: norm(s.Domain), Scope: norm(s.Scope), Result: norm(s.Result)})
		}
		f.Records = append(f.Records, r)
	}
	return f, nil
}

// unixTime reads a date_range bound: decimal seconds since 1970.
func unixTime(name, s string) (time.Time, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 || n > 32503680000 { // year 3000
		return time.Time{}, fmt.Errorf("date_range %s %q is not a Unix time", name, clip(s))
	}
	return time.Unix(n, 0).UTC(), nil
}

func clip(s string) string { return untrusted.Clip(s, 60) }
