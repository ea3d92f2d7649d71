package requirements

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/testerd/testerd/dnsx"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/verify/dmarc"
)

// Bounds of the content checks.
const (
	// MaxHTMLBytes is how much of the HTML parts is read.
	MaxHTMLBytes = 2 << 20
	// MaxLinks bounds the links collected.
	MaxLinks = 10000
	// MaxZipBytes bounds an archive opened to list its files, and
	// MaxZipEntries the files listed.
	MaxZipBytes   = 10 << 20
	MaxZipEntries = 1000
	// MostlyImagesText: an HTML body with images and less visible text
	// than this reads as mostly images.
	MostlyImagesText = 200
	// AttachmentLimit is Outlook.com's limit on a message's attachments
	// (Gmail's and Yahoo's is 25 MB).
	AttachmentLimit = 20 << 20
	maxLinkDomains  = 5
	maxShownLinks   = 5
)

// link is one link of the body.
type link struct {
	href, host, text string
	html             bool
}

// content is what the content checks read of the body, once.
type content struct {
	htmlBytes, textParts, htmlParts int
	truncated                       bool
	images, imagesNoAlt, textChars  int
	links                           []link
	moreLinks                       bool
	attachments                     []attachment
	unsubscribe                     string // the first unsubscribe link found in the body
}

type attachment struct {
	name, mediaType string
	size            int
	blocked         string   // the blocked name: itself, or a file in the archive
	inside          []string // for an archive, the files it lists (bounded)
}

// unsubscribeWords find an unsubscribe link in the languages testerd's
// users write in.
var unsubscribeWords = []string{"unsubscribe", "opt-out", "opt out", "optout", "disiscriv", "annulla l'iscrizione",
	"annulla l’iscrizione", "cancella l'iscrizione", "cancellati", "disiscrizione", "désinscri", "desinscri", "désabonner",
	"desabonner", "abmelden", "austragen", "darse de baja", "cancelar suscripción", "cancelar la suscripción",
	"uitschrijven", "afmelden", "manage preferences", "gestisci le preferenze"}

// shorteners are public URL shorteners: their links hide where they go,
// which filters hold against them.
var shorteners = []string{"bit.ly", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "buff.ly", "rebrand.ly", "cutt.ly",
	"shorturl.at", "rb.gy", "t.ly", "tiny.cc", "bl.ink", "s.id", "v.gd", "shorte.st", "adf.ly", "tiny.one", "lnkd.in"}

// blockedExtensions are the file types Gmail refuses as attachments
// ("File types blocked in Gmail"), which Outlook blocks too, inside
// archives as well.
var blockedExtensions = []string{".ade", ".adp", ".apk", ".appx", ".appxbundle", ".bat", ".cab", ".chm", ".cmd", ".com", ".cpl",
	".diagcab", ".diagcfg", ".diagpack", ".dll", ".dmg", ".ex", ".ex_", ".exe", ".hta", ".img", ".ins", ".iso", ".isp", ".jar",
	".jnlp", ".js", ".jse", ".lib", ".lnk", ".mde", ".mjs", ".msc", ".msi", ".msix", ".msixbundle", ".msp", ".mst", ".nsh",
	".pif", ".ps1", ".scr", ".sct", ".shb", ".sys", ".vb", ".vbe", ".vbs", ".vhd", ".vxd", ".wsc", ".wsf", ".wsh", ".xll"}

// readContent reads the leaves the MIME walk kept.
func readContent(f *mimeFacts) *content {
	c := &content{}
	budget := MaxHTMLBytes
	for _, lf := range f.bodies {
		switch {
		case lf.attachment || lf.filename != "" && lf.mediaType != "text/html" && lf.mediaType != "text/plain":
			c.attachments = append(c.attachments, readAttachment(lf))
		case lf.mediaType == "text/html":
			c.htmlParts++
			b := decode(lf, budget+1)
			c.htmlBytes += decodedSize(lf)
			if len(b) > budget {
				b, c.truncated = b[:budget], true
			}
			budget -= len(b)
			c.readHTML(b)
		case lf.mediaType == "text/plain":
			c.textParts++
			c.readText(decode(lf, MaxHTMLBytes))
		}
	}
	return c
}

