// Package verify judges one received message completely: SPF for the
// connecting IP and envelope (verify/spf), every DKIM signature
// (verify/dkim), the From domain (verify/message), DMARC discovery and
// alignment (verify/dmarc), then the tags of ../shared/docs/verdicts.md
// and an Authentication-Results header. Judge never touches the store; its
// Verdict is the one struct that `testerd check --json`, the database, the
// JSON API, the web pages and the reply body all show.
package verify

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/testerd/testerd/bimi"
	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/untrusted"
	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/rspamd"
	"github.com/testerd/testerd/unsubscribe"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/requirements"
	"github.com/testerd/testerd/verify/spf"
)

// VerdictVersion is bumped when Verdict's JSON changes incompatibly, so
// stored verdicts can be told apart.
const VerdictVersion = 1

// Probe is what Judge needs of a received message.
type Probe struct {
	Kind     kind.Kind
	IP       netip.Addr
	Helo     string
	MailFrom string
	Raw      []byte
	// Session is nil when the SMTP session is unknown (testerd check).
	Session *Session
	// Rcpt is the recipient the probe was sent to, "" when unknown.
	Rcpt string
}

// Session is what the SMTP session says beyond the envelope.
type Session struct {
	// TLS is the TLS version ("TLS 1.3"), "" without STARTTLS.
	TLS string
}

// Envelope is the SMTP side of the probe.
type Envelope struct {
	IP       netip.Addr `json:"ip"`
	Helo     string     `json:"helo"`
	MailFrom string     `json:"mail_from"`
}

// MessageFacts describe the message as received.
type MessageFacts struct {
	Size    int    `json:"size"`
	Subject string `json:"subject,omitempty"`
	// SubjectText is Subject decoded (RFC 2047) for display, when it
	// differs.
	SubjectText string `json:"subject_text,omitempty"`
	MessageID   string `json:"message_id,omitempty"`
	Date        string `json:"date,omitempty"`
	Fields      int    `json:"fields"`
	LongestLine int    `json:"longest_line"`
	BareLF      bool   `json:"bare_lf,omitempty"`
	NoBody      bool   `json:"no_body,omitempty"`
	// Malformed lists header lines that are not valid fields (clipped).
	Malformed     []string `json:"malformed,omitempty"`
	TooManyFields bool     `json:"too_many_fields,omitempty"`
	// HeaderBytes is the length of the header as received, so pages can
	// show it without parsing the message again.
	HeaderBytes int `json:"header_bytes"`
	// References holds the well-formed msg-ids of References (the last
	// ten).
	References []string `json:"references,omitempty"`
	// Automatic holds what RFC 3834 looks at: the Auto-Submitted and
	// Precedence values (keywords), the list and auto-reply fields
	// present, X-Auto-Response-Suppress.
	Automatic Automatic `json:"automatic"`
}

// Automatic are the header facts that say a message was sent by a
// program or a list, which must never be answered automatically.
type Automatic struct {
	AutoSubmitted []string `json:"auto_submitted,omitempty"`
	Precedence    []string `json:"precedence,omitempty"`
	// Fields names the List-* and X-Autoreply/X-Autorespond fields
	// present.
	Fields   []string `json:"fields,omitempty"`
	Suppress string   `json:"suppress,omitempty"`
}

