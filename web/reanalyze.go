package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/testerd/testerd/kind"
	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
)

// Reanalyzer judges a stored probe again, keeping the verdict it replaces
// (worker.Pool). Report mail is read, not judged: the handler answers
// 409 for it before asking.
type Reanalyzer interface {
	Reanalyze(ctx context.Context, id string) (v *verify.Verdict, previousTags []string, err error)
}

// apiReanalyze is POST /api/results/{id}/reanalyze (admin): the probe is
// judged again with this testerd and its DNS as they are now.
func (s *Server) apiReanalyze(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	res, err := s.Store.Get(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, "no such result")
		return
	case err != nil:
		s.fail(w, err)
		return
	case res.Kind == kind.Report:
		apiError(w, http.StatusConflict, "this message is a DMARC or TLS report, which is read, not judged")
		return
	}
	v, prev, err := s.Reanalyzer.Reanalyze(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, "no such result")
		return
	case err != nil && v != nil && !v.TesterFailure.IsZero():
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, reanalysis{ID: id, Tags: v.Tags, PreviousTags: prev, Verdict: v})
}
