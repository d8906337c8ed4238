package api

import (
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/projections"
)

func (s *Server) registerAuthRoutes(r *mux.Router) {
	r.HandleFunc("/api/auth/register/", s.handleRegister).Methods(http.MethodPost)
	r.HandleFunc("/api/auth/login/", s.handleLogin).Methods(http.MethodPost)
	r.HandleFunc("/api/auth/refresh/", s.handleRefresh).Methods(http.MethodPost)
	r.HandleFunc("/api/auth/me/", s.authenticated(s.handleMe)).Methods(http.MethodGet)
}

// TokenResponse is the answer to register, login and refresh.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
}

// UserResponse is a user as the API shows it: never a password hash.
type UserResponse struct {
	ID          string    `json:"id"`
	Username    string    `json:"username"`
	Email       string    `json:"email"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Bio         string    `json:"bio"`
	Avatar      string    `json:"avatar"`
	IsActive    bool      `json:"is_active"`
	IsStaff     bool      `json:"is_staff"`
	IsSuperuser bool      `json:"is_superuser"`
	DateJoined  time.Time `json:"date_joined"`
}

func userResponse(u projections.User) UserResponse {
	return UserResponse{
		ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Bio: u.Bio, Avatar: u.Avatar, IsActive: u.IsActive, IsStaff: u.IsStaff, IsSuperuser: u.IsSuperuser,
		DateJoined: u.DateJoined.UTC(),
	}
}

type registerRequest struct {
	Username  string `json:"username"`
	Email     string `json:"email"`
	Password  string `json:"password"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Bio       string `json:"bio"`
	Avatar    string `json:"avatar"`
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.Commands.Register.Handle(r.Context(), commands.Register{
		User: domain.NewUser{
			Username: req.Username, Email: req.Email,
			FirstName: req.FirstName, LastName: req.LastName, Bio: req.Bio, Avatar: req.Avatar,
		},
		Password: req.Password,
		Meta:     metaOf(r),
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.readYourWrites(r.Context(), domain.AggregateUser, res.Seq)
	u, err := s.Commands.CurrentUser.Handle(r.Context(), res.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTokens(w, r, http.StatusCreated, u)
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p := domain.Problems{}
	if req.Username == "" {
		p.Add("username", "is required")
	}
	if req.Password == "" {
		p.Add("password", "is required")
	}
	if err := p.Err(); err != nil {
		s.writeError(w, r, err)
		return
	}
	u, err := s.Commands.Login.Handle(r.Context(), commands.Login{Username: req.Username, Password: req.Password})
	if err != nil {
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
			s.logAuthFailure(r, "login: "+domain.ErrorMessage(err))
		}
		s.writeError(w, r, err)
		return
	}
	s.writeTokens(w, r, http.StatusOK, u)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	var req refreshRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.RefreshToken == "" {
		s.writeError(w, r, domain.FieldError(domain.EINVALID, "refresh_token", "is required"))
		return
	}
	claims, err := s.Tokens.Parse(req.RefreshToken, auth.TypeRefresh)
	if err != nil {
		s.logAuthFailure(r, "refresh: "+err.Error())
		s.writeError(w, r, domain.Errorf(domain.EUNAUTHORIZED, "Invalid or expired refresh token."))
		return
	}
	u, err := s.Commands.CurrentUser.Handle(r.Context(), claims.Subject)
	if err != nil {
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
			s.logAuthFailure(r, "refresh: "+domain.ErrorMessage(err), "sub", claims.Subject)
		}
		s.writeError(w, r, err)
		return
	}
	s.writeTokens(w, r, http.StatusOK, u)
}

// writeTokens answers with a new access and refresh token for u.
func (s *Server) writeTokens(w http.ResponseWriter, r *http.Request, status int, u *domain.User) {
	access, err := s.Tokens.IssueAccess(u.ID(), "", profileOf(u))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	refresh, err := s.Tokens.IssueRefresh(u.ID(), "", auth.NewTokenID())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, TokenResponse{
		AccessToken:  access.Token,
		RefreshToken: refresh.Token,
		TokenType:    "bearer",
		ExpiresIn:    int(s.Tokens.Config().AccessTTL / time.Second),
	})
}

// profileOf returns the informational claims of u's access tokens.
func profileOf(u *domain.User) auth.Profile {
	perms := []string{"read:articles", "write:articles"}
	if u.Staff() {
		perms = append(perms, "manage:articles", "manage:users")
	}
	if u.Superuser() {
		perms = append(perms, "manage:roles")
	}
	return auth.Profile{Username: u.Username(), Email: u.Email(), IsStaff: u.Staff(), Permissions: perms}
}

func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	row, err := s.Users.UserByID(r.Context(), p.User.ID())
	if domain.ErrorCode(err) == domain.ENOTFOUND || (err == nil && row.Version < p.User.Version()) {
		// The account is newer than the read model here: wait for it.
		s.readYourWrites(r.Context(), domain.AggregateUser, p.User.Seq())
		row, err = s.Users.UserByID(r.Context(), p.User.ID())
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, userResponse(row))
}
