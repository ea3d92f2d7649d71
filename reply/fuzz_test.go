package reply

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/message"
	"github.com/testerd/testerd/store"
)

// FuzzPlan feeds strangers' text (Subject, Message-ID, References, the
// recipient's extension) into a reply: whatever it holds, the reply has
// exactly the fields testerd writes, each once, with short lines.
func FuzzPlan(f *testing.F) {
	f.Add("Test", "<a@b>", "<c@d>", "jo=example.com")
	f.Add("a\r\nBcc: x@y", "<a@b>\r\nBcc: y", "<x@y>\nTo: z", "a=b=c\r\n.example")
	f.Add("è"+strings.Repeat("x ", 300), "<"+strings.Repeat("a", 300)+"@b>", strings.Repeat("<a@b> ", 40), "")
	// Judged once: the inputs go into the verdict's header facts, as
	// verify would put them there, so no DNS is asked while fuzzing.
	r0, v0 := probe{mailFrom: "joe@abc.it"}.judge(f)
	f.Fuzz(func(t *testing.T, subject, msgID, refs, ext string) {
		r, v := *r0, *v0
		r.Extension = ext
		v.Message.Subject, v.Message.MessageID = subject, msgID
		v.Message.References = message.MsgIDs(refs, 10)
		o := cfg.Plan(&r, &v)
		if o.State == store.Suppressed {
			if why := i18n.EN.Say(o.Reason); !strings.Contains(why, "redirect") || o.Data != nil {
				t.Fatalf("suppressed: %q", why)
			}
			return
		}
		m := message.Parse(o.Data)
		allowed := map[string]bool{"from": true, "to": true, "subject": true, "date": true, "message-id": true,
			"in-reply-to": true, "references": true, "auto-submitted": true, "x-auto-response-suppress": true,
			"mime-version": true, "content-type": true, "content-transfer-encoding": true}
		seen := map[string]bool{}
		for _, fl := range m.Fields {
			name := strings.ToLower(fl.Name)
			if !allowed[name] || seen[name] || fl.Malformed {
				t.Fatalf("field %q (malformed %v, repeated %v) in\n%s", fl.Name, fl.Malformed, seen[name], o.Data)
			}
			seen[name] = true
		}
		if m.LongestLine > 998 || m.BareLF || !utf8.Valid(m.Header) {
			t.Fatalf("longest line %d, bare LF %v", m.LongestLine, m.BareLF)
		}
		for i := 0; i < len(m.Header); i++ {
			if c := m.Header[i]; c >= 0x80 && !strings.Contains(o.Rcpt, string(c)) {
				// 8-bit only where the address itself is UTF-8
				if !strings.ContainsFunc(o.Rcpt, func(r rune) bool { return r >= 0x80 }) {
					t.Fatalf("8-bit header byte with an ASCII recipient:\n%s", m.Header)
				}
			}
		}
	})
}
