// Package tlsrpt reads SMTP TLS reports (RFC 8460 §4): the JSON a sending
// organization mails (or posts) to a domain's TLS-RPT rua, plain or gzip.
// It is lenient with real reporters' quirks (an mx-host given as one string
// instead of a list, counts written as strings, unknown fields) and strict
// about what the numbers mean: RFC 3339 dates with the end after the start,
// and counts that are whole, non-negative and not absurd. Every read is
// bounded; nothing here touches the network or a store.
package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Bounds.
const (
	// MaxReport bounds a report's JSON, after decompression.
	MaxReport = 16 << 20
	// MaxPolicies and MaxFailures bound what one report may list.
	MaxPolicies = 1000
	MaxFailures = 10000
	// MaxCount bounds a session count (no reporter sees 10^15 sessions a
	// day).
	MaxCount = 1e15
)

// ResultTypes are the failure types of RFC 8460 §4.3; the catalog says
// what each means for the domain owner (tlsrpt.meaning.TYPE) and what to
// change (tlsrpt.fix.TYPE).
var ResultTypes = []string{
	"starttls-not-supported",
	"certificate-host-mismatch",
	"certificate-expired",
	"certificate-not-trusted",
	"validation-failure",
	"tlsa-invalid",
	"dnssec-invalid",
	"dane-required",
	"sts-policy-fetch-error",
	"sts-policy-invalid",
	"sts-webpki-invalid",
}

