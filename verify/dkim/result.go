package dkim

import (
	"time"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
)

// Result is one signature's result, as ../shared/docs/verdicts.md defines
// them.
type Result string

const (
	// Pass: the signature verifies.
	Pass Result = "pass"
	// Fail: a well-formed signature with a usable key, but the body hash
	// or the header signature does not match the message as received.
	Fail Result = "fail"
	// Invalid: the signature or its key record is unusable (RFC 6376
	// PERMFAIL): bad tags, unsupported algorithm, expired, no key, bad or
	// revoked key, key type mismatch, key too short.
	Invalid Result = "invalid"
	// TempError: the key could not be fetched for a transient reason.
	TempError Result = "temperror"
)

// Checks that can fail, named in Signature.Failed.
const (
	CheckBodyHash        = "body-hash"
	CheckHeaderSignature = "header-signature"
)

// Bounds on h=: a signature may list at most MaxSignedFields header
// fields (as many as message.MaxFields, the fields a header may hold here;
// more is invalid, never a wrong fail); a verdict shows MaxShownHeaders of
// them, each clipped to maxShownName octets.
const (
	MaxSignedFields = message.MaxFields
	MaxShownHeaders = 64
	maxShownName    = 64
)

// MaxSignatures is the default cap on DKIM-Signature fields verified per
// message; the rest are counted in Outcome.Unchecked.
const MaxSignatures = 10

// Problem names what makes a signature invalid: a tag of the signature or
// of the key record, or the key lookup.
type Problem struct {
	// In is "signature", "key" or "dns".
	In  string `json:"in"`
	Tag string `json:"tag,omitempty"`
	// Pos is the tag's column in the DKIM-Signature value, if known.
	Pos    int      `json:"pos,omitempty"`
	Reason i18n.Msg `json:"reason"`
}

// Signed says which header fields that matter to people h= covers.
type Signed struct {
	From                bool `json:"from"`
	Subject             bool `json:"subject"`
	ListUnsubscribe     bool `json:"list_unsubscribe"`
	ListUnsubscribePost bool `json:"list_unsubscribe_post"`
	BIMISelector        bool `json:"bimi_selector,omitempty"`
}

// Signature is one DKIM-Signature field: its tags, its key, each check and
// the result with the reason in words.
type Signature struct {
	// Index is the field's 1-based position among DKIM-Signature fields,
	// counted from the top.
	Index  int      `json:"index"`
	Result Result   `json:"result"`
	Reason i18n.Msg `json:"reason"`
	// Failed lists the checks that failed, for Fail.
	Failed  []string `json:"failed,omitempty"`
	Problem *Problem `json:"problem,omitempty"`

	Version          string `json:"version,omitempty"`
	Algorithm        string `json:"algorithm,omitempty"`
	Domain           string `json:"domain,omitempty"`
	Selector         string `json:"selector,omitempty"`
	Identifier       string `json:"identifier,omitempty"`
	Canonicalization string `json:"canonicalization,omitempty"`
	// Headers is h= for display: at most MaxShownHeaders names, each
	// clipped; HeadersOmitted counts the rest. Hashing uses the whole list.
	Headers        []string   `json:"headers,omitempty"`
	HeadersOmitted int        `json:"headers_omitted,omitempty"`
	Signed         Signed     `json:"signed"`
	BodyLength     *int64     `json:"body_length,omitempty"`
	Timestamp      *time.Time `json:"timestamp,omitempty"`
	Expiration     *time.Time `json:"expiration,omitempty"`

	// BodyHash is bh= as written; ComputedBodyHash is the hash of the
	// body as received, so the two can be compared by eye.
	BodyHash         string `json:"body_hash,omitempty"`
	ComputedBodyHash string `json:"computed_body_hash,omitempty"`
	// CanonicalBodyLength is the canonicalized body's length in octets.
	CanonicalBodyLength int `json:"canonical_body_length,omitempty"`
	// BodyHashOK and HeaderSignatureOK are nil when the check could not
	// run (an invalid signature, or no key).
	BodyHashOK        *bool `json:"body_hash_ok,omitempty"`
	HeaderSignatureOK *bool `json:"header_signature_ok,omitempty"`

	Key *Key `json:"key,omitempty"`
	// KeyLookup is the DNS failure when the key could not be fetched.
	KeyLookup string `json:"key_lookup,omitempty"`
	// Notes are warnings that do not change the result: l=, testing keys,
	// a timestamp in the future.
	Notes []i18n.Msg `json:"notes,omitempty"`
	// Field is the DKIM-Signature field as received, clipped.
	Field string `json:"field"`
}

// Outcome is every signature of one message.
type Outcome struct {
	Signatures []*Signature `json:"signatures"`
	// Unchecked counts DKIM-Signature fields past the cap.
	Unchecked int `json:"unchecked,omitempty"`
}

// Passing returns the signatures that pass.
func (o *Outcome) Passing() []*Signature {
	var out []*Signature
	for _, s := range o.Signatures {
		if s.Result == Pass {
			out = append(out, s)
		}
	}
	return out
}
