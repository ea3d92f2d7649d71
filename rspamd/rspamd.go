// Package rspamd asks a real spam filter, rspamd, for its opinion of a
// probe: its /checkv2 endpoint, given the message and the SMTP envelope
// as its headers take them (IP, Helo, From, Rcpt, Hostname). The report
// keeps the score, the score that rejects, rspamd's action and every
// symbol that fired with rspamd's own description, each put in one area
// (authentication, content, links, reputation) by its name. It is
// information beside testerd's verdict and never changes a tag; where
// rspamd's authentication results differ from testerd's, Compare says so.
// A timeout or an error is the tester's failure, said as such, and the
// rest of the verdict goes on.
package rspamd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
)

// Bounds of one check.
const (
	DefaultTimeout = 5 * time.Second
	// MaxResponse bounds rspamd's answer.
	MaxResponse = 1 << 20
	// MaxSymbols bounds the symbols kept, the weightiest first.
	MaxSymbols = 200
	maxOptions = 5
)

// Client asks one rspamd.
type Client struct {
	// URL is the normal worker's address: http://127.0.0.1:11333.
	URL string
	// Timeout bounds a check; 0 is DefaultTimeout.
	Timeout time.Duration
	// HTTP, if set, makes the requests (tests); else a client of its own.
	HTTP *http.Client
}

// Envelope is what rspamd is told of the SMTP session.
type Envelope struct {
	IP       netip.Addr
	Helo     string
	MailFrom string
	Rcpt     string
	// Hostname is the client's confirmed reverse DNS name, "" for none.
	Hostname string
}

// Area is what a symbol is about.
type Area string

// Areas.
const (
	Authentication Area = "authentication"
	Content        Area = "content"
	Links          Area = "links"
	Reputation     Area = "reputation"
)

// Symbol is one rule that fired.
type Symbol struct {
	Name        string   `json:"name"`
	Score       float64  `json:"score"`
	Description string   `json:"description,omitempty"`
	Options     []string `json:"options,omitempty"`
	Area        Area     `json:"area"`
}

// Report is rspamd's opinion of one message.
type Report struct {
	// Score is rspamd's total; Reject the score at which it rejects
	// (required_score).
	Score  float64 `json:"score"`
	Reject float64 `json:"reject_score"`
	// Action is what rspamd would do: "no action", "greylist", "add
	// header", "rewrite subject", "soft reject" or "reject".
	Action  string   `json:"action"`
	Symbols []Symbol `json:"symbols"`
	// Message is the reply rspamd would give at SMTP, if any.
	Message string `json:"message,omitempty"`
	// Differences say where rspamd's authentication results are not
	// testerd's (Compare).
	Differences []i18n.Msg `json:"differences,omitempty"`
	// Milliseconds is how long rspamd took, as testerd waited for it.
	Milliseconds int64 `json:"milliseconds"`
	// Failure is testerd's failure to get an opinion (rspamd down, slow,
	// or answering nonsense): no symbol then.
	Failure i18n.Msg `json:"failure,omitzero"`
}

// Failed reports whether no opinion came.
func (r *Report) Failed() bool { return !r.Failure.IsZero() }

// Group is the symbols of one area.
type Group struct {
	Area    Area
	Symbols []Symbol
}