// decode is a leaf's body decoded by its transfer encoding, at most max
// bytes.
func decode(lf leaf, max int) []byte {
	var r io.Reader = bytes.NewReader(lf.raw)
	switch lf.cte {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, &noSpace{r: r})
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	}
	b, _ := io.ReadAll(io.LimitReader(r, int64(max)))
	return b
}

// decodedSize is the size of a leaf once decoded, without decoding it.
func decodedSize(lf leaf) int {
	if lf.cte == "base64" {
		n := 0
		for _, c := range lf.raw {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				n++
			}
		}
		return n * 3 / 4
	}
	return len(lf.raw)
}

// noSpace drops the line breaks and spaces a base64 body is folded with.
type noSpace struct{ r io.Reader }

func (n *noSpace) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

// readHTML walks the HTML tokens: links with their visible text, images
// and their alt, and the visible text's length.
func (c *content) readHTML(b []byte) {
	z := html.NewTokenizer(bytes.NewReader(b))
	var open *link // the <a> being read
	var anchorText strings.Builder
	skip := 0 // inside <script>, <style>, <head>
	closeLink := func() {
		if open == nil {
			return
		}
		open.text = strings.Join(strings.Fields(anchorText.String()), " ")
		c.addLink(*open)
		open = nil
		anchorText.Reset()
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			closeLink()
			return
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			switch t.DataAtom {
			case atom.Script, atom.Style, atom.Head, atom.Title:
				if tt == html.StartTagToken {
					skip++
				}
			case atom.A:
				closeLink()
				if href := attr(t, "href"); href != "" {
					open = &link{href: href, html: true}
				}
			case atom.Img:
				c.images++
				if alt, ok := attrOK(t, "alt"); !ok || strings.TrimSpace(alt) == "" && attr(t, "role") != "presentation" {
					if w := attr(t, "width"); w != "1" && w != "0" { // a tracking pixel needs no alt
						c.imagesNoAlt++
					}
				}
			}
		case html.EndTagToken:
			t := z.Token()
			switch t.DataAtom {
			case atom.Script, atom.Style, atom.Head, atom.Title:
				if skip > 0 {
					skip--
				}
			case atom.A:
				closeLink()
			}
		case html.TextToken:
			if skip > 0 {
				continue
			}
			text := string(z.Text())
			c.textChars += utf8.RuneCountInString(strings.Join(strings.Fields(text), " "))
			if open != nil && anchorText.Len() < 300 {
				anchorText.WriteString(text)
			}
		}
	}
}

func attr(t html.Token, name string) string {
	v, _ := attrOK(t, name)
	return v
}

func attrOK(t html.Token, name string) (string, bool) {
	for _, a := range t.Attr {
		if a.Key == name {
			return a.Val, true
		}
	}
	return "", false
}

// readText finds the links of a plain-text part: the words that start
// with http:// or https://, and the unsubscribe links among them (a
// link on a line that says so).
func (c *content) readText(b []byte) {
	for len(b) > 0 {
		raw := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			raw, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		// Most lines hold no link: one search for "://" passes them by.
		if !bytes.Contains(raw, []byte("://")) {
			continue
		}
		line := string(raw)
		lower := strings.ToLower(line)
		for _, w := range strings.FieldsFunc(line, func(r rune) bool {
			return r == ' ' || r == '\t' || r == '<' || r == '>' || r == '"' || r == '(' || r == ')' || r == '\r'
		}) {
			lw := strings.ToLower(w)
			if strings.HasPrefix(lw, "http://") || strings.HasPrefix(lw, "https://") {
				l := link{href: strings.TrimRight(w, ".,;:!?"), text: line}
				c.addLink(l)
				if c.unsubscribe == "" && hasUnsubscribeWord(lower) {
					c.unsubscribe = l.href
				}
			}
		}
	}
}

