package web

import (
	"context"
	"errors"
	"net/http"

	"github.com/testerd/testerd/store"
	"github.com/testerd/testerd/verify"
	"github.com/testerd/testerd/worker"
)

// Reanalyzer judges a stored probe again, keeping the verdict it replaces
// (worker.Pool).
type Reanalyzer interface {
	Reanalyze(ctx context.Context, id string) (v *verify.Verdict, previousTags []string, err error)
}

// apiReanalyze is POST /api/results/{id}/reanalyze (admin): the probe is
// judged again with this testerd and its DNS as they are now.
func (s *Server) apiReanalyze(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	v, prev, err := s.Reanalyzer.Reanalyze(r.Context(), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, "no such result")
		return
	case errors.Is(err, worker.ErrNotJudged):
		apiError(w, http.StatusConflict, err.Error())
		return
	case err != nil && v != nil && v.TesterFailure != "":
		apiError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, reanalysis{ID: id, Tags: v.Tags, PreviousTags: prev, Verdict: v})
}
