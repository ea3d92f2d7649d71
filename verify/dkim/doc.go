// Package dkim verifies every DKIM signature of a received message (RFC
// 6376, RFC 8463, RFC 8301) and explains each one: its tags, its key
// record, the computed body hash beside bh=, and which of the two checks
// failed.
//
// go-msgauth's verifier stops at the first failed check, rejects any l=
// signature outright and does not expose the key, and a tester has to show
// all of that. So this package parses tag lists and key records itself and
// runs both checks (body hash and header signature) every time. It keeps
// go-msgauth's conventions (raw PKCS#1 keys accepted, rsa-sha1 refused) and
// the tests hold it to go-msgauth's verdicts on messages go-msgauth signs.
// Keys are fetched through dnsx, once per distinct name, in parallel,
// under one deadline.
//
// Results follow ../shared/docs/verdicts.md: pass, fail (body hash or header
// signature mismatch), invalid (unusable signature or key: the Problem
// names the tag) and temperror (the key lookup failed transiently).
package dkim
