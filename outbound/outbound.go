// Package outbound sends testerd's own mail: the replies to probes, the
// DMARC summaries and the alerts; and, through the same queue, the webhook
// events. Messages wait in the store's outbox; a Queue
// takes those that are due, signs each with the tester's DKIM keys
// (go-msgauth dkim.Sign, RSA-2048 and optionally Ed25519) and hands it to a
// Transport: Direct, which finds the recipient domain's MX hosts through
// dnsx (A/AAAA when there is no MX, nothing for a null MX, RFC 7505) and
// uses STARTTLS when offered, or Smarthost, which relays everything through
// one configured server with STARTTLS or implicit TLS and optional AUTH
// PLAIN. Temporary failures are retried with exponential backoff until a
// give-up age; permanent ones are recorded and never bounced, since the
// mail goes out with a null sender.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"

	"github.com/testerd/testerd/internal/untrusted"
)

// Message is one envelope and its data, signed and ready to send.
type Message struct {
	// From is the envelope sender; "" is the null sender <>.
	From string
	To   string
	Data []byte
}

// Transport delivers messages.
type Transport interface {
	// Deliver sends m. The Delivery is filled in as far as the attempt
	// went; a non-nil error is an *Error.
	Deliver(ctx context.Context, m *Message) (*Delivery, error)
}

// Delivery describes a successful hand-over.
type Delivery struct {
	// Relay is the server that accepted the message: "name [address]".
	Relay string
	// TLS is the TLS version used, "" for none.
	TLS string
	// Reply is the server's final reply text.
	Reply string
}

// Error is a failed delivery.
type Error struct {
	// Permanent failures are not retried.
	Permanent bool
	// Host is the server the failure came from, if any.
	Host string
	Err  error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Permanent {
		b.WriteString("permanent: ")
	} else {
		b.WriteString("temporary: ")
	}
	if e.Host != "" {
		b.WriteString(e.Host)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func temporary(host string, format string, args ...any) *Error {
	return &Error{Host: host, Err: fmt.Errorf(format, args...)}
}

func permanent(host string, format string, args ...any) *Error {
	return &Error{Permanent: true, Host: host, Err: fmt.Errorf(format, args...)}
}

// classify turns an SMTP exchange error into an *Error: 5xx replies to
// MAIL, RCPT and DATA are permanent; everything else (4xx, network, TLS,
// and refusals before MAIL, after which the next server is tried, RFC 5321
// §3.8) is temporary.
func classify(host string, err error) *Error {
	var setup *setupError
	isSetup := errors.As(err, &setup)
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		msg := fmt.Errorf("%d %s", se.Code, oneLine(se.Message))
		if isSetup {
			msg = fmt.Errorf("%s: %w", setup.stage, msg)
		}
		return &Error{Permanent: !isSetup && se.Code >= 500 && se.Code < 600, Host: host, Err: msg}
	}
	return &Error{Host: host, Err: err}
}

// setupError is a failure before MAIL FROM: the greeting, EHLO, TLS or
// AUTH.
type setupError struct {
	stage string
	err   error
}

func (e *setupError) Error() string { return e.stage + ": " + e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// oneLine joins a multi-line server reply and bounds it: it is stored and
// shown, and it comes from a stranger.
func oneLine(s string) string {
	return untrusted.Clip(strings.Join(strings.Fields(s), " "), 300)
}
