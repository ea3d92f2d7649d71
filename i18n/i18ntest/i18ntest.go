// Package i18ntest finds text that did not come from the catalog: pages,
// replies and mails are rendered in i18n's pseudo-locale, where every
// catalog sentence stands between markers, and Unmarked returns the words
// outside them that are not data (names, addresses, records, codes).
package i18ntest

import (
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/testerd/testerd/i18n"
)

// Names are the words shown as they are in every language: the providers'
// and lists' names, header field names, protocols, testerd's own name and
// the languages' own names.
var Names = []string{
	"testerd", "Gmail", "Yahoo", "AOL", "Outlook", "iCloud", "Mail", "Microsoft", "Google", "Apple", "Yahoo/AOL",
	"Orange", "La", "Poste", "GMX", "WEB.DE", "IONOS", "Libero", "Virgilio", "Italiaonline", "Aruba",
	"Spamhaus", "SpamCop", "Barracuda", "UCEPROTECT", "DNSWL", "English", "Italiano", "Pseudo",
	"From", "To", "Subject", "Date", "Sender", "Cc", "Bcc", "Authentication-Results", "Message-ID", "Reply-To", "In-Reply-To",
	"References", "Received", "List-Unsubscribe", "List-Unsubscribe-Post", "DKIM-Signature", "Return-Path", "Auto-Submitted",
	"Precedence", "Content-Type", "MIME-Version", "Content-Transfer-Encoding", "ARC-Seal", "ARC-Message-Signature",
	"ARC-Authentication-Results", "IPv4", "IPv6", "JSON", "Received-SPF",
	"google", // a DKIM selector, the example in the domain form
	// The results of RFC 8601 and the modes of DKIM and DMARC, shown as
	// codes (in code type on pages).
	"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror", "invalid", "policy",
	"relaxed", "strict", "simple", "mailfrom", "helo", "bh",
	"include", "redirect", // the SPF terms a trace follows
	"timeout", // a DNS outcome, as dnsx names it beside NXDOMAIN and SERVFAIL
}

// tagPrefixes start the verdict tags (spf-pass, dkim-diff …), which are
// the tag contract's words in every language.
var tagPrefixes = []string{"spf", "dkim", "dmarc", "req", "bimi", "rspamd", "content"}

// Unmarked returns the words of text that stand outside the pseudo-locale's
// markers and are not data. Each of data is removed from the text first:
// the strangers' strings a test put in (a Subject, a display name); so is
// what stands between “ and ”, a quotation in its own language (the
// providers' bounce wording), and a string in Go's double quotes outside
// the markers (a record, a DNS answer, as strconv.Quote writes them).
func Unmarked(text string, data ...string) []string {
	for _, d := range data {
		if d != "" { // as a whole: "one" is not cut out of "none"
			re := regexp.MustCompile(`(^|[^\pL\pN])` + regexp.QuoteMeta(d) + `($|[^\pL\pN])`)
			text = re.ReplaceAllString(text, "$1 $2")
		}
	}
	for {
		i := strings.Index(text, "“")
		j := strings.Index(text[max(i, 0):], "”")
		if i < 0 || j < 0 {
			break
		}
		text = text[:i] + " " + text[i+j+len("”"):]
	}
	text = quoted.ReplaceAllString(text, " ")
	var out strings.Builder
	depth := 0
	for _, r := range text {
		switch string(r) {
		case i18n.PseudoOpen:
			depth++
			continue
		case i18n.PseudoClose:
			if depth > 0 {
				depth--
			}
			out.WriteRune(' ')
			continue
		}
		if depth == 0 {
			out.WriteRune(r)
		}
	}
	var bad []string
	for _, w := range strings.Fields(out.String()) {
		if strings.Contains(w, "=") {
			continue // a tag of a record or a signature: pct=, rua=, bh=
		}
		w = strings.TrimFunc(w, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
		if w == "" || isData(w) {
			continue
		}
		bad = append(bad, w)
	}
	return bad
}

// quoted is a double-quoted Go string, escapes and all.
var quoted = regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"`)

// isData: a word with a digit or the marks of an address, a domain, a
// record or a code; an acronym; or one of Names.
func isData(w string) bool {
	if slices.Contains(Names, w) {
		return true
	}
	if strings.ContainsAny(w, "0123456789@.=:/_<>|!+%#[]()\"'~*;?&,$\\") {
		return true
	}
	if first, _, ok := strings.Cut(w, "-"); ok && slices.Contains(tagPrefixes, first) && strings.ToLower(w) == w {
		return true
	}
	upper := true
	for _, r := range w {
		if unicode.IsLower(r) {
			upper = false
		}
	}
	return upper // SPF, DKIM, DMARC, PTR, TLS, HELO, MAIL …
}