// Verdict is what testerd concluded about one probe.
type Verdict struct {
	Version int       `json:"version"`
	Kind    kind.Kind `json:"kind"`
	// Tags are the verdict tags for Kind; AllTags has every tester's.
	Tags    []string               `json:"tags"`
	AllTags map[kind.Kind][]string `json:"all_tags"`

	Envelope Envelope          `json:"envelope"`
	Message  MessageFacts      `json:"message"`
	From     message.From      `json:"from"`
	SPF      *spf.Outcome      `json:"spf"`
	DKIM     *dkim.Outcome     `json:"dkim"`
	DMARC    *dmarc.Evaluation `json:"dmarc"`

	// AuthenticationResults is the field value (RFC 8601), unfolded.
	AuthenticationResults string `json:"authentication_results"`

	// Requirements is the sender-requirements report, for check@.
	Requirements *requirements.Report `json:"requirements,omitempty"`

	// Spam is a real spam filter's opinion (rspamd), for check@ when the
	// operator runs one: information beside the verdict, never a tag.
	Spam *rspamd.Report `json:"spam,omitempty"`

	// BIMI says whether receivers would show the From domain's logo, for
	// check@: information beside the verdict, never a tag.
	BIMI *bimi.Result `json:"bimi,omitempty"`

	// DNSCache says how many DNS answers came from testerd's cache, and
	// how old the oldest was; nil when none did.
	DNSCache *DNSCache `json:"dns_cache,omitempty"`

	// TesterFailure is set when testerd itself could not judge the probe
	// (its resolver gave no answer to any question): the results then say
	// nothing about the sender's domain.
	TesterFailure i18n.Msg `json:"tester_failure,omitzero"`
}

// DNSCache describes the cached answers a verdict used.
type DNSCache struct {
	Hits          int     `json:"hits"`
	OldestSeconds float64 `json:"oldest_seconds"`
	// LimitSeconds is the cache's cap on an answer's age.
	LimitSeconds float64 `json:"limit_seconds"`
}

// Judge runs every check for probes, all through one resolver.
type Judge struct {
	Resolver dnsx.Resolver
	// Receiver is the tester's host name: the authserv-id of
	// Authentication-Results and the receiver of Received-SPF.
	Receiver string
	// Now is the clock for DKIM t= and x=; nil means time.Now.
	Now func() time.Time
	// Timeout bounds the whole verdict; 0 means spf.DefaultTimeout.
	Timeout time.Duration
	// Reputation, if set, runs check@'s DNS block list lookups.
	Reputation *requirements.Reputation
	// Spam, if set, asks rspamd for its opinion of check@ probes, beside
	// testerd's own checks.
	Spam *rspamd.Client
	// Unsubscribe, if set, tries check@ probes' one-click unsubscription.
	Unsubscribe *unsubscribe.Trier
	// BIMI, if set, checks the From domain's BIMI setup for check@ (its
	// Resolver is the judge's, counted with the verdict's questions).
	BIMI *bimi.Checker
}