func (c *content) addLink(l link) {
	u, err := url.Parse(strings.TrimSpace(l.href))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return
	}
	l.host = strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if l.html && c.unsubscribe == "" && (hasUnsubscribeWord(strings.ToLower(l.text)) || hasUnsubscribeWord(strings.ToLower(l.href))) {
		c.unsubscribe = l.href
	}
	if len(c.links) == MaxLinks {
		c.moreLinks = true
		return
	}
	c.links = append(c.links, l)
}

func hasUnsubscribeWord(s string) bool {
	return slices.ContainsFunc(unsubscribeWords, func(w string) bool { return strings.Contains(s, w) })
}

// readAttachment names an attachment and, for a zip archive, lists it.
func readAttachment(lf leaf) attachment {
	a := attachment{name: lf.filename, mediaType: lf.mediaType, size: decodedSize(lf)}
	if blockedName(a.name) {
		a.blocked = a.name
	}
	if strings.EqualFold(path.Ext(a.name), ".zip") || lf.mediaType == "application/zip" || lf.mediaType == "application/x-zip-compressed" {
		if a.size <= MaxZipBytes {
			b := decode(lf, MaxZipBytes+1)
			if zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b))); err == nil {
				for i, f := range zr.File {
					if i == MaxZipEntries {
						break
					}
					a.inside = append(a.inside, f.Name)
					if a.blocked == "" && blockedName(f.Name) {
						a.blocked = a.name + "/" + f.Name
					}
				}
			}
		}
	}
	return a
}

func blockedName(name string) bool {
	return name != "" && slices.Contains(blockedExtensions, strings.ToLower(path.Ext(strings.TrimRight(name, ". "))))
}

func kb(n int) string { return strconv.Itoa((n + 1023) / 1024) }

// checkHTMLClip: Gmail clips an HTML body over 102 KB ("[Message
// clipped]"), hiding what follows: often the unsubscribe link and the
// open-tracking pixel.
func checkHTMLClip(in Input) Item {
	it := Item{ID: "html-clip"}
	c := in.body
	if c.htmlParts == 0 {
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.content.no-html")}
		return it
	}
	it.Evidence = []i18n.Msg{m("ev.content.html-size", kb(c.htmlBytes))}
	if c.htmlBytes > GmailClipBytes {
		it.Status, it.Problem, it.Fix = Warn, m("req.html-clip.problem", kb(c.htmlBytes)), m("req.html-clip.fix")
		return it
	}
	it.Status = Pass
	return it
}

// checkTextPart: an HTML message carries a text/plain alternative.
func checkTextPart(in Input) Item {
	it := Item{ID: "text-part"}
	c := in.body
	switch {
	case c.htmlParts == 0:
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.content.no-html")}
	case c.textParts == 0:
		it.Status, it.Problem, it.Fix = Warn, m("req.text-part.problem"), m("req.text-part.fix")
	default:
		it.Status, it.Evidence = Pass, []i18n.Msg{m("ev.content.parts", c.htmlParts, c.textParts)}
	}
	return it
}

// checkImages: a message that is mostly images, and images without alt.
func checkImages(in Input) Item {
	it := Item{ID: "images"}
	c := in.body
	if c.htmlParts == 0 || c.images == 0 {
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.content.no-images")}
		return it
	}
	it.Evidence = []i18n.Msg{m("ev.content.images", c.images, c.textChars)}
	switch {
	case c.textChars < MostlyImagesText:
		it.Status, it.Problem, it.Fix = Warn, m("req.images.mostly", c.images, c.textChars), m("req.images.fix-text")
	case c.imagesNoAlt > 0:
		it.Status, it.Problem, it.Fix = Warn, m("req.images.alt", c.imagesNoAlt, c.images), m("req.images.fix-alt")
	default:
		it.Status = Pass
	}
	return it
}

