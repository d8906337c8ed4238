package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gorilla/mux"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels"
	"inkwell/readmodels/users"
)

// AdminUsers is the users read model as the admin endpoints query it.
type AdminUsers interface {
	ListUsers(ctx context.Context, f users.Filter) (readmodels.ListPage[users.User], error)
	UserID(ctx context.Context, ref string) (string, error)
}

func (s *Server) registerUserRoutes(r *mux.Router) {
	r.HandleFunc("/api/auth/me/", s.authenticated(s.idempotent(s.handle(s.handleMeUpdate)))).Methods(http.MethodPatch)
	r.HandleFunc("/api/users/", s.staffOnly("list users", s.handle(s.handleUserList))).Methods(http.MethodGet)
	r.HandleFunc("/api/users/{ref}/", s.staffOnly("read user accounts", s.handle(s.handleUserGet))).Methods(http.MethodGet)
	r.HandleFunc("/api/users/{ref}/", s.staffOnly("change user accounts", s.idempotent(s.handle(s.handleUserUpdate)))).Methods(http.MethodPatch)
	r.HandleFunc("/api/users/{ref}/", s.staffOnly("delete user accounts", s.handle(s.handleUserDelete))).Methods(http.MethodDelete)
	r.HandleFunc("/api/users/{ref}/erase/", s.staffOnly("erase user accounts", s.idempotent(s.handle(s.handleUserErase)))).Methods(http.MethodPost)
	r.HandleFunc("/api/auth/me/", s.authenticated(s.handle(s.handleMeErase))).Methods(http.MethodDelete)
	r.HandleFunc("/api/auth/me/export/", s.authenticated(s.handle(s.handleMeExport))).Methods(http.MethodGet)
}

func (s *Server) handleUserList(w http.ResponseWriter, r *http.Request) error {
	return servePage(w, r, func(q url.Values, p domain.Problems) users.Filter {
		return users.Filter{
			Search:   q.Get("search"),
			IsActive: parseBoolParam(q, "is_active", p),
			IsStaff:  parseBoolParam(q, "is_staff", p),
			Ordering: q.Get("ordering"),
			Page:     parseCursorPage(q, p),
		}
	}, s.AdminUsers.ListUsers, userResponse)
}

func (s *Server) userID(r *http.Request) (string, error) {
	return s.AdminUsers.UserID(r.Context(), pathVar(r, "ref"))
}

func (s *Server) handleUserGet(w http.ResponseWriter, r *http.Request) error {
	id, err := s.userID(r)
	if err != nil {
		return err
	}
	u, err := s.Users.UserByID(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userResponse(u))
	return nil
}

type profileFields struct {
	FirstName optional[string] `json:"first_name"`
	LastName  optional[string] `json:"last_name"`
	Bio       optional[string] `json:"bio"`
	Avatar    optional[string] `json:"avatar"`
}

func (f profileFields) changes(p domain.Problems) domain.ProfileChanges {
	empty := ""
	return domain.ProfileChanges{
		FirstName: f.FirstName.ptr("first_name", &empty, p),
		LastName:  f.LastName.ptr("last_name", &empty, p),
		Bio:       f.Bio.ptr("bio", &empty, p),
		Avatar:    f.Avatar.ptr("avatar", &empty, p),
	}
}

type userUpdateRequest struct {
	profileFields
	IsActive    optional[bool] `json:"is_active"`
	IsStaff     optional[bool] `json:"is_staff"`
	IsSuperuser optional[bool] `json:"is_superuser"`
}

func (req userUpdateRequest) adminChanges(p domain.Problems) domain.AdminChanges {
	return domain.AdminChanges{
		Profile:   req.changes(p),
		Active:    req.IsActive.ptr("is_active", nil, p),
		Staff:     req.IsStaff.ptr("is_staff", nil, p),
		Superuser: req.IsSuperuser.ptr("is_superuser", nil, p),
	}
}

func (s *Server) handleUserUpdate(w http.ResponseWriter, r *http.Request) error {
	id, err := s.userID(r)
	if err != nil {
		return err
	}
	ch, err := decodeChanges(w, r, userUpdateRequest.adminChanges)
	if err != nil {
		return err
	}
	res, err := s.Commands.UpdateUser.Handle(r.Context(), commands.UpdateUser{Actor: actorOf(r.Context()), ID: id, Changes: ch, Meta: metaOf(r)})
	if err != nil {
		return err
	}
	return s.writeUser(w, r, res, "/api/users/"+res.ID+"/")
}

// writeUser answers a write with the user as a read shows it.
func (s *Server) writeUser(w http.ResponseWriter, r *http.Request, res commands.Result, location string) error {
	return written(s, w, r, domain.AggregateUser, res, location, http.StatusOK, s.Users.UserByID, userResponse)
}

func (s *Server) handleUserDelete(w http.ResponseWriter, r *http.Request) error {
	return s.serveDelete(w, r, domain.AggregateUser, s.userID, func(ctx context.Context, id string) (commands.Result, error) {
		return s.Commands.DeleteUser.Handle(ctx, commands.DeleteUser{Actor: actorOf(ctx), ID: id, Meta: metaOf(r)})
	})
}

// handleUserErase erases an account, deleted or not, for good (a
// superuser's right): see commands.EraseUser.
func (s *Server) handleUserErase(w http.ResponseWriter, r *http.Request) error {
	return s.serveDelete(w, r, domain.AggregateUser, s.userID, func(ctx context.Context, id string) (commands.Result, error) {
		return s.Commands.EraseUser.Handle(ctx, commands.EraseUser{Actor: actorOf(ctx), ID: id, Meta: metaOf(r)})
	})
}

// eraseRequest confirms the erasure of one's own account.
type eraseRequest struct {
	Password string `json:"password" norm:"raw"`
}

// handleMeErase erases the caller's own account, confirmed by their
// password; a wrong one counts as a password guess (see
// handlePasswordChange).
func (s *Server) handleMeErase(w http.ResponseWriter, r *http.Request) error {
	var res commands.Result
	done, err := confirmedByPassword(s, w, r, "account erasure", "password", func(req eraseRequest) string { return req.Password },
		commands.ErrWrongPasswordToErase, func(p *principal, req eraseRequest) (err error) {
			res, err = s.Commands.EraseSelf.Handle(r.Context(), commands.EraseSelf{Actor: p.User.Actor(), Password: req.Password, Meta: metaOf(r)})
			return err
		})
	if !done || err != nil {
		return err
	}
	s.readYourWrites(r.Context(), domain.AggregateUser, res.Seq)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleMeUpdate(w http.ResponseWriter, r *http.Request) error {
	ch, err := decodeChanges(w, r, profileFields.changes)
	if err != nil {
		return err
	}
	res, err := s.Commands.UpdateProfile.Handle(r.Context(), commands.UpdateProfile{Actor: actorOf(r.Context()), Changes: ch, Meta: metaOf(r)})
	if err != nil {
		return err
	}
	return s.writeUser(w, r, res, "/api/auth/me/")
}