// Judge verifies one probe. It never fails: every problem is part of the
// verdict.
func (j *Judge) Judge(ctx context.Context, p Probe) *Verdict {
	timeout := j.Timeout
	if timeout <= 0 {
		timeout = spf.DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tally := dnsx.NewTally(j.Resolver)
	res := dnsx.Resolver(tally)
	cacheUse := &dnsx.CacheUse{}
	ctx = dnsx.WithCacheUse(ctx, cacheUse)

	m := message.Parse(p.Raw)
	v := &Verdict{
		Version:  VerdictVersion,
		Kind:     p.Kind,
		Envelope: Envelope{IP: p.IP.Unmap(), Helo: p.Helo, MailFrom: p.MailFrom},
		Message:  messageFacts(m, len(p.Raw)),
		From:     m.From(),
	}

	// rspamd reads the message while testerd judges it.
	var spam chan *rspamd.Report
	if j.Spam != nil && p.Kind != kind.SPF && p.Kind != kind.DKIM {
		spam = make(chan *rspamd.Report, 1)
		go func() {
			// rspamd takes the client's name from its MTA, as Postfix
			// gives it: the forward-confirmed reverse name. (The
			// reverse DNS check asks the same, from the cache.)
			env := rspamd.Envelope{IP: p.IP.Unmap(), Helo: p.Helo, MailFrom: p.MailFrom, Rcpt: p.Rcpt, Hostname: "unknown"}
			if names, _, err := dnsx.ReverseConfirm(ctx, res, env.IP, 1); err == nil && len(names) > 0 && names[0].Confirmed {
				env.Hostname = names[0].Name
			}
			spam <- j.Spam.Check(ctx, p.Raw, env)
		}()
	}

	// SPF and DKIM do not depend on each other: run them side by side.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &spf.Checker{Resolver: res, Receiver: j.Receiver, Timeout: timeout}
		v.SPF = c.Check(ctx, spf.Params{IP: p.IP.Unmap(), Helo: p.Helo, MailFrom: p.MailFrom})
	}()
	dv := &dkim.Verifier{Resolver: res, Now: j.Now, Timeout: timeout}
	v.DKIM = dv.Verify(ctx, m)
	wg.Wait()

	eff := v.SPF.Effective()
	in := dmarc.Input{FromDomain: v.From.Domain, FromProblem: v.From.Problem, FromDomains: v.From.Domains, SPFDomain: eff.Domain, SPFResult: string(eff.Result)}
	for _, s := range v.DKIM.Signatures {
		in.DKIM = append(in.DKIM, dmarc.DKIMInput{Domain: s.Domain, Pass: s.Result == dkim.Pass, TempError: s.Result == dkim.TempError})
	}
	v.DMARC = dmarc.Evaluate(ctx, res, in)

	f := v.Facts()
	v.AllTags = map[kind.Kind][]string{}
	for _, k := range kind.Testers {
		v.AllTags[k] = Tags(k, f)
	}
	if _, ok := v.AllTags[v.Kind]; !ok {
		v.Kind = kind.Check
	}
	v.Tags = v.AllTags[v.Kind]
	v.AuthenticationResults = v.authResults(j.Receiver)
	// BIMI fetches from the sender's web server while the requirements
	// are checked.
	var logo chan *bimi.Result
	if v.Kind == kind.Check && j.BIMI != nil && v.From.Domain != "" {
		logo = make(chan *bimi.Result, 1)
		go func() { logo <- j.bimi(ctx, res, m, v) }()
	}
	if v.Kind == kind.Check {
		in := requirements.Input{IP: v.Envelope.IP, Helo: p.Helo, MailFrom: p.MailFrom, Message: m, Size: len(p.Raw),
			From: v.From, SPF: v.SPF, DKIM: v.DKIM, DMARC: v.DMARC, Now: time.Now(), Reputation: j.Reputation, Unsubscribe: j.Unsubscribe,
			// The block lists' servers are strangers': their silence is
			// theirs, not a failure of testerd's resolver (the tally).
			Lists: j.Resolver}
		if j.Now != nil {
			in.Now = j.Now()
		}
		if p.Session != nil {
			in.TLS = &p.Session.TLS
		}
		v.Requirements = requirements.Check(ctx, res, in)
	}
	if spam != nil {
		v.Spam = <-spam
		if v.Kind == kind.Check {
			v.Spam.Compare(rspamd.Results{SPF: string(eff.Result), DKIM: v.dkimResult(), DMARC: string(v.DMARC.Result)})
		} else {
			v.Spam = nil
		}
	}
	if logo != nil {
		v.BIMI = <-logo
	}
	if hits, oldest, limit := cacheUse.Result(); hits > 0 {
		v.DNSCache = &DNSCache{Hits: hits, OldestSeconds: oldest.Round(time.Millisecond).Seconds(), LimitSeconds: limit.Seconds()}
	}
	if why := tally.NoAnswer(); !why.IsZero() {
		v.TesterFailure = i18n.M("verdict.tester-failure", why)
	}
	return v
}

// dkimResult is the message's DKIM result as one word: pass when a
// signature passes, else the first signature's, none without one.
func (v *Verdict) dkimResult() string {
	if len(v.DKIM.Signatures) == 0 {
		return "none"
	}
	for _, s := range v.DKIM.Signatures {
		if s.Result == dkim.Pass {
			return "pass"
		}
	}
	return string(v.DKIM.Signatures[0].Result)
}

// Facts extracts the tag rules' inputs from the verdict.
func (v *Verdict) Facts() Facts {
	f := Facts{SPF: v.SPF.Effective().Result, SPFDomainAligned: v.DMARC.SPF.DomainAligned, DMARC: v.DMARC.Result}
	for i, s := range v.DKIM.Signatures {
		f.DKIM = append(f.DKIM, DKIMFact{Result: s.Result, DomainAligned: v.DMARC.DKIM[i].DomainAligned})
	}
	return f
}

