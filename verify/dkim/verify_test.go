package dkim_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	msgauth "github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

const testMsg = "From: Joe <joe@example.com>\r\n" +
	"To: spf@tester.example\r\n" +
	"Subject:   Hello   there\r\n" +
	"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n" +
	"Message-ID: <1@example.com>\r\n" +
	"List-Unsubscribe: <https://example.com/u/1>\r\n" +
	"\r\n" +
	"Hi.  Trailing spaces   \r\n" +
	"\r\n" +
	"Bye.\r\n\r\n\r\n"

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// rsa2048 is one RSA-2048 key per test run, generated at test time.
func rsa2048() *rsa.PrivateKey {
	rsaOnce.Do(func() { rsaKey = dkimtest.RSA(2048) })
	return rsaKey
}

// setup publishes keys for example.com selectors "rsa" and "ed".
func setup() (*dnsx.Zone, *dkim.Verifier) {
	z := dnsx.NewZone()
	z.AddTXT("rsa._domainkey.example.com", dkimtest.KeyRecord(rsa2048().Public()))
	z.AddTXT("ed._domainkey.example.com", dkimtest.KeyRecord(dkimtest.Ed25519("ed").Public()))
	return z, &dkim.Verifier{Resolver: dnsx.NewFake(z), Now: func() time.Time { return now }}
}

func sign(t testing.TB, msg string, o dkimtest.Options) string {
	t.Helper()
	if o.Domain == "" {
		o.Domain = "example.com"
	}
	if o.Signer == nil {
		o.Selector, o.Signer = "ed", dkimtest.Ed25519("ed")
	}
	f, err := dkimtest.Sign([]byte(msg), o)
	if err != nil {
		t.Fatal(err)
	}
	return f + msg
}

func verifyOne(t *testing.T, v *dkim.Verifier, msg string) *dkim.Signature {
	t.Helper()
	o := v.Verify(context.Background(), message.Parse([]byte(msg)))
	if len(o.Signatures) != 1 {
		t.Fatalf("%d signatures, want 1", len(o.Signatures))
	}
	return o.Signatures[0]
}

func int64p(n int64) *int64 { return &n }

// TestAgainstGoMsgauth signs with go-msgauth and checks we agree with its
// verifier on the clean message, a changed body and a changed header, for
// both key types and all four canonicalizations.
func TestAgainstGoMsgauth(t *testing.T) {
	z, v := setup()
	lookup := func(name string) ([]string, error) { return dnsx.NewFake(z).LookupTXT(context.Background(), name) }
	for _, key := range []struct {
		sel    string
		signer crypto.Signer
	}{{"rsa", rsa2048()}, {"ed", dkimtest.Ed25519("ed")}} {
		for _, c := range []string{"simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed"} {
			hc, bc, _ := strings.Cut(c, "/")
			var buf bytes.Buffer
			err := msgauth.Sign(&buf, strings.NewReader(testMsg), &msgauth.SignOptions{
				Domain: "example.com", Selector: key.sel, Signer: key.signer,
				HeaderCanonicalization: msgauth.Canonicalization(hc), BodyCanonicalization: msgauth.Canonicalization(bc),
				HeaderKeys: []string{"From", "Subject", "To", "List-Unsubscribe"},
			})
			if err != nil {
				t.Fatal(err)
			}
			signed := buf.String()
			cases := []struct {
				name   string
				msg    string
				failed []string
			}{
				{"clean", signed, nil},
				{"body", signed + "PS: changed\r\n", []string{dkim.CheckBodyHash}},
				{"header", strings.Replace(signed, "Hello", "Hallo", 1), []string{dkim.CheckHeaderSignature}},
				{"both", strings.Replace(signed, "Hello", "Hallo", 1) + "x\r\n", []string{dkim.CheckBodyHash, dkim.CheckHeaderSignature}},
			}
			for _, tc := range cases {
				t.Run(key.sel+"/"+c+"/"+tc.name, func(t *testing.T) {
					vs, err := msgauth.VerifyWithOptions(strings.NewReader(tc.msg), &msgauth.VerifyOptions{LookupTXT: lookup})
					if err != nil || len(vs) != 1 {
						t.Fatalf("go-msgauth: %v %d", err, len(vs))
					}
					s := verifyOne(t, v, tc.msg)
					theirs := vs[0].Err == nil
					if (s.Result == dkim.Pass) != theirs {
						t.Fatalf("we say %s (%s), go-msgauth says %v", s.Result, s.Reason, vs[0].Err)
					}
					if tc.failed == nil {
						if s.Result != dkim.Pass {
							t.Fatalf("%s: %s", s.Result, s.Reason)
						}
						return
					}
					if s.Result != dkim.Fail || fmt.Sprint(s.Failed) != fmt.Sprint(tc.failed) {
						t.Fatalf("got %s %v (%s), want fail %v", s.Result, s.Failed, s.Reason, tc.failed)
					}
					if (s.BodyHash == s.ComputedBodyHash) == slices.Contains(tc.failed, dkim.CheckBodyHash) {
						t.Errorf("bh= %s, computed %s", s.BodyHash, s.ComputedBodyHash)
					}
					if s.HeaderSignatureOK == nil || s.BodyHashOK == nil {
						t.Errorf("both checks must run: %v %v", s.HeaderSignatureOK, s.BodyHashOK)
					}
				})
			}
		}
	}
}