// ownOrgs are the organizational domains a link may point to without
// surprise: the From's, the DKIM signers' and the MAIL FROM's.
func ownOrgs(in Input) []string {
	var out []string
	add := func(d string) {
		if d = dmarc.PSLOrgDomain(strings.ToLower(d)); d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	add(in.From.Domain)
	if in.DKIM != nil {
		for _, s := range in.DKIM.Signatures {
			add(s.Domain)
		}
	}
	if at := strings.LastIndexByte(in.MailFrom, '@'); at >= 0 {
		add(in.MailFrom[at+1:])
	}
	return out
}

// linkOrgs are the links' organizational domains, in order of first use.
func linkOrgs(c *content) []string {
	var out []string
	for _, l := range c.links {
		if d := dmarc.PSLOrgDomain(l.host); d != "" && !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// checkLinks: how many links, to where; shorteners, plain http:// links,
// and domains unrelated to the sender's.
func checkLinks(in Input) Item {
	it := Item{ID: "links"}
	c := in.body
	if len(c.links) == 0 {
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.links.none")}
		return it
	}
	orgs := linkOrgs(c)
	shownOrgs := orgs
	if len(shownOrgs) > 10 {
		shownOrgs = append(slices.Clone(shownOrgs[:10]), "…")
	}
	count := strconv.Itoa(len(c.links))
	if c.moreLinks {
		count += "+"
	}
	it.Evidence = []i18n.Msg{m("ev.links.count", count, len(orgs), shown(strings.Join(shownOrgs, ", ")))}
	var short, plain, unrelated []string
	own := ownOrgs(in)
	for _, l := range c.links {
		if slices.Contains(shorteners, l.host) && !slices.Contains(short, l.host) {
			short = append(short, l.host)
		}
		if strings.HasPrefix(strings.ToLower(l.href), "http://") && len(plain) < maxShownLinks {
			plain = append(plain, shown(l.href))
		}
	}
	for _, d := range orgs {
		if !slices.Contains(own, d) && !slices.Contains(shorteners, d) && len(unrelated) < 10 {
			unrelated = append(unrelated, d)
		}
	}
	var problems []i18n.Msg
	var fix i18n.Msg
	if len(short) > 0 {
		problems = append(problems, m("req.links.shortener", shown(strings.Join(short, ", "))))
		fix = m("req.links.fix-shortener")
	}
	if len(plain) > 0 {
		it.Evidence = append(it.Evidence, m("ev.links.http", strings.Join(plain, " ")))
		problems = append(problems, m("req.links.http", len(plain)))
		if fix.IsZero() {
			fix = m("req.links.fix-http")
		}
	}
	if len(unrelated) > 0 && len(own) > 0 {
		it.Evidence = append(it.Evidence, m("ev.links.unrelated", shown(strings.Join(unrelated, ", ")), shown(strings.Join(own, ", "))))
		problems = append(problems, m("req.links.unrelated", len(unrelated), shown(own[0])))
		if fix.IsZero() {
			fix = m("req.links.fix-unrelated", shown(own[0]))
		}
	}
	if len(problems) == 0 {
		it.Status = Pass
		return it
	}
	it.Status, it.Problem, it.Fix = Warn, problems[0], fix
	it.Evidence = append(it.Evidence, problems[1:]...)
	return it
}

// checkLinkText: a link whose visible text shows one domain and whose
// href goes to another, as phishing does.
func checkLinkText(in Input) Item {
	it := Item{ID: "link-text"}
	c := in.body
	n := 0
	for _, l := range c.links {
		if l.html {
			n++
		}
	}
	if n == 0 {
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.links.none")}
		return it
	}
	var bad []i18n.Msg
	for _, l := range c.links {
		if !l.html {
			continue
		}
		shownHost := textHost(l.text)
		if shownHost == "" || dmarc.PSLOrgDomain(shownHost) == dmarc.PSLOrgDomain(l.host) {
			continue
		}
		if len(bad) < maxShownLinks {
			bad = append(bad, m("ev.links.mismatch", shown(l.text), shown(l.host)))
		}
	}
	if len(bad) == 0 {
		it.Status, it.Evidence = Pass, []i18n.Msg{m("ev.links.text-ok", n)}
		return it
	}
	it.Status, it.Evidence, it.Problem, it.Fix = Warn, bad, m("req.link-text.problem", len(bad)), m("req.link-text.fix")
	return it
}

// textHost is the domain a link's visible text shows, if it shows one:
// "www.bank.example", "https://bank.example/login".
func textHost(text string) string {
	t := strings.ToLower(strings.TrimSpace(text))
	if t == "" || strings.ContainsAny(t, " \t") || !strings.Contains(t, ".") {
		return ""
	}
	if !strings.HasPrefix(t, "http://") && !strings.HasPrefix(t, "https://") {
		if !strings.HasPrefix(t, "www.") {
			return ""
		}
		t = "https://" + t
	}
	u, err := url.Parse(t)
	if err != nil || u.Hostname() == "" || !strings.Contains(u.Hostname(), ".") {
		return ""
	}
	return strings.TrimSuffix(u.Hostname(), ".")
}

// checkAttachments: file types Gmail refuses (also inside a zip), and
// the total size against the providers' limits.
func checkAttachments(in Input) Item {
	it := Item{ID: "attachments"}
	c := in.body
	if len(c.attachments) == 0 {
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.attach.none")}
		return it
	}
	total := 0
	var blocked []string
	for i, a := range c.attachments {
		total += a.size
		if i < 10 {
			name := a.name
			if name == "" {
				name = "-"
			}
			it.Evidence = append(it.Evidence, m("ev.attach.one", shown(name), shown(a.mediaType), kb(a.size)))
			if len(a.inside) > 0 {
				names := a.inside
				if len(names) > 10 {
					names = append(slices.Clone(names[:10]), "…")
				}
				it.Evidence = append(it.Evidence, m("ev.attach.inside", shown(strings.Join(names, ", "))))
			}
		}
		if a.blocked != "" {
			blocked = append(blocked, a.blocked)
		}
	}
	switch {
	case len(blocked) > 0:
		it.Status, it.Problem, it.Fix = Fail, m("req.attachments.blocked", shown(blocked[0])), m("req.attachments.fix-blocked")
	case total > AttachmentLimit:
		it.Status, it.Problem, it.Fix = Warn, m("req.attachments.size", strconv.Itoa((total+(1<<20)-1)>>20)), m("req.attachments.fix-size")
	default:
		it.Status = Pass
	}
	return it
}

// checkBodyUnsubscribe: marketing mail shows an unsubscribe link in its
// body too (Google asks it beside one-click unsubscribe), found in any
// of the languages testerd's users write in.
func checkBodyUnsubscribe(in Input) Item {
	it := Item{ID: "body-unsubscribe"}
	c := in.body
	switch {
	case c.unsubscribe != "":
		it.Status, it.Evidence = Pass, []i18n.Msg{m("ev.unsub.body", shown(c.unsubscribe))}
	case len(in.Message.Get("List-Unsubscribe")) > 0:
		it.Status, it.Problem, it.Fix = Warn, m("req.body-unsubscribe.problem"), m("req.body-unsubscribe.fix")
	default:
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.unsub.body-none")}
	}
	return it
}

// checkLinkReputation looks the links' domains up in the domain block
// lists of the reputation check (Spamhaus DBL), with its refusal handling.
func checkLinkReputation(ctx context.Context, r dnsx.Resolver, in Input) Item {
	it := Item{ID: "link-reputation"}
	orgs := linkOrgs(in.body)
	switch {
	case in.Reputation == nil:
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.rep.off")}
		return it
	case len(orgs) == 0:
		it.Status, it.Evidence = NA, []i18n.Msg{m("ev.links.none")}
		return it
	}
	own := ownOrgs(in)
	var domains []string
	for _, d := range orgs {
		// The sender's own domains are the reputation check's.
		if !slices.Contains(own, d) && len(domains) < maxLinkDomains {
			domains = append(domains, d)
		}
	}
	if len(domains) == 0 {
		it.Status, it.Evidence = Pass, []i18n.Msg{m("ev.links.own-only")}
		return it
	}
	var lists []DNSList
	for _, l := range DNSLists {
		if l.Domains && !l.Allow {
			lists = append(lists, l)
		}
	}
	listed, info, refused := askLists(ctx, r, in, lists, domains, netip.Addr{})
	judgeListed(&it, listed, info, refused, m("req.link-reputation.fix"), m("ev.links.clean", len(domains), shown(strings.Join(domains, ", "))))
	return it
}
