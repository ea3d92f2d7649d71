package message

import (
	"fmt"
	"io"
	"mime"
	"strings"

	"golang.org/x/text/encoding/htmlindex"

	"github.com/testerd/testerd/internal/untrusted"
)

// wordDecoder decodes RFC 2047 encoded-words in every charset the WHATWG
// encoding list names (windows-1252, iso-8859-15, koi8-r, shift_jis,
// iso-2022-jp, gb18030, big5 …), which covers what mail really uses.
var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	enc, err := htmlindex.Get(strings.ToLower(strings.TrimSpace(charset)))
	if err != nil {
		return nil, fmt.Errorf("unknown charset %q", untrusted.Clip(charset, 40))
	}
	return enc.NewDecoder().Reader(io.LimitReader(input, MaxShown*4)), nil
}

// DecodeHeader returns an unstructured header value (Subject) with its
// encoded-words decoded and control characters blanked, clipped for
// display. A value that cannot be decoded is returned as it is.
func DecodeHeader(s string) string {
	if strings.Contains(s, "=?") {
		if d, err := wordDecoder.DecodeHeader(s); err == nil {
			s = d
		}
	}
	return clip(DisplayText(s))
}

// DisplayText makes text from a stranger safe to show: invalid UTF-8
// becomes U+FFFD, control characters (C0, DEL, C1) become spaces, and the
// bidirectional overrides that can make text read backwards are dropped.
func DisplayText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0:
			return ' '
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return -1
		}
		return r
	}, s)
}
