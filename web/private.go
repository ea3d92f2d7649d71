package web

import (
	"net/http"

	"github.com/testerd/testerd/i18n"
	"github.com/testerd/testerd/rcpt"
	"github.com/testerd/testerd/store"
)

// MaxPrivateResults bounds a private test's list.
const MaxPrivateResults = 50

type privatePage struct {
	Chrome
	Domain string
	Token  string
	// Ext is the addresses' extension: the token, after the page's
	// language when it is not the server's.
	Ext     string
	Results []*store.Result
}

// newTest is GET /new: a fresh private test, at its own page.
func (s *Server) newTest(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/new/"+rcpt.NewPrivate(), http.StatusSeeOther)
}

// privateTest is GET /new/{token}: the test's addresses and, as they come,
// its results.
func (s *Server) privateTest(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if !rcpt.IsPrivate(tok) {
		s.notFound(w, r, "private.none")
		return
	}
	results, err := s.Store.List(r.Context(), store.ListQuery{Private: tok, Limit: MaxPrivateResults})
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("private.title")
	c.Refresh = RefreshSeconds
	for _, res := range results {
		if res.Judged.IsZero() {
			c.Refresh = 2 // a verdict comes within seconds
		}
	}
	if len(results) == 0 {
		c.Refresh = 3 // waiting for the message
	}
	// A reader of another language than the server's gets addresses that
	// ask for replies in it (check+it+t-TOKEN@).
	ext := tok
	if def := s.Lang; c.Lang != def && (def != "" || c.Lang != i18n.EN) {
		ext = string(c.Lang) + "+" + tok
	}
	s.render(w, "private.html", privatePage{Chrome: c, Domain: s.Domain, Token: tok, Ext: ext, Results: results})
}

// apiNewTest is POST /api/tests: a fresh private test, in JSON.
// Anyone may start one; a token must have the tests scope, and then owns
// the test: its webhook gets the test's verdicts.
func (s *Server) apiNewTest(w http.ResponseWriter, r *http.Request) {
	tok := rcpt.NewPrivate()
	if g := grant(r); g != nil {
		if !g.Has(store.ScopeTests) {
			apiError(w, http.StatusForbidden, "this token lacks the tests scope")
			return
		}
		if g != AdminGrant && s.Tokens != nil {
			if err := s.Tokens.OwnTest(r.Context(), tok, g.ID); err != nil {
				s.fail(w, err)
				return
			}
		}
	}
	writeJSON(w, http.StatusCreated, testCreated{
		Token: tok,
		Addresses: testAddresses{
			SPF: "spf+" + tok + "@" + s.Domain, DKIM: "dkim+" + tok + "@" + s.Domain, Check: "check+" + tok + "@" + s.Domain},
		Page:    "/new/" + tok,
		Results: "/api/tests/" + tok,
	})
}

// apiTest is GET /api/tests/{token}: the test's results, with verdicts
// (the token is the test's owner).
func (s *Server) apiTest(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if !rcpt.IsPrivate(tok) {
		apiError(w, http.StatusNotFound, "no such test")
		return
	}
	results, err := s.Store.List(r.Context(), store.ListQuery{Private: tok, Limit: MaxPrivateResults, WithVerdict: true})
	if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, testResults{Token: tok, Results: withVerdicts(results)})
}
