package web

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/store"
)

// MaxOperatorMail is how many messages the operator's mail page lists.
const MaxOperatorMail = 200

type mailPage struct {
	Chrome
	Domain  string
	Results []*store.Result
}

// operatorMail is the admin's page of the mail to postmaster@ and abuse@:
// the operator's own, never on the public lists.
func (s *Server) operatorMail(w http.ResponseWriter, r *http.Request) {
	results, err := s.Store.List(r.Context(), store.ListQuery{Operator: true, Limit: MaxOperatorMail})
	if err != nil {
		s.fail(w, err)
		return
	}
	c := s.chrome(w, r, "")
	c.Title = c.Lang.T("mail.title")
	s.render(w, "mail.html", mailPage{Chrome: c, Domain: s.Domain, Results: results})
}

// apiOperatorMail is operatorMail in JSON, with the verdicts (a quarter as
// many: verdicts are large).
func (s *Server) apiOperatorMail(w http.ResponseWriter, r *http.Request) {
	results, err := s.Store.List(r.Context(), store.ListQuery{Operator: true, Limit: MaxOperatorMail / 4, WithVerdict: true})
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, operatorMail{Mail: withVerdicts(results)})
}

// withVerdicts is results as the JSON API gives them in full.
func withVerdicts(results []*store.Result) []apiResult {
	out := make([]apiResult, len(results))
	for i, res := range results {
		out[i] = apiResult{Result: res, Verdict: rawOrNull(res.Verdict)}
	}
	return out
}

// operatorMessage is one message to postmaster@ or abuse@ as received, as
// plain text (the browser shows it and never renders it): the operator
// reads the body there, which the result page leaves out.
func (s *Server) operatorMessage(w http.ResponseWriter, r *http.Request) {
	res, err := s.Store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || err == nil && !slices.Contains(kind.Operators, res.Kind) {
		// Only the operator's own mail: a tester's probe is a result.
		if strings.HasPrefix(r.URL.Path, "/api/") {
			apiError(w, http.StatusNotFound, "no such message among the operator's mail")
		} else {
			s.notFound(w, r, "mail.none")
		}
		return
	} else if err != nil {
		s.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Disposition", "inline; filename=\""+res.ID+".eml\"")
	w.Write(res.Raw)
}