// Text is the probe's Subject as people read it.
func (m MessageFacts) Text() string {
	if m.SubjectText != "" {
		return m.SubjectText
	}
	return m.Subject
}

// Subject is the auto-reply's Subject: the tags, a space, then the
// probe's Subject.
func (v *Verdict) Subject() string {
	return strings.Join(v.Tags, " ") + " " + v.Message.Subject
}

func messageFacts(m *message.Message, size int) MessageFacts {
	f := MessageFacts{
		Size:          size,
		Subject:       clip(m.First("Subject")),
		MessageID:     clip(m.First("Message-ID")),
		Date:          clip(m.First("Date")),
		Fields:        len(m.Fields),
		LongestLine:   m.LongestLine,
		BareLF:        m.BareLF,
		NoBody:        m.NoBody,
		TooManyFields: m.TooManyFields,
	}
	if t := message.DecodeHeader(m.First("Subject")); t != f.Subject {
		f.SubjectText = t
	}
	f.HeaderBytes = len(m.Header)
	f.References = message.MsgIDs(m.First("References"), 10)
	a := &f.Automatic
	for _, fl := range m.Get("Auto-Submitted") {
		a.AutoSubmitted = append(a.AutoSubmitted, clip(message.Keyword(fl.Value())))
	}
	for _, fl := range m.Get("Precedence") {
		a.Precedence = append(a.Precedence, clip(message.Keyword(fl.Value())))
	}
	for _, name := range []string{"X-Autoreply", "X-Autorespond", "List-Id", "List-Unsubscribe", "List-Post", "List-Help", "List-Subscribe", "List-Owner", "List-Archive"} {
		if len(m.Get(name)) > 0 {
			a.Fields = append(a.Fields, name)
		}
	}
	a.Suppress = clip(strings.ToLower(m.First("X-Auto-Response-Suppress")))
	for _, fl := range m.Fields {
		if fl.Malformed && len(f.Malformed) < 10 {
			f.Malformed = append(f.Malformed, clip(strings.TrimSuffix(fl.Raw, "\r\n")))
		}
	}
	return f
}

// maxShown bounds header text copied into a verdict.
const maxShown = 998

func clip(s string) string { return untrusted.Clip(s, maxShown) }

// bimi checks the From domain's BIMI setup for the judged message: the
// selector of its BIMI-Selector header (and whether a passing DKIM
// signature covers it) and DMARC as the verdict found it.
func (j *Judge) bimi(ctx context.Context, res dnsx.Resolver, m *message.Message, v *Verdict) *bimi.Result {
	c := *j.BIMI
	c.Resolver = res
	if j.Now != nil {
		c.Now = j.Now
	}
	d := v.DMARC
	in := bimi.Input{Domain: v.From.Domain, OrgDomain: d.OrgDomain}
	if sel := m.First("BIMI-Selector"); sel != "" {
		in.SelectorHeader = true
		for _, part := range strings.Split(sel, ";") {
			if k, val, ok := strings.Cut(strings.TrimSpace(part), "="); ok && strings.EqualFold(strings.TrimSpace(k), "s") {
				in.Selector = untrusted.Line(strings.TrimSpace(val), 63)
			}
		}
		for _, s := range v.DKIM.Signatures {
			in.SelectorSigned = in.SelectorSigned || (s.Result == dkim.Pass && s.Signed.BIMISelector)
		}
	}
	var org *dmarc.Discovery
	if d.Discovery != nil && !d.Discovery.Inherited && d.OrgDomain != "" && d.OrgDomain != d.Discovery.Domain {
		org = dmarc.Discover(ctx, res, d.OrgDomain)
	}
	in.DMARC = bimi.EnforcementOf(d.Discovery, org)
	in.DMARC.Judged, in.DMARC.Pass = true, d.Result == dmarc.Pass
	return c.Check(ctx, in)
}
