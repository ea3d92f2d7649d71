// Package spf evaluates the Sender Policy Framework (RFC 7208) and explains
// the answer.
//
// A domain publishes, in one DNS TXT record starting "v=spf1", the hosts
// allowed to send mail using it as the MAIL FROM or HELO identity. A
// receiver runs check_host() with the connecting IP: it walks the record's
// mechanisms left to right (ip4, ip6, a, mx, ptr, exists, include, all),
// and the first that matches gives its qualifier's result (pass, fail,
// softfail, neutral); with no match, a redirect= modifier hands the
// decision to another domain, and otherwise the result is neutral. No
// record gives none; DNS trouble gives temperror; a record that cannot be
// interpreted, or one whose evaluation needs more than 10 DNS-querying
// terms or 2 void lookups, gives permerror (§4.6.4).
//
// Parse turns a record into Terms with their columns, checking the whole
// grammar (including domain-spec and macro syntax) before anything is
// evaluated, so a syntax error anywhere is a permerror even after a term
// that would have matched. Checker.Check evaluates both identities through
// a dnsx.Resolver and returns Evaluations: the result, the record, the
// term that decided (and the include/redirect path to it), the exp=
// explanation, the problem for errors, the counts against the limits, and
// a Trace of every record fetched and every term tried with its DNS
// queries and answers. An Evaluation renders the Received-SPF header
// (§9.1) and the spf= part of Authentication-Results (RFC 8601).
//
// The evaluator passes all 203 tests of the RFC 7208 conformance suite and
// all 191 of the RFC 4408 suite (see suite_test.go).
package spf