// TestSignerAgainstGoMsgauth: go-msgauth verifies what dkimtest signs, so
// the test signer is not checked only against the code it shares.
func TestSignerAgainstGoMsgauth(t *testing.T) {
	z, _ := setup()
	lookup := func(name string) ([]string, error) { return dnsx.NewFake(z).LookupTXT(context.Background(), name) }
	for _, c := range []string{"simple/simple", "relaxed/relaxed", "simple", "relaxed/simple"} {
		for _, o := range []dkimtest.Options{{Selector: "rsa", Signer: rsa2048()}, {}} {
			o.Canonicalization = c
			msg := sign(t, testMsg, o)
			vs, err := msgauth.VerifyWithOptions(strings.NewReader(msg), &msgauth.VerifyOptions{LookupTXT: lookup})
			if err != nil || len(vs) != 1 || vs[0].Err != nil {
				t.Errorf("%s %s: go-msgauth: %v %v", c, o.Selector, err, vs)
			}
		}
	}
}

func TestResults(t *testing.T) {
	z, v := setup()
	small := &rsa.PublicKey{N: new(big.Int).SetBit(big.NewInt(1), 511, 1), E: 65537}
	der, _ := x509.MarshalPKIXPublicKey(small)
	z.AddTXT("short._domainkey.example.com", "v=DKIM1; p="+base64.StdEncoding.EncodeToString(der))
	z.AddTXT("strict._domainkey.example.com", "v=DKIM1; k=ed25519; t=s; p="+b64(dkimtest.Ed25519("strict").Public()))
	z.AddTXT("sha1only._domainkey.example.com", "v=DKIM1; k=ed25519; h=sha1; p="+b64(dkimtest.Ed25519("sha1only").Public()))
	z.AddTXT("testing._domainkey.example.com", "v=DKIM1; k=ed25519; t=y; p="+b64(dkimtest.Ed25519("testing").Public()))
	z.AddTXT("revoked._domainkey.example.com", "v=DKIM1; k=ed25519; p=")
	z.AddTXT("two._domainkey.example.com", "v=spf1 -all")
	z.AddTXT("two._domainkey.example.com", "v=DKIM1; k=ed25519; p="+b64(dkimtest.Ed25519("two").Public()))
	z.Fail("servfail._domainkey.example.com", dns.TypeTXT, dnsx.ServFail)
	z.Fail("timeout._domainkey.example.com", dns.TypeTXT, dnsx.Timeout)

	ed := func(sel string) dkimtest.Options {
		return dkimtest.Options{Selector: sel, Signer: dkimtest.Ed25519(sel)}
	}
	with := func(o dkimtest.Options, f func(*dkimtest.Options)) dkimtest.Options { f(&o); return o }

	tests := []struct {
		name   string
		msg    string
		result dkim.Result
		// tag is the Problem's tag for invalid; reason a substring.
		tag, reason string
	}{
		{"ed25519 pass", sign(t, testMsg, ed("ed")), dkim.Pass, "", "256-bit ed25519 key"},
		{"rsa-2048 pass", sign(t, testMsg, dkimtest.Options{Selector: "rsa", Signer: rsa2048()}), dkim.Pass, "", "2048-bit rsa key"},
		{"rsa-sha1", sign(t, testMsg, dkimtest.Options{Selector: "rsa", Signer: rsa2048(), Algorithm: "rsa-sha1"}), dkim.Invalid, "a", "RFC 8301"},
		{"unknown algorithm", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.Algorithm = "ed448-sha512" })), dkim.Invalid, "a", "not a supported algorithm"},
		{"expired", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.Time, o.Expiration = now.Add(-2*time.Hour), now.Add(-time.Hour) })), dkim.Invalid, "x", "expired"},
		{"x before t", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.Time, o.Expiration = now.Add(2*time.Hour), now.Add(time.Hour) })), dkim.Invalid, "x", "not after t="},
		{"i= outside d=", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.Identifier = "joe@example.net" })), dkim.Invalid, "i", "not d= example.com"},
		{"i= subdomain", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.Identifier = "joe@mail.example.com" })), dkim.Pass, "", ""},
		{"From not signed", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.Headers = []string{"Subject"} })), dkim.Invalid, "h", "From"},
		{"bad canonicalization", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.Canonicalization = "loose/simple" })), dkim.Invalid, "c", "loose"},
		{"q= other", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.Extra = "q=dns/xyz" })), dkim.Invalid, "q", "dns/txt"},
		{"no key", sign(t, testMsg, ed("missing")), dkim.Invalid, "", "no key record at missing._domainkey.example.com (NXDOMAIN)"},
		{"servfail", sign(t, testMsg, ed("servfail")), dkim.TempError, "", "SERVFAIL"},
		{"timeout", sign(t, testMsg, ed("timeout")), dkim.TempError, "", "timeout"},
		{"revoked", sign(t, testMsg, ed("revoked")), dkim.Invalid, "p", "revoked"},
		{"key type mismatch", sign(t, testMsg, dkimtest.Options{Selector: "ed", Signer: rsa2048()}), dkim.Invalid, "k", "is k=ed25519"},
		{"key too short", sign(t, testMsg, dkimtest.Options{Selector: "short", Signer: rsa2048()}), dkim.Invalid, "p", "512 bits"},
		{"t=s and i= subdomain", sign(t, testMsg, with(ed("strict"), func(o *dkimtest.Options) { o.Identifier = "@mail.example.com" })), dkim.Invalid, "t", "t=s"},
		{"t=s and i= equal", sign(t, testMsg, with(ed("strict"), func(o *dkimtest.Options) { o.Identifier = "joe@example.com" })), dkim.Pass, "", ""},
		{"key h=sha1", sign(t, testMsg, ed("sha1only")), dkim.Invalid, "h", "sha1"},
		{"testing key", sign(t, testMsg, ed("testing")), dkim.Pass, "", ""},
		{"two TXT records", sign(t, testMsg, ed("two")), dkim.Pass, "", ""},
		{"l= whole body", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.BodyLength = int64p(-1) })), dkim.Pass, "", ""},
		{"l= then appended", sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.BodyLength = int64p(-1) })) + "Appended by anyone\r\n", dkim.Pass, "", ""},
		{"l= past the body", strings.TrimSuffix(sign(t, testMsg, with(ed("ed"), func(o *dkimtest.Options) { o.BodyLength = int64p(-1) })), "Bye.\r\n\r\n\r\n"), dkim.Fail, "", "body hash"},
		{"malformed tags", "DKIM-Signature: v=1; a=ed25519-sha256;; d=example.com\r\n" + testMsg, dkim.Invalid, "", "empty tag"},
		{"duplicate tag", "DKIM-Signature: v=1; d=a.example; d=b.example\r\n" + testMsg, dkim.Invalid, "d", "twice"},
		{"missing tag", "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; b=AAAA\r\n" + testMsg, dkim.Invalid, "bh", "required tag bh="},
		{"bad version", "DKIM-Signature: v=2; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=AAAA; b=AAAA\r\n" + testMsg, dkim.Invalid, "v", "must be 1"},
		{"bad bh", "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=AAAA; b=AAAA\r\n" + testMsg, dkim.Invalid, "bh", "SHA-256"},
		{"bad b", "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=!!\r\n" + testMsg, dkim.Invalid, "b", "base64"},
		{"bad d", "DKIM-Signature: v=1; a=ed25519-sha256; d=exa mple..com; s=ed; h=from; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=; b=AAAA\r\n" + testMsg, dkim.Invalid, "d", "not a domain"},
		{"8-bit tag value", "DKIM-Signature: v=1; d=ex\xc3\xa4mple.com\r\n" + testMsg, dkim.Invalid, "d", "0xc3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := verifyOne(t, v, tt.msg)
			if s.Result != tt.result || !strings.Contains(i18n.EN.Say(s.Reason), tt.reason) {
				t.Fatalf("got %s (%s), want %s containing %q", s.Result, s.Reason, tt.result, tt.reason)
			}
			if tt.result == dkim.Invalid && tt.tag != "" && (s.Problem == nil || s.Problem.Tag != tt.tag) {
				t.Errorf("problem %+v, want tag %s", s.Problem, tt.tag)
			}
			if s.Result == dkim.Invalid && s.Problem == nil {
				t.Errorf("invalid without a problem")
			}
		})
	}
}

