// Package requirements measures one message against the mailbox providers'
// sender requirements (Google's sender guidelines, reference 004, which
// Yahoo's match in substance): SPF or DKIM for every sender, both for bulk
// senders, From alignment and a DMARC record, forward-confirmed reverse
// DNS, TLS, RFC 5322 format, one-click unsubscribe, From-spoofing of
// gmail.com, the ARC chain, size and MIME structure, and the 2025–26 rules
// on how a message presents its sender (display name, reply prefixes, both
// SPF and DKIM aligned). Each requirement gets pass, warn, fail or n/a with
// its evidence, what is wrong and its fix, all as i18n messages, so a
// stored report reads in any language. From the failing requirements and
// each provider's own rules (Providers, with their sources) the report
// says what Gmail, Yahoo/AOL, Outlook.com, iCloud Mail and Europe's
// Orange, La Poste, GMX/WEB.DE and IONOS would each do with the message,
// and with which documented reply (GmailCodes, Provider.Codes): the one
// place testerd decides that; the providers that publish no rules
// (Unpublished) are named as such. Europe's rules add a HELO that
// resolves, a PTR of one's own, DKIM aligned with From, and an SPF that
// does not refuse the server. It is what check@ answers, beside its tags.
package requirements

import (
	"context"
	"net/netip"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/unsubscribe"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dmarc"
	"github.com/testerd/testerd/verify/spf"
)

// Status of one requirement.
type Status string

// Statuses.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
	NA   Status = "n/a"
)

// Item is one requirement's outcome. Its name is the catalog's "req.<ID>".
type Item struct {
	ID     string `json:"id"`
	Status Status `json:"status"`
	// Blocking: a failure here makes some provider refuse the message
	// (Providers says which, and whether for all mail or in bulk).
	Blocking bool `json:"blocking,omitempty"`
	// Code is the enhanced status codes Gmail uses for it: "4.7.23/5.7.25".
	Code string `json:"gmail_code,omitempty"`
	// Problem says what is wrong, true for this message; zero when the
	// requirement passes or does not apply.
	Problem  i18n.Msg   `json:"problem,omitzero"`
	Evidence []i18n.Msg `json:"evidence"`
	// Fix is what to change, where the report can say it.
	Fix i18n.Msg `json:"fix,omitzero"`
}

// Failed reports whether the requirement failed.
func (it Item) Failed() bool { return it.Status == Fail }

// Report is the whole sender-requirements report.
type Report struct {
	// Ready: no provider refuses the message, sent in bulk or not.
	Ready bool `json:"ready"`
	// Blocking counts the failed requirements some provider refuses for.
	Blocking int `json:"blocking"`
	// FirstError is the reply Gmail would most likely give first, if any:
	// Gmail's entry of Providers.
	FirstError string `json:"first_error,omitempty"`
	Items      []Item `json:"items"`
	// Providers is what each big mailbox provider would do with the
	// message, by its own rules.
	Providers []ProviderVerdict `json:"providers"`
}

// Item returns the item with id, if the report has it.
func (r *Report) Item(id string) (Item, bool) {
	for _, it := range r.Items {
		if it.ID == id {
			return it, true
		}
	}
	return Item{}, false
}

// Input is what the report reads: the envelope, the session, the message
// and the verdict's SPF, DKIM and DMARC parts.
type Input struct {
	IP             netip.Addr
	Helo, MailFrom string
	// TLS is the SMTP session's TLS version ("TLS 1.3", "" for none); nil
	// when the session is unknown (an offline check).
	TLS     *string
	Message *message.Message
	Size    int
	From    message.From
	SPF     *spf.Outcome
	DKIM    *dkim.Outcome
	DMARC   *dmarc.Evaluation
	// Now is the clock for the Date check.
	Now time.Time
	// Reputation, if set, looks the IP and domains up in DNSLists,
	// through Lists (the resolver Check is given when nil).
	Reputation *Reputation
	Lists      dnsx.Resolver
	// Unsubscribe, if set, tries a one-click unsubscription that the
	// message offers and signs (the operator's --unsubscribe-try).
	Unsubscribe *unsubscribe.Trier

	mime *mimeFacts
	body *content
}

// Bounds of the report's own DNS work.
const (
	MaxPTRNames = 5
	MaxRUA      = 5
)

