package dkim_test

import (
	"context"
	"strings"
	"testing"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/verify/dkim"
	"github.com/testerd/testerd/verify/dkim/dkimtest"
)

// FuzzSignature verifies testMsg under a fuzzed DKIM-Signature value and a
// fuzzed key record: every result is one of the four, invalid names its
// problem, pass means both checks matched, and fail names a failed check.
func FuzzSignature(f *testing.F) {
	signed := sign(f, testMsg, dkimtest.Options{})
	field := strings.SplitN(signed, "\r\nFrom:", 2)[0]
	value := strings.TrimPrefix(field, "DKIM-Signature: ")
	key := dkimtest.KeyRecord(dkimtest.Ed25519("ed").Public())
	f.Add(value, key)
	f.Add(value, "v=DKIM1; k=rsa; p=")
	f.Add(strings.Replace(value, "a=ed25519-sha256", "a=rsa-sha1", 1), key)
	f.Add(strings.Replace(value, "c=relaxed/relaxed", "l=3; c=simple", 1), key)
	f.Add("v=1; a=ed25519-sha256; d=example.com; s=ed; h=from; bh=; b=", "k=ed25519; t=s:y; h=sha1:sha256; s=email; p=AAAA")
	f.Fuzz(func(t *testing.T, value, record string) {
		if strings.ContainsAny(value, "\r\n") && !strings.Contains(value, "\r\n\t") {
			return // a header line break would end the field
		}
		z := dnsx.NewZone()
		z.AddTXT("ed._domainkey.example.com", record)
		v := &dkim.Verifier{Resolver: dnsx.NewFake(z)}
		o := v.Verify(context.Background(), message.Parse([]byte("DKIM-Signature: "+value+"\r\n"+testMsg)))
		for _, s := range o.Signatures {
			switch s.Result {
			case dkim.Pass:
				if s.BodyHashOK == nil || !*s.BodyHashOK || s.HeaderSignatureOK == nil || !*s.HeaderSignatureOK {
					t.Fatalf("pass without both checks: %+v", s)
				}
			case dkim.Fail:
				if len(s.Failed) == 0 {
					t.Fatalf("fail without a failed check: %+v", s)
				}
			case dkim.Invalid:
				if s.Problem == nil || s.Reason.IsZero() {
					t.Fatalf("invalid without a problem: %+v", s)
				}
			case dkim.TempError:
			default:
				t.Fatalf("result %q", s.Result)
			}
		}
	})
}