func TestDetails(t *testing.T) {
	_, v := setup()
	msg := sign(t, testMsg, dkimtest.Options{Selector: "ed", Signer: dkimtest.Ed25519("ed"), Identifier: "joe@example.com",
		Headers: []string{"From", "Subject", "List-Unsubscribe"}, Time: now.Add(-time.Minute), Expiration: now.Add(time.Hour), BodyLength: int64p(5)})
	s := verifyOne(t, v, msg+"more\r\n")
	if s.Result != dkim.Pass {
		t.Fatalf("%s: %s", s.Result, s.Reason)
	}
	want := dkim.Signed{From: true, Subject: true, ListUnsubscribe: true}
	if s.Signed != want || s.Domain != "example.com" || s.Selector != "ed" || s.Identifier != "joe@example.com" ||
		s.Canonicalization != "relaxed/relaxed" || s.Algorithm != "ed25519-sha256" || *s.BodyLength != 5 ||
		!s.Timestamp.Equal(now.Add(-time.Minute)) || !s.Expiration.Equal(now.Add(time.Hour)) {
		t.Errorf("details: %+v", s)
	}
	if s.Key == nil || s.Key.Type != "ed25519" || s.Key.Bits != 256 || s.Key.Name != "ed._domainkey.example.com" || s.Key.Records != 1 {
		t.Errorf("key: %+v", s.Key)
	}
	var notes string
	for _, n := range s.Notes {
		notes += i18n.EN.Say(n) + "\n"
	}
	if !strings.Contains(notes, "anyone can append") || !strings.Contains(notes, "not covered") {
		t.Errorf("notes: %s", notes)
	}
}