// Thresholds.
const (
	// GmailClipBytes: Gmail shows "[Message clipped]" above 102 KB.
	GmailClipBytes = 102 * 1024
	// DKIMBreakLine: reference 002 saw signatures break on lines over 990
	// octets, which relays fold; RFC 5322 allows 998.
	DKIMBreakLine = 990
	MaxLine       = 998
	// MaxHeaderBytes: a header larger than this is warned about (Gmail
	// refuses oversized headers with 552-5.3.4).
	MaxHeaderBytes = 64 << 10
)

// Check builds the report. It asks DNS for the reverse DNS of the client,
// for external rua authorizations, the receiving domains, the block lists
// and, for a gmail.com From, Google's SPF; everything else comes from the
// verdict.
func Check(ctx context.Context, r dnsx.Resolver, in Input) *Report {
	in.mime = walkMIME(in.Message)
	in.body = readContent(in.mime)
	spfPass, dkimPass := authPasses(in.SPF, in.DKIM)
	rdns, ptr := checkReverseDNS(ctx, r, in.IP)
	unsub := checkUnsubscribe(in)
	items := []Item{
		checkAuth(spfPass, dkimPass),
		checkSPF(in, spfPass),
		checkSPFAuthorized(in),
		checkDKIM(in, dkimPass),
		checkDKIMAligned(in),
		checkAlignment(in),
		checkDMARC(ctx, r, in),
		rdns,
		checkGenericRDNS(in.IP, ptr),
		checkHELO(ctx, r, in),
		checkIPv6(in, rdns.Status, spfPass, dkimPass),
		checkTLS(in.TLS),
		checkFormat(in),
		unsub,
		checkUnsubscribeTry(ctx, in, unsub),
		checkGmailFrom(ctx, r, in),
		checkARC(in.Message),
		checkSize(in),
		checkDisplayName(in),
		checkReplyPrefix(in.Message),
		checkBothAligned(in),
		checkSPFEntries(in),
		checkReceiving(ctx, r, in),
		checkScripts(in),
		checkReputation(ctx, r, in),
		checkHTMLClip(in),
		checkTextPart(in),
		checkImages(in),
		checkLinks(in),
		checkLinkText(in),
		checkLinkReputation(ctx, r, in),
		checkAttachments(in),
		checkBodyUnsubscribe(in),
	}
	return report(items, in.DMARC)
}

// Auth is the report of what a spf@ or dkim@ probe measures: SPF or
// DKIM, each of them, alignment and the DMARC record, from the verdict's
// parts alone (no DNS).
func Auth(spfOut *spf.Outcome, dkimOut *dkim.Outcome, d *dmarc.Evaluation, from message.From) *Report {
	in := Input{SPF: spfOut, DKIM: dkimOut, DMARC: d, From: from}
	spfPass, dkimPass := authPasses(spfOut, dkimOut)
	items := []Item{
		checkAuth(spfPass, dkimPass),
		checkSPF(in, spfPass),
		checkSPFAuthorized(in),
		checkDKIM(in, dkimPass),
		checkDKIMAligned(in),
		checkAlignment(in),
		checkDMARC(context.Background(), nil, in),
	}
	return report(items, d)
}

// report sums the items up: the codes, the providers' verdicts, readiness.
func report(items []Item, d *dmarc.Evaluation) *Report {
	rep := &Report{Items: items}
	for i := range rep.Items {
		it := &rep.Items[i]
		if c, ok := gmailCode(it.ID); ok && it.Status == Fail {
			it.Code = c.code()
		}
		if it.Evidence == nil {
			it.Evidence = []i18n.Msg{}
		}
		if it.Status == Fail && blocking(it.ID) {
			it.Blocking = true
			rep.Blocking++
		}
	}
	rep.Providers = providerVerdicts(rep.Items, d)
	rep.Ready = true
	for _, p := range rep.Providers {
		if p.Outcome != Accept {
			rep.Ready = false
		}
		if p.Provider == "Gmail" {
			rep.FirstError = p.Reply
		}
	}
	return rep
}

func authPasses(s *spf.Outcome, d *dkim.Outcome) (spfPass, dkimPass bool) {
	spfPass = s != nil && s.Effective() != nil && s.Effective().Result == spf.Pass
	if d != nil {
		for _, sig := range d.Signatures {
			if sig.Result == dkim.Pass {
				dkimPass = true
			}
		}
	}
	return spfPass, dkimPass
}
