package web

import (
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/testerd/testerd/bounce"
	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/internal/netguard"
	"github.com/testerd/testerd/rcpt"
)

// explainBounce explains raw in l and, when authentication is involved,
// offers a private test made on the spot: its check@ address and page.
func (s *Server) explainBounce(raw []byte, l i18n.Lang) *bounce.Said {
	e := bounce.Explain(raw)
	probe, page := "", ""
	if e.Auth {
		tok := rcpt.NewPrivate()
		probe, page = "check+"+tok+"@"+s.Domain, "/new/"+tok
	}
	return e.In(l, probe, page)
}

type bouncePage struct {
	Chrome
	Domain string
	Text   string
	Said   *bounce.Said
}

// bounceForm is /bounce: a text box for a bounce, and (POST) its
// explanation.
func (s *Server) bounceForm(w http.ResponseWriter, r *http.Request) {
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("bounce.title")
	page := bouncePage{Chrome: c, Domain: s.Domain}
	if r.Method == http.MethodPost {
		if !s.bounces.allow(netguard.ClientNet(s.clientIP(r))) {
			s.errorAt(w, r, http.StatusTooManyRequests, "bounce.busy")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, bounce.MaxInput+4096)
		if err := r.ParseForm(); err != nil {
			s.errorAt(w, r, http.StatusRequestEntityTooLarge, "bounce.too-big")
			return
		}
		page.Text = r.PostFormValue("text")
		if strings.TrimSpace(page.Text) != "" {
			page.Said = s.explainBounce([]byte(page.Text), c.Lang)
		}
	}
	s.render(w, "bounce.html", page)
}

// apiBounce is POST /api/bounce: the body (text/plain, message/rfc822 or
// a DSN) explained in JSON.
func (s *Server) apiBounce(w http.ResponseWriter, r *http.Request) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch mt {
	case "text/plain", "message/rfc822", "message/global", "multipart/report", "application/octet-stream", "":
	default:
		apiError(w, http.StatusUnsupportedMediaType, "send the bounce as text/plain or message/rfc822")
		return
	}
	if !s.bounces.allow(netguard.ClientNet(s.clientIP(r))) {
		w.Header().Set("Retry-After", "60")
		apiError(w, http.StatusTooManyRequests, "too many bounces from your network: try again in a minute")
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bounce.MaxInput))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, "a bounce is at most 1 MB")
		return
	}
	writeJSON(w, http.StatusOK, s.explainBounce(raw, s.apiLang(r)))
}
