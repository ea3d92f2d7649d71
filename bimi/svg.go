package bimi

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/testerd/testerd/i18n"
)

// Bounds of the SVG parse.
const (
	maxDepth    = 64
	maxElements = 20000
)

// forbidden are the elements the SVG Tiny Portable/Secure profile leaves
// out: scripts, animation, embedded raster images and foreign content,
// and references to other files.
var forbidden = map[string]string{
	"script": "script", "foreignobject": "foreign", "image": "raster",
	"animate": "animation", "animatemotion": "animation", "animatetransform": "animation", "animatecolor": "animation", "set": "animation",
	"a": "link", "iframe": "foreign", "video": "raster", "audio": "raster", "handler": "script", "listener": "script",
}

// SVGReport is what the profile check found.
type SVGReport struct {
	Title    string
	Findings []Finding
}

// CheckSVG checks a logo against the SVG Tiny Portable/Secure profile
// that BIMI asks for: root <svg> with version="1.2" and
// baseProfile="tiny-ps", a <title>, a square viewBox, no x= or y= on the
// root, and no scripts, event attributes, animation, raster images,
// foreign objects or external references. It parses with encoding/xml,
// bounded in depth and element count; the size is bounded by the fetch.
func CheckSVG(b []byte) SVGReport {
	var rep SVGReport
	add := func(sev Severity, msg, fix i18n.Msg) {
		rep.Findings = append(rep.Findings, Finding{Severity: sev, Message: msg, Fix: fix})
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.Entity = map[string]string{} // no entity expansion beyond XML's own
	depth, elements := 0, 0
	root := true
	inTitle, titleSeen := false, false
	said := map[string]bool{}
	once := func(key string, sev Severity, msg, fix i18n.Msg) {
		if !said[key] {
			said[key] = true
			add(sev, msg, fix)
		}
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			add(Error, m("bimi.svg.xml", shown(err.Error())), m("bimi.svg.fix"))
			return rep
		}
		switch t := tok.(type) {
		case xml.Directive:
			if bytes.Contains(bytes.ToUpper(t), []byte("ENTITY")) {
				once("entity", Error, m("bimi.svg.entity"), m("bimi.svg.fix"))
			}
		case xml.StartElement:
			depth++
			elements++
			if depth > maxDepth || elements > maxElements {
				add(Error, m("bimi.svg.deep", maxDepth, maxElements), m("bimi.svg.fix"))
				return rep
			}
			name := strings.ToLower(t.Name.Local)
			if root {
				root = false
				checkRoot(t, name, add)
			}
			if depth == 2 && name == "title" {
				inTitle, titleSeen = true, true
			}
			if kind, bad := forbidden[name]; bad {
				once("el-"+name, Error, m("bimi.svg.forbidden."+kind, "<"+name+">"), m("bimi.svg.fix"))
			}
			for _, a := range t.Attr {
				an := strings.ToLower(a.Name.Local)
				switch {
				case strings.HasPrefix(an, "on"):
					once("on", Error, m("bimi.svg.event", an), m("bimi.svg.fix"))
				case an == "href" && !strings.HasPrefix(strings.TrimSpace(a.Value), "#"):
					once("href", Error, m("bimi.svg.external", shown(a.Value)), m("bimi.svg.fix"))
				case strings.Contains(strings.ToLower(a.Value), "url(") && !strings.Contains(strings.ReplaceAll(strings.ToLower(a.Value), " ", ""), "url(#"):
					once("url", Error, m("bimi.svg.external", shown(a.Value)), m("bimi.svg.fix"))
				}
			}
		case xml.EndElement:
			if depth == 2 && strings.EqualFold(t.Name.Local, "title") {
				inTitle = false
			}
			depth--
		case xml.CharData:
			if inTitle && len(rep.Title) < 200 {
				rep.Title += strings.TrimSpace(string(t))
			}
		}
	}
	if root {
		add(Error, m("bimi.svg.empty"), m("bimi.svg.fix"))
		return rep
	}
	if !titleSeen || rep.Title == "" {
		add(Error, m("bimi.svg.title"), m("bimi.svg.title.fix"))
	}
	return rep
}

// checkRoot checks the root element's name and attributes.
func checkRoot(t xml.StartElement, name string, add func(Severity, i18n.Msg, i18n.Msg)) {
	if name != "svg" {
		add(Error, m("bimi.svg.root", "<"+name+">"), m("bimi.svg.fix"))
		return
	}
	attr := map[string]string{}
	for _, a := range t.Attr {
		attr[strings.ToLower(a.Name.Local)] = strings.TrimSpace(a.Value)
	}
	if attr["version"] != "1.2" {
		add(Error, m("bimi.svg.version", shown(attr["version"])), m("bimi.svg.profile.fix"))
	}
	if attr["baseprofile"] != "tiny-ps" {
		add(Error, m("bimi.svg.profile", shown(attr["baseprofile"])), m("bimi.svg.profile.fix"))
	}
	for _, xy := range []string{"x", "y"} {
		if _, ok := attr[xy]; ok {
			add(Error, m("bimi.svg.xy", xy), m("bimi.svg.xy.fix"))
		}
	}
	vb := strings.FieldsFunc(attr["viewbox"], func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
	if len(vb) != 4 {
		add(Error, m("bimi.svg.viewbox", shown(attr["viewbox"])), m("bimi.svg.square.fix"))
		return
	}
	w, err1 := strconv.ParseFloat(vb[2], 64)
	h, err2 := strconv.ParseFloat(vb[3], 64)
	switch {
	case err1 != nil || err2 != nil || w <= 0 || h <= 0:
		add(Error, m("bimi.svg.viewbox", shown(attr["viewbox"])), m("bimi.svg.square.fix"))
	case w != h:
		add(Error, m("bimi.svg.square", vb[2], vb[3]), m("bimi.svg.square.fix"))
	}
}