// Report is one TLS report.
type Report struct {
	Organization string    `json:"organization"`
	Contact      string    `json:"contact,omitempty"`
	ReportID     string    `json:"report_id"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Policies     []Policy  `json:"policies"`
}

// Policy is the result of one policy the reporter applied.
type Policy struct {
	Type     string    `json:"type"` // sts, tlsa, no-policy-found
	Domain   string    `json:"domain"`
	MXHosts  []string  `json:"mx_hosts,omitempty"`
	Strings  []string  `json:"policy_strings,omitempty"`
	Success  int64     `json:"success"`
	Failure  int64     `json:"failure"`
	Failures []Failure `json:"failures,omitempty"`
}

// Failure is one failure-details entry.
type Failure struct {
	Type          string `json:"type"`
	SendingIP     string `json:"sending_ip,omitempty"`
	ReceivingMX   string `json:"receiving_mx,omitempty"`
	ReceivingIP   string `json:"receiving_ip,omitempty"`
	Sessions      int64  `json:"sessions"`
	AdditionalURI string `json:"additional_info,omitempty"`
	Reason        string `json:"reason,omitempty"`
}

// Decode returns a report's JSON from a mail part or HTTP body: gzip when
// it starts with gzip's magic bytes (reporters label it inconsistently),
// else as it is, at most MaxReport bytes either way.
func Decode(body []byte) ([]byte, error) {
	if !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		if len(body) > MaxReport {
			return nil, fmt.Errorf("tlsrpt: a report over %d MB", MaxReport>>20)
		}
		return body, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxReport+1))
	if err != nil {
		return nil, fmt.Errorf("tlsrpt: gzip: %w", err)
	}
	if len(out) > MaxReport {
		return nil, fmt.Errorf("tlsrpt: a report that decompresses past %d MB", MaxReport>>20)
	}
	return out, nil
}

// The report as reporters write it.
type wire struct {
	Org       string `json:"organization-name"`
	DateRange struct {
		Start string `json:"start-datetime"`
		End   string `json:"end-datetime"`
	} `json:"date-range"`
	Contact  string `json:"contact-info"`
	ReportID string `json:"report-id"`
	Policies []struct {
		Policy struct {
			Type    string      `json:"policy-type"`
			Strings stringOrSet `json:"policy-string"`
			Domain  string      `json:"policy-domain"`
			MXHost  stringOrSet `json:"mx-host"`
		} `json:"policy"`
		Summary struct {
			Success count `json:"total-successful-session-count"`
			Failure count `json:"total-failure-session-count"`
		} `json:"summary"`
		Failures []struct {
			Type        string `json:"result-type"`
			SendingIP   string `json:"sending-mta-ip"`
			ReceivingMX string `json:"receiving-mx-hostname"`
			ReceivingIP string `json:"receiving-ip"`
			Sessions    count  `json:"failed-session-count"`
			Additional  string `json:"additional-information"`
			Reason      string `json:"failure-reason-code"`
		} `json:"failure-details"`
	} `json:"policies"`
}

// stringOrSet takes a JSON string or array of strings.
type stringOrSet []string

func (s *stringOrSet) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("neither a string nor a list of strings")
	}
	*s = many
	return nil
}

// count takes a JSON number or a string of digits; it must be a whole,
// non-negative number under MaxCount.
type count int64

func (c *count) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "null" || s == "" {
		*c = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > MaxCount {
		return fmt.Errorf("count %q is not a whole number from 0 to 10^15", clip(s))
	}
	*c = count(n)
	return nil
}

// Parse reads a report's JSON.
func Parse(data []byte) (*Report, error) {
	if len(data) > MaxReport {
		return nil, fmt.Errorf("tlsrpt: a report over %d MB", MaxReport>>20)
	}
	var w wire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("tlsrpt: not a TLS report: %v", err)
	}
	r := &Report{Organization: clip(w.Org), Contact: clip(w.Contact), ReportID: clip(w.ReportID)}
	switch {
	case r.Organization == "":
		return nil, errors.New("tlsrpt: no organization-name")
	case r.ReportID == "":
		return nil, errors.New("tlsrpt: no report-id")
	case len(w.Policies) > MaxPolicies:
		return nil, fmt.Errorf("tlsrpt: %d policies, over %d", len(w.Policies), MaxPolicies)
	}
	var err error
	if r.Start, err = time.Parse(time.RFC3339, strings.TrimSpace(w.DateRange.Start)); err != nil {
		return nil, fmt.Errorf("tlsrpt: start-datetime %q is not an RFC 3339 time", clip(w.DateRange.Start))
	}
	if r.End, err = time.Parse(time.RFC3339, strings.TrimSpace(w.DateRange.End)); err != nil {
		return nil, fmt.Errorf("tlsrpt: end-datetime %q is not an RFC 3339 time", clip(w.DateRange.End))
	}
	if !r.End.After(r.Start) || r.End.Sub(r.Start) > 31*24*time.Hour {
		return nil, fmt.Errorf("tlsrpt: the date range %s – %s is empty, reversed or over a month", r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339))
	}
	failures := 0
	for _, wp := range w.Policies {
		p := Policy{Type: clip(wp.Policy.Type), Domain: strings.ToLower(clip(wp.Policy.Domain)),
			Success: int64(wp.Summary.Success), Failure: int64(wp.Summary.Failure)}
		for _, m := range wp.Policy.MXHost {
			p.MXHosts = append(p.MXHosts, clip(m))
		}
		for _, s := range wp.Policy.Strings {
			if len(p.Strings) < 100 {
				p.Strings = append(p.Strings, clip(s))
			}
		}
		if p.Domain == "" {
			return nil, errors.New("tlsrpt: a policy without policy-domain")
		}
		var detailed int64
		for _, f := range wp.Failures {
			if failures++; failures > MaxFailures {
				return nil, fmt.Errorf("tlsrpt: over %d failure details", MaxFailures)
			}
			p.Failures = append(p.Failures, Failure{Type: clip(f.Type), SendingIP: clip(f.SendingIP), ReceivingMX: clip(f.ReceivingMX),
				ReceivingIP: clip(f.ReceivingIP), Sessions: int64(f.Sessions), AdditionalURI: clip(f.Additional), Reason: clip(f.Reason)})
			detailed = min(detailed+int64(f.Sessions), math.MaxInt64/2) // each is at most 10^15: no overflow
		}
		// Details cannot count more failures than the summary, also when
		// it says none.
		if detailed > p.Failure {
			return nil, fmt.Errorf("tlsrpt: %s: failure details count %d sessions, more than the summary's %d", p.Domain, detailed, p.Failure)
		}
		r.Policies = append(r.Policies, p)
	}
	return r, nil
}

func clip(s string) string {
	if len(s) > 255 {
		s = s[:255]
	}
	return strings.ToValidUTF8(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s), "?")
}
