package tlsrpt

import (
	"bytes"
	"compress/gzip"
	"slices"
	"strings"
	"testing"
)

// sample is written after RFC 8460's example (§4.8) and the shapes Google
// and Microsoft send: an sts policy with failures, a no-policy-found one,
// mx-host as a list and as a string, counts as numbers and as strings.
const sample = `{
  "organization-name": "Example Reporter Inc.",
  "date-range": {"start-datetime": "2026-11-30T00:00:00Z", "end-datetime": "2026-11-30T23:59:59Z"},
  "contact-info": "smtp-tls-reporting@reporter.example",
  "report-id": "2026-11-30T00:00:00Z_abc.it",
  "policies": [
    {
      "policy": {
        "policy-type": "sts",
        "policy-string": ["version: STSv1", "mode: testing", "mx: mx.abc.it", "max_age: 86400"],
        "policy-domain": "abc.it",
        "mx-host": ["mx.abc.it"]
      },
      "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
      "failure-details": [
        {"result-type": "certificate-expired", "sending-mta-ip": "2001:db8::1", "receiving-mx-hostname": "mx.abc.it", "failed-session-count": 100},
        {"result-type": "starttls-not-supported", "sending-mta-ip": "198.51.100.62", "receiving-mx-hostname": "mx2.abc.it",
         "receiving-ip": "192.0.2.25", "failed-session-count": 200, "additional-information": "https://reporter.example/tls/x"},
        {"result-type": "validation-failure", "sending-mta-ip": "198.51.100.62", "receiving-ip": "192.0.2.25",
         "failed-session-count": 3, "failure-reason-code": "X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED"}
      ]
    },
    {
      "policy": {"policy-type": "no-policy-found", "policy-domain": "other.abc.it", "mx-host": "mx.other.abc.it"},
      "summary": {"total-successful-session-count": "12", "total-failure-session-count": "0"}
    }
  ]
}`

func TestParse(t *testing.T) {
	r, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if r.Organization != "Example Reporter Inc." || r.ReportID == "" || !r.End.After(r.Start) || len(r.Policies) != 2 {
		t.Fatalf("%+v", r)
	}
	p := r.Policies[0]
	if p.Type != "sts" || p.Domain != "abc.it" || p.Success != 5326 || p.Failure != 303 || len(p.Failures) != 3 || p.Failures[1].Sessions != 200 {
		t.Errorf("policy: %+v", p)
	}
	if q := r.Policies[1]; q.Success != 12 || len(q.MXHosts) != 1 || q.MXHosts[0] != "mx.other.abc.it" {
		t.Errorf("a count as a string and mx-host as one string: %+v", q)
	}
	for _, f := range p.Failures {
		if !slices.Contains(ResultTypes, f.Type) {
			t.Errorf("unknown result type %q", f.Type)
		}
	}
}

func TestParseStrict(t *testing.T) {
	for name, c := range map[string]struct{ from, to, want string }{
		"bad date":        {`"start-datetime": "2026-11-30T00:00:00Z"`, `"start-datetime": "30/11/2026"`, "not an RFC 3339 time"},
		"reversed range":  {`"end-datetime": "2026-11-30T23:59:59Z"`, `"end-datetime": "2026-11-29T23:59:59Z"`, "reversed"},
		"negative count":  {`"total-successful-session-count": 5326`, `"total-successful-session-count": -1`, "whole number"},
		"fraction":        {`"failed-session-count": 100`, `"failed-session-count": 1.5`, "whole number"},
		"details > total": {`"failed-session-count": 200`, `"failed-session-count": 2000`, "more than the summary"},
		"no report-id":    {`"report-id": "2026-11-30T00:00:00Z_abc.it"`, `"report-id": ""`, "no report-id"},
		"no domain":       {`"policy-domain": "abc.it"`, `"policy-domain": ""`, "without policy-domain"},
		"not json":        {`{`, `<feedback>`, "not a TLS report"},
	} {
		_, err := Parse([]byte(strings.Replace(sample, c.from, c.to, 1)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
}

func TestDecode(t *testing.T) {
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write([]byte(sample))
	w.Close()
	if b, err := Decode(gz.Bytes()); err != nil || string(b) != sample {
		t.Fatalf("gzip: %v", err)
	}
	if b, err := Decode([]byte(sample)); err != nil || string(b) != sample {
		t.Fatalf("plain: %v", err)
	}
	var bomb bytes.Buffer
	w = gzip.NewWriter(&bomb)
	w.Write(make([]byte, MaxReport+1024))
	w.Close()
	if _, err := Decode(bomb.Bytes()); err == nil || !strings.Contains(err.Error(), "decompresses past") {
		t.Errorf("a %d KB gzip that inflates past the cap: %v", bomb.Len()>>10, err)
	}
}

// FuzzParse: any bytes give a report or an error, never a panic, and a
// report holds only bounded, printable text.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte(`{"organization-name":"x","report-id":"1","date-range":{"start-datetime":"2026-01-01T00:00:00Z","end-datetime":"2026-01-02T00:00:00Z"},"policies":[{"policy":{"policy-domain":"a","mx-host":"m"},"summary":{"total-failure-session-count":"7"}}]}`))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			return
		}
		r, err := Parse(b)
		if err != nil {
			return
		}
		if len(r.Organization) > 255 || strings.ContainsAny(r.ReportID, "\r\n") || !r.End.After(r.Start) {
			t.Fatalf("report %+v", r)
		}
		for _, p := range r.Policies {
			if p.Success < 0 || p.Failure < 0 {
				t.Fatalf("negative counts %+v", p)
			}
		}
	})
}
