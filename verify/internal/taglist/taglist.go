// Package taglist parses the tag=value lists shared by DKIM signatures and
// key records (RFC 6376 §3.2) and DMARC records (RFC 7489 §6.4), keeping
// each tag's column so errors can point at it.
package taglist

import (
	"fmt"
	"strings"

	"github.com/testerd/testerd/i18n"
)

// Tag is one tag=value pair. Value has its
// surrounding whitespace removed; whitespace and folding inside it are
// kept, so callers strip them where the tag's syntax ignores them (b=, bh=,
// p=). Pos is the 1-based byte column of the tag name in the list.
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Pos   int    `json:"pos"`
}

// TagError locates a syntax error in a tag list.
type TagError struct {
	// Tag is the offending tag's name, when known.
	Tag    string   `json:"tag,omitempty"`
	Pos    int      `json:"pos"`
	Reason i18n.Msg `json:"reason"`
}

func (e *TagError) Error() string {
	if e.Tag != "" {
		return fmt.Sprintf("tag %s= at column %d: %s", e.Tag, e.Pos, i18n.EN.Say(e.Reason))
	}
	return fmt.Sprintf("column %d: %s", e.Pos, i18n.EN.Say(e.Reason))
}

// Where says the reason with its place in the list.
func (e *TagError) Where() i18n.Msg {
	if e.Tag != "" {
		return i18n.M("taglist.at-tag", e.Tag, e.Pos, e.Reason)
	}
	return i18n.M("taglist.at", e.Pos, e.Reason)
}

// Msg is Where, for i18n.Of.
func (e *TagError) Msg() i18n.Msg { return e.Where() }

// MaxTags bounds the tags of one list; a DKIM signature has 14 defined
// tags, a key record 7 and a DMARC record 11.
const MaxTags = 64

// Tags is a parsed tag list in its original order.
type Tags []Tag

// Get returns the value of tag name and whether it is present. Tag names
// are case-sensitive (RFC 6376 §3.2).
func (ts Tags) Get(name string) (string, bool) {
	for _, t := range ts {
		if t.Name == name {
			return t.Value, true
		}
	}
	return "", false
}

// Pos returns the column of tag name, or 0.
func (ts Tags) Pos(name string) int {
	for _, t := range ts {
		if t.Name == name {
			return t.Pos
		}
	}
	return 0
}

// Parse parses a tag list: tag-spec *( ";" tag-spec ) [ ";" ], where a
// tag name is ALPHA *(ALPHA / DIGIT / "_") and a value is printable ASCII
// except ";" with whitespace allowed inside. A duplicate tag name is an
// error (§3.2: "Tags with duplicate names MUST NOT occur").
func Parse(s string) (Tags, error) {
	var tags Tags
	pos := 0
	for pos <= len(s) {
		end := strings.IndexByte(s[pos:], ';')
		if end < 0 {
			end = len(s)
		} else {
			end += pos
		}
		spec := s[pos:end]
		if strings.TrimLeft(spec, " \t\r\n") == "" {
			if end == len(s) && len(tags) > 0 {
				break // a trailing ";" and whitespace
			}
			return nil, &TagError{Pos: pos + 1, Reason: i18n.M("taglist.empty")}
		}
		t, err := parseTagSpec(spec, pos)
		if err != nil {
			return nil, err
		}
		if _, dup := tags.Get(t.Name); dup {
			return nil, &TagError{Tag: t.Name, Pos: t.Pos, Reason: i18n.M("taglist.twice")}
		}
		if len(tags) == MaxTags {
			return nil, &TagError{Tag: t.Name, Pos: t.Pos, Reason: i18n.M("taglist.many", MaxTags)}
		}
		tags = append(tags, t)
		pos = end + 1
	}
	return tags, nil
}

func parseTagSpec(spec string, offset int) (Tag, error) {
	i := skipFWS(spec, 0)
	start := i
	for i < len(spec) && (isAlpha(spec[i]) || i > start && (IsDigit(spec[i]) || spec[i] == '_')) {
		i++
	}
	name := spec[start:i]
	col := offset + start + 1
	if name == "" {
		return Tag{}, &TagError{Pos: col, Reason: i18n.M("taglist.name", spec[start:start+1])}
	}
	i = skipFWS(spec, i)
	if i >= len(spec) || spec[i] != '=' {
		return Tag{}, &TagError{Tag: name, Pos: col, Reason: i18n.M("taglist.equals")}
	}
	value := strings.Trim(spec[i+1:], " \t\r\n")
	for j := 0; j < len(value); j++ {
		c := value[j]
		switch {
		case c >= 0x21 && c <= 0x7e:
		case c == ' ' || c == '\t':
		case c == '\r' && j+2 < len(value) && value[j+1] == '\n' && (value[j+2] == ' ' || value[j+2] == '\t'):
			j++ // folding
		default:
			return Tag{}, &TagError{Tag: name, Pos: col, Reason: i18n.M("taglist.byte", fmt.Sprintf("0x%02x", c))}
		}
	}
	return Tag{Name: name, Value: value, Pos: col}, nil
}

// skipFWS skips whitespace and folding (CRLF followed by WSP).
func skipFWS(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == ' ' || s[i] == '\t':
			i++
		case s[i] == '\r' && i+2 < len(s) && s[i+1] == '\n' && (s[i+2] == ' ' || s[i+2] == '\t'):
			i += 3
		default:
			return i
		}
	}
	return i
}

// Strip removes all whitespace, for base64 values and lists.
func Strip(s string) string {
	if !strings.ContainsAny(s, " \t\r\n") {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// IsDigit reports an ASCII digit.
func IsDigit(c byte) bool { return '0' <= c && c <= '9' }