// TestCap: past MaxSignatures, signatures are counted, not verified.
func TestCap(t *testing.T) {
	_, v := setup()
	msg := testMsg
	for i := 0; i < dkim.MaxSignatures+3; i++ {
		msg = sign(t, msg, dkimtest.Options{Selector: "ed", Signer: dkimtest.Ed25519("ed"), Headers: []string{"From"}})
	}
	o := v.Verify(context.Background(), message.Parse([]byte(msg)))
	if len(o.Signatures) != dkim.MaxSignatures || o.Unchecked != 3 {
		t.Fatalf("%d checked, %d unchecked", len(o.Signatures), o.Unchecked)
	}
	for _, s := range o.Signatures {
		if s.Result != dkim.Pass {
			t.Errorf("signature %d: %s %s", s.Index, s.Result, s.Reason)
		}
	}
}

// TestBareLF: a message saved with LF line ends verifies as sent with CRLF.
func TestBareLF(t *testing.T) {
	_, v := setup()
	msg := sign(t, testMsg, dkimtest.Options{Selector: "ed", Signer: dkimtest.Ed25519("ed"), Canonicalization: "simple/simple"})
	s := verifyOne(t, v, strings.ReplaceAll(msg, "\r\n", "\n"))
	if s.Result != dkim.Pass {
		t.Fatalf("%s: %s", s.Result, s.Reason)
	}
}

func b64(pub crypto.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub.(ed25519.PublicKey))
}