// Groups are the symbols by area (authentication, content, links,
// reputation), each the weightiest first; areas with none left out.
func (r *Report) Groups() []Group {
	var out []Group
	for _, a := range []Area{Authentication, Content, Links, Reputation} {
		g := Group{Area: a}
		for _, s := range r.Symbols {
			if s.Area == a {
				g.Symbols = append(g.Symbols, s)
			}
		}
		if len(g.Symbols) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// ActionKey is the catalog key of rspamd's action in words.
func (r *Report) ActionKey() string {
	switch r.Action {
	case "no action", "greylist", "add header", "rewrite subject", "soft reject", "reject":
		return "spam.action." + strings.ReplaceAll(r.Action, " ", "-")
	}
	return "spam.action.other"
}

// answer is /checkv2's JSON, as far as testerd reads it.
type answer struct {
	IsSkipped     bool    `json:"is_skipped"`
	Score         float64 `json:"score"`
	RequiredScore float64 `json:"required_score"`
	Action        string  `json:"action"`
	Symbols       map[string]struct {
		Name        string   `json:"name"`
		Score       float64  `json:"score"`
		Description string   `json:"description"`
		Options     []string `json:"options"`
	} `json:"symbols"`
	Messages map[string]string `json:"messages"`
}

// Check asks rspamd about raw. It never fails: a failure is the report's.
func (c *Client) Check(ctx context.Context, raw []byte, env Envelope) *Report {
	start := time.Now()
	rep := &Report{Symbols: []Symbol{}}
	defer func() { rep.Milliseconds = time.Since(start).Milliseconds() }()
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/checkv2", bytes.NewReader(raw))
	if err != nil {
		rep.Failure = i18n.M("spam.fail.request", err.Error())
		return rep
	}
	// rspamd's protocol headers; a value a stranger gave loses its line
	// breaks, so it cannot add a header of its own.
	set := func(k, v string) {
		if v = strings.Map(func(r rune) rune {
			if r < 0x20 || r == 0x7f {
				return -1
			}
			return r
		}, v); v != "" {
			req.Header.Set(k, untrusted.Clip(v, 500))
		}
	}
	if env.IP.IsValid() {
		set("IP", env.IP.String())
	}
	set("Helo", env.Helo)
	set("From", env.MailFrom)
	set("Rcpt", env.Rcpt)
	set("Hostname", env.Hostname)
	set("User-Agent", "testerd")
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			rep.Failure = i18n.M("spam.fail.timeout", c.URL, timeout.String())
		} else {
			rep.Failure = i18n.M("spam.fail.connect", c.URL, err.Error())
		}
		return rep
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		rep.Failure = i18n.M("spam.fail.timeout", c.URL, timeout.String())
		return rep
	case err != nil:
		rep.Failure = i18n.M("spam.fail.connect", c.URL, err.Error())
		return rep
	case resp.StatusCode != http.StatusOK:
		rep.Failure = i18n.M("spam.fail.status", c.URL, resp.Status)
		return rep
	case len(body) > MaxResponse:
		rep.Failure = i18n.M("spam.fail.answer", c.URL, fmt.Sprintf("over %d bytes", MaxResponse))
		return rep
	}
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		rep.Failure = i18n.M("spam.fail.answer", c.URL, err.Error())
		return rep
	}
	if a.IsSkipped && a.Action == "" {
		// Skipped by its settings, with nothing decided. (A message a
		// rule decided early, such as GTUBE, is skipped too, with its
		// action: that is an opinion.)
		rep.Failure = i18n.M("spam.fail.skipped", c.URL)
		return rep
	}
	rep.Score, rep.Reject, rep.Action = finite(a.Score), finite(a.RequiredScore), untrusted.Line(a.Action, 40)
	rep.Message = untrusted.Line(a.Messages["smtp_message"], 300)
	for name, s := range a.Symbols {
		if s.Name == "" {
			s.Name = name
		}
		sym := Symbol{Name: untrusted.Line(s.Name, 80), Score: finite(s.Score), Description: untrusted.Line(s.Description, 200)}
		for i, o := range s.Options {
			if i == maxOptions {
				sym.Options = append(sym.Options, "…")
				break
			}
			sym.Options = append(sym.Options, untrusted.Line(o, 120))
		}
		sym.Area = areaOf(sym.Name)
		rep.Symbols = append(rep.Symbols, sym)
	}
	slices.SortFunc(rep.Symbols, func(a, b Symbol) int {
		if d := math.Abs(b.Score) - math.Abs(a.Score); d != 0 {
			if d > 0 {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(rep.Symbols) > MaxSymbols {
		rep.Symbols = rep.Symbols[:MaxSymbols]
	}
	return rep
}

func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*100) / 100
}

// areaPrefixes put a symbol in its area by its name, as rspamd's rules
// name them (the answer does not carry their groups).
var areaPrefixes = []struct {
	prefix string
	area   Area
}{
	{"R_SPF_", Authentication}, {"SPF_", Authentication}, {"R_DKIM_", Authentication}, {"DKIM_", Authentication},
	{"DMARC_", Authentication}, {"ARC_", Authentication}, {"AUTH_NA", Authentication}, {"BLOCKLISTDMARC", Authentication},
	{"RBL_", Reputation}, {"RCVD_IN_", Reputation}, {"RECEIVED_SPAMHAUS", Reputation}, {"RECEIVED_BLOCKLISTDE", Reputation},
	{"DNSWL", Reputation}, {"RWL_", Reputation}, {"SPAMHAUS", Reputation}, {"MAILSPIKE", Reputation}, {"SEM_", Reputation},
	{"ASN", Reputation}, {"FUZZY_", Reputation}, {"BAYES_", Reputation}, {"NEURAL_", Reputation}, {"IP_REPUTATION", Reputation},
	{"SENDER_REP", Reputation}, {"RSPAMD_EMAILBL", Reputation}, {"MSBL_", Reputation}, {"DBL_", Links}, {"URIBL_", Links},
	{"SURBL_", Links}, {"RSPAMD_URIBL", Links}, {"URI_", Links}, {"URL_", Links}, {"PHISH", Links}, {"REDIRECTOR_URL", Links},
	{"HTTP_TO_", Links}, {"HAS_LINK", Links}, {"HAS_ANON_DOMAIN", Links}, {"R_SUSPICIOUS_URL", Links}, {"SUSPICIOUS_URL", Links},
	{"OMOGRAPH_URL", Links}, {"HAS_ONION_URI", Links}, {"HAS_IPFS", Links}, {"HAS_GUC_PROXY_URI", Links}, {"R_PARTS_DIFFER", Content},
}

func areaOf(name string) Area {
	for _, p := range areaPrefixes {
		if strings.HasPrefix(name, p.prefix) {
			return p.area
		}
	}
	return Content
}

// Results are testerd's own authentication results, as RFC 8601 names
// them, for Compare.
type Results struct {
	SPF, DKIM, DMARC string
}

// rspamdResults map rspamd's authentication symbols to RFC 8601 results.
var rspamdResults = map[string]map[string]string{
	"spf": {"R_SPF_ALLOW": "pass", "R_SPF_FAIL": "fail", "R_SPF_SOFTFAIL": "softfail", "R_SPF_NEUTRAL": "neutral",
		"R_SPF_NA": "none", "R_SPF_DNSFAIL": "temperror", "R_SPF_PERMFAIL": "permerror"},
	"dkim": {"R_DKIM_ALLOW": "pass", "R_DKIM_REJECT": "fail", "R_DKIM_TEMPFAIL": "temperror", "R_DKIM_PERMFAIL": "permerror",
		"R_DKIM_NA": "none"},
	"dmarc": {"DMARC_POLICY_ALLOW": "pass", "DMARC_POLICY_ALLOW_WITH_FAILURES": "pass", "DMARC_POLICY_REJECT": "fail",
		"DMARC_POLICY_QUARANTINE": "fail", "DMARC_POLICY_SOFTFAIL": "fail", "DMARC_NA": "none", "DMARC_DNSFAIL": "temperror",
		"DMARC_BAD_POLICY": "permerror"},
}

// Compare notes where rspamd's authentication results are not testerd's:
// most often rspamd's DNS saw something else, or it judged a DKIM
// signature by other rules.
func (r *Report) Compare(ours Results) {
	if r.Failed() {
		return
	}
	for _, m := range []struct{ name, ours string }{{"spf", ours.SPF}, {"dkim", ours.DKIM}, {"dmarc", ours.DMARC}} {
		theirs := ""
		for _, s := range r.Symbols {
			if res, ok := rspamdResults[m.name][s.Name]; ok {
				theirs = res
				break
			}
		}
		if theirs == "" || m.ours == "" || theirs == m.ours {
			continue
		}
		if theirs == "temperror" {
			r.Differences = append(r.Differences, i18n.M("spam.differ.dns", strings.ToUpper(m.name), m.ours))
			continue
		}
		r.Differences = append(r.Differences, i18n.M("spam.differ", strings.ToUpper(m.name), m.ours, theirs))
	}
}
