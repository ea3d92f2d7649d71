package web

import (
	"net/http"

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