// TestLongHeaderList: a signature over more than 64 header fields (here
// 100 names, most of them absent, as oversigning does) verifies; one over
// more than MaxSignedFields is invalid with the bound, never a fail; and
// the verdict shows only MaxShownHeaders names.
func TestLongHeaderList(t *testing.T) {
	_, v := setup()
	names := []string{"From", "To", "Subject", "Date", "Message-ID"}
	for i := len(names); i < 100; i++ {
		names = append(names, fmt.Sprintf("X-Oversigned-%d", i))
	}
	msg := sign(t, testMsg, dkimtest.Options{Domain: "example.com", Selector: "ed", Signer: dkimtest.Ed25519("ed"), Headers: names})
	s := v.Verify(context.Background(), message.Parse([]byte(msg))).Signatures[0]
	if s.Result != dkim.Pass || len(s.Headers) != dkim.MaxShownHeaders || s.HeadersOmitted != 100-dkim.MaxShownHeaders {
		t.Errorf("100 names: %s (%s), %d shown, %d omitted", s.Result, s.Reason, len(s.Headers), s.HeadersOmitted)
	}

	many := make([]string, dkim.MaxSignedFields+1)
	for i := range many {
		many[i] = "From"
	}
	msg = sign(t, testMsg, dkimtest.Options{Domain: "example.com", Selector: "ed", Signer: dkimtest.Ed25519("ed"), Headers: many})
	s = v.Verify(context.Background(), message.Parse([]byte(msg))).Signatures[0]
	if s.Result != dkim.Invalid || !strings.Contains(s.Reason.String(), "more than 1,000 header fields") {
		t.Errorf("%d names: %s (%s)", len(many), s.Result, s.Reason)
	}
}

// TestHugeKey: an RSA key over MaxRSABits is refused before any costly
// verification, with the bound in the reason.
func TestHugeKey(t *testing.T) {
	z, v := setup()
	n := new(big.Int).Lsh(big.NewInt(1), 9000)
	n.Add(n, big.NewInt(1))
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	z.AddTXT("huge._domainkey.example.com", "v=DKIM1; k=rsa; p="+base64.StdEncoding.EncodeToString(der))
	msg := sign(t, testMsg, dkimtest.Options{Domain: "example.com", Selector: "huge", Signer: rsa2048()})
	s := v.Verify(context.Background(), message.Parse([]byte(msg))).Signatures[0]
	if s.Result != dkim.Invalid || !strings.Contains(s.Reason.String(), "at most 8192 bits") {
		t.Errorf("9001-bit key: %s (%s)", s.Result, s.Reason)
	}
	z.AddTXT("long._domainkey.example.com", "v=DKIM1; k=rsa; p="+strings.Repeat("A", 40000))
	msg = sign(t, testMsg, dkimtest.Options{Domain: "example.com", Selector: "long", Signer: rsa2048()})
	s = v.Verify(context.Background(), message.Parse([]byte(msg))).Signatures[0]
	if s.Result != dkim.Invalid || !strings.Contains(s.Reason.String(), "40,000 characters") {
		t.Errorf("40,000-character p=: %s (%s)", s.Result, s.Reason)
	}
}

// slowKeys answers key lookups only after the caller's deadline.
type slowKeys struct{ dnsx.Resolver }

func (s slowKeys) LookupTXT(ctx context.Context, name string) ([]string, error) {
	if d, ok := ctx.Deadline(); ok {
		time.Sleep(time.Until(d) + 10*time.Millisecond)
	}
	return s.Resolver.LookupTXT(context.Background(), name)
}

// TestDeadlineBetweenSignatures: once the verdict's time is spent, the
// signatures left are temperror, not verified at whatever cost.
func TestDeadlineBetweenSignatures(t *testing.T) {
	z, _ := setup()
	v := &dkim.Verifier{Resolver: slowKeys{dnsx.NewFake(z)}, Now: func() time.Time { return now }, Timeout: 50 * time.Millisecond}
	msg := sign(t, testMsg, dkimtest.Options{Domain: "example.com", Selector: "ed", Signer: dkimtest.Ed25519("ed")})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	s := v.Verify(ctx, message.Parse([]byte(msg))).Signatures[0]
	if s.Result != dkim.TempError || !strings.Contains(s.Reason.String(), "time ran out") {
		t.Errorf("%s (%s)", s.Result, s.Reason)
	}
}

// TestTooManyFields: a message whose header passes message.MaxFields
// cannot have its signature checked, and says so, not that it fails.
func TestTooManyFields(t *testing.T) {
	_, v := setup()
	signed := sign(t, testMsg, dkimtest.Options{Selector: "ed", Signer: dkimtest.Ed25519("ed")})
	head, body, _ := strings.Cut(signed, "\r\n\r\n")
	msg := head + "\r\n" + strings.Repeat("X-Filler: x\r\n", message.MaxFields+10) + "\r\n" + body
	s := v.Verify(context.Background(), message.Parse([]byte(msg))).Signatures[0]
	if s.Result != dkim.Invalid || !strings.Contains(s.Reason.String(), "more than 1,000 header fields") {
		t.Errorf("%s (%s)", s.Result, s.Reason)
	}
}
