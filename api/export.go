package api

import (
	"context"
	"net/http"
	"time"

	"inkwell/eventstore"
	"inkwell/readmodels"
)

// PersonalData is what the export of an account reads beside the account
// itself (the personal-data and articles read models).
type PersonalData interface {
	SessionsOf(ctx context.Context, userID string) ([]readmodels.Session, error)
	EventSeqsOf(ctx context.Context, userID string) ([]uint64, error)
	ArticleIDsByAuthor(ctx context.Context, authorID string) ([]string, error)
}

// Export is everything Inkwell holds about one account (GDPR art. 15 and
// 20), as GET /api/auth/me/export/ answers it: the account, its sessions,
// its articles (drafts too) and every event it caused, each as the event
// stream shows it (the password hash, a secret, is never in it).
type Export struct {
	ExportedAt time.Time              `json:"exported_at"`
	User       UserResponse           `json:"user"`
	Sessions   []readmodels.Session   `json:"sessions"`
	Articles   []ArticleResponse      `json:"articles"`
	Events     []eventstore.EventView `json:"events"`
}

// handleMeExport answers the caller's export.
func (s *Server) handleMeExport(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := principalOf(ctx)
	id := p.User.ID()
	// The personal-data read model follows the log behind the writes: the
	// export waits until it has read all the log holds now.
	head, err := s.Events.Head(ctx)
	if err != nil {
		return err
	}
	if err := s.ReadModels.WaitForProjection(ctx, "personal", head); err != nil {
		return err
	}
	out := Export{ExportedAt: s.Now().UTC(), User: accountResponse(p.User), Articles: []ArticleResponse{}, Events: []eventstore.EventView{}}
	if out.Sessions, err = s.Personal.SessionsOf(ctx, id); err != nil {
		return err
	}
	ids, err := s.Personal.ArticleIDsByAuthor(ctx, id)
	if err != nil {
		return err
	}
	for _, aid := range ids {
		v, err := s.Articles.ArticleByRef(ctx, p.User.Actor(), aid)
		if err != nil {
			return err
		}
		out.Articles = append(out.Articles, articleResponse(v))
	}
	seqs, err := s.Personal.EventSeqsOf(ctx, id)
	if err != nil {
		return err
	}
	for _, seq := range seqs {
		rec, err := s.Events.Get(ctx, seq)
		if err != nil {
			return err
		}
		v, err := eventstore.View(rec)
		if err != nil {
			return err
		}
		out.Events = append(out.Events, v)
	}
	w.Header().Set("Content-Disposition", `attachment; filename="inkwell-export.json"`)
	writeJSON(w, http.StatusOK, out)
	return nil
}
