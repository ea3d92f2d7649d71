// Package requirements measures one message against the mailbox providers'
// sender requirements (Google's sender guidelines, reference 004, which
// Yahoo's match in substance): SPF, DKIM, both, From alignment, a DMARC
// record, forward-confirmed reverse DNS, TLS, RFC 5322 format, one-click
// unsubscribe, From-spoofing of gmail.com, the ARC chain, and size and MIME
// structure, and the 2025–26 rules on how a message presents its sender
// (display name, reply prefixes, both SPF and DKIM aligned). Each
// requirement gets pass, warn, fail or n/a with its evidence and a
// one-line fix; the report sums up whether the sender is ready for bulk
// sending, which error Gmail would most likely return first (its codes in
// GmailCodes), and what Gmail, Yahoo/AOL, Outlook.com and iCloud Mail
// would each do by their own rules (Providers, with their sources). It is
// what check@ answers, beside its tags.
package requirements

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/message"
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

// Item is one requirement's outcome.
type Item struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Status Status `json:"status"`
	// Blocking: this failure stops bulk sending to Gmail and Yahoo.
	Blocking bool `json:"blocking,omitempty"`
	// Code is the enhanced status code Gmail uses for it (reference 004).
	Code     string   `json:"gmail_code,omitempty"`
	Evidence []string `json:"evidence"`
	Fix      string   `json:"fix,omitempty"`
}

// Report is the whole sender-requirements report.
type Report struct {
	Ready    bool   `json:"ready"`
	Blocking int    `json:"blocking"`
	Summary  string `json:"summary"`
	// FirstError is the reply Gmail would most likely give first, if any.
	FirstError string `json:"first_error,omitempty"`
	Items      []Item `json:"items"`
	// Providers is each big mailbox provider's answer, were the message
	// sent in bulk, by its own rules (Providers).
	Providers []ProviderVerdict `json:"providers"`
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
	// Reputation, if set, looks the IP and domains up in DNSLists.
	Reputation *Reputation

	mime *mimeFacts
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
// for external rua authorizations and, for a gmail.com From, Google's SPF;
// everything else comes from the verdict.
func Check(ctx context.Context, r dnsx.Resolver, in Input) *Report {
	rep := &Report{}
	in.mime = walkMIME(in.Message)
	spfPass := in.SPF != nil && in.SPF.Effective() != nil && in.SPF.Effective().Result == spf.Pass
	dkimPass := anyDKIMPass(in.DKIM)
	rdns := checkReverseDNS(ctx, r, in.IP)
	rep.Items = []Item{
		checkSPF(in, spfPass),
		checkDKIM(in, dkimPass),
		checkBoth(spfPass, dkimPass),
		checkAlignment(in),
		checkDMARC(ctx, r, in),
		rdns,
		checkIPv6(in, rdns.Status, spfPass, dkimPass),
		checkTLS(in.TLS),
		checkFormat(in),
		checkUnsubscribe(in),
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
	}
	for i := range rep.Items {
		it := &rep.Items[i]
		if c, ok := gmailCode(it.ID); ok {
			it.Code = c.code()
		}
		if it.Evidence == nil {
			it.Evidence = []string{}
		}
		if it.Status == Fail && it.Blocking {
			rep.Blocking++
		}
	}
	rep.Ready = rep.Blocking == 0
	if rep.Ready {
		rep.Summary = "ready for bulk sending to Gmail/Yahoo: yes"
	} else {
		rep.Summary = fmt.Sprintf("ready for bulk sending to Gmail/Yahoo: no, %d blocking %s", rep.Blocking, plural(rep.Blocking, "item", "items"))
	}
	rep.FirstError = firstError(rep, in, spfPass, dkimPass)
	rep.Providers = providerVerdicts(rep, in, spfPass, dkimPass)
	return rep
}

// firstError names the reply Gmail would most likely give first: a
// permanent authentication failure, then the temporary codes in the order
// a session meets them (connection, TLS, then the message).
func firstError(rep *Report, in Input, spfPass, dkimPass bool) string {
	failed := map[string]bool{}
	for _, it := range rep.Items {
		if it.Status == Fail {
			failed[it.ID] = true
		}
	}
	switch {
	case !spfPass && !dkimPass:
		return "550-5.7.26 This message does not have authentication information or fails to pass authentication checks (SPF or DKIM)"
	case failed["gmail-from"]:
		return "550-5.7.26 Unauthenticated email from " + in.From.Domain + " is not accepted due to domain's DMARC policy"
	case in.DMARC != nil && in.DMARC.Result == dmarc.Fail && in.DMARC.Disposition == dmarc.PolicyReject:
		return "550-5.7.26 Unauthenticated email from " + in.DMARC.FromDomain + " is not accepted due to domain's DMARC policy"
	}
	for _, c := range GmailCodes {
		if failed[c.ID] && c.ID != "gmail-from" {
			return c.reply()
		}
	}
	return ""
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func anyDKIMPass(o *dkim.Outcome) bool {
	if o == nil {
		return false
	}
	for _, s := range o.Signatures {
		if s.Result == dkim.Pass {
			return true
		}
	}
	return false
}
