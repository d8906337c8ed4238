package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels/users"
)

func (s *Server) registerAuthRoutes(r *mux.Router) {
	r.HandleFunc("/api/auth/register/", s.idempotent(s.handle(s.handleRegister))).Methods(http.MethodPost)
	r.HandleFunc("/api/auth/login/", s.idempotent(s.handle(s.handleLogin))).Methods(http.MethodPost)
	r.HandleFunc("/api/auth/refresh/", s.idempotent(s.handle(s.handleRefresh))).Methods(http.MethodPost)
	r.HandleFunc("/api/auth/me/", s.authenticated(s.handle(s.handleMe))).Methods(http.MethodGet)
	r.HandleFunc("/api/auth/logout/", s.authenticated(s.idempotent(s.handle(s.handleLogout)))).Methods(http.MethodPost)
	r.HandleFunc("/api/auth/logout-all/", s.authenticated(s.idempotent(s.handle(s.handleLogoutAll)))).Methods(http.MethodPost)
	r.HandleFunc("/api/auth/password/", s.authenticated(s.idempotent(s.handle(s.handlePasswordChange)))).Methods(http.MethodPost)
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

func userResponse(u users.User) UserResponse {
	return UserResponse{
		ID: u.ID, Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName,
		Bio: u.Bio, Avatar: u.Avatar, IsActive: u.IsActive, IsStaff: u.IsStaff, IsSuperuser: u.IsSuperuser,
		DateJoined: u.DateJoined.UTC(),
	}
}

type registerRequest struct {
	Username  string `json:"username"`
	Email     string `json:"email"`
	Password  string `json:"password" norm:"raw"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Bio       string `json:"bio"`
	Avatar    string `json:"avatar"`
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) error {
	account := func(req registerRequest) commands.Register {
		return commands.Register{
			User: domain.NewUser{
				Username: req.Username, Email: req.Email,
				FirstName: req.FirstName, LastName: req.LastName, Bio: req.Bio, Avatar: req.Avatar,
			},
			Password: req.Password,
		}
	}
	answer := func(sess *commands.Session) error { return s.writeTokens(w, r, http.StatusCreated, sess) }
	return register(s, w, r, account, answer, "/api/auth/me/",
		"The account is recorded, but no session could be started for it now: log in (POST /api/auth/login/) to get its tokens.")
}

// register registers the account a request R asks for (account gives its
// command) and starts its session, answered by answer. Registrations are
// throttled per client address (429, before the body is read).
func register[R any](s *Server, w http.ResponseWriter, r *http.Request, account func(R) commands.Register,
	answer func(*commands.Session) error, location, detail string) error {
	if ok, wait, err := s.registrations.allow(r.Context(), clientAddr(r, s.trusted)); err != nil {
		return err
	} else if !ok {
		s.writeThrottled(w, r, wait, "registration")
		return nil
	}
	var req R
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	cmd := account(req)
	cmd.Meta = metaOf(r)
	res, err := s.Commands.Register.Handle(r.Context(), cmd)
	if err != nil {
		return err
	}
	s.readYourWrites(r.Context(), domain.AggregateUser, res.Seq)
	// The account is in the log now: whatever fails from here on (the
	// session's append, signing the tokens) must not answer the
	// registration as failed, or a client retrying it would find its
	// username taken by itself. It is answered 202: the account exists,
	// and a login (location says where, detail how) gets its tokens.
	sess, err := s.Commands.StartSession.Handle(r.Context(), commands.StartSession{UserID: res.ID, Client: r.UserAgent(), Meta: metaOf(r)})
	if err == nil {
		err = answer(sess)
	}
	if err != nil {
		s.log.WarnContext(r.Context(), "start the session of a recorded registration", "user", res.ID, "err", err)
		w.Header().Set("Location", location)
		writeJSON(w, http.StatusAccepted, AcceptedResponse{ID: res.ID, Version: res.Version, Detail: detail})
	}
	return nil
}

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password" norm:"raw"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := required("username", req.Username, "password", req.Password); err != nil {
		return err
	}
	sess, err := s.login(w, r, "login", req.Username, commands.Login{Username: req.Username, Password: req.Password})
	if sess == nil || err != nil {
		return err
	}
	return s.writeTokens(w, r, http.StatusOK, sess)
}

// login runs cmd, a login with the request's client and meta, throttled
// as a guess of account's password (the login throttle's key). It returns
// no session and no error when the caller is throttled (answered 429).
// Refusals are logged as authentication failures of what.
func (s *Server) login(w http.ResponseWriter, r *http.Request, what, account string, cmd commands.Login) (*commands.Session, error) {
	cmd.Client, cmd.Meta = r.UserAgent(), metaOf(r)
	var sess *commands.Session
	_, err := s.guarded(w, r, s.passwordGuess(r, account), "login", commands.ErrInvalidCredentials, func() (err error) {
		sess, err = s.Commands.Login.Handle(r.Context(), cmd)
		return err
	})
	if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
		s.logAuthFailure(r, what+": "+domain.ErrorMessage(err))
	}
	return sess, err
}

// guarded runs check, which tells whether a password (guessed as g) is
// right, failing with wrong when it is not. It throttles before checking
// anything, so that a throttled answer says nothing about the account and
// costs no password hash: a throttled caller is answered 429 (naming what)
// and guarded reports false, check not run. A wrong password counts as a
// failed guess; a right one resets the counters it resets.
func (s *Server) guarded(w http.ResponseWriter, r *http.Request, g guess, what string, wrong error, check func() error) (bool, error) {
	if wait, err := g.blocked(r.Context()); err != nil {
		return false, err
	} else if wait > 0 {
		s.writeThrottled(w, r, wait, what)
		return false, nil
	}
	err := check()
	if errors.Is(err, wrong) {
		if ferr := g.failed(r.Context()); ferr != nil {
			return false, ferr
		}
	}
	if err != nil {
		return false, err
	}
	s.forgetFailures(r, g)
	return true, nil
}

// forgetFailures resets the throttle counters a right password resets
// (guess.succeeded). It runs after the request's change is in the log, so
// a failure to reset them is logged, not answered: the counters expire by
// themselves, and the request must not look failed when it was not.
func (s *Server) forgetFailures(r *http.Request, g guess) {
	if err := g.succeeded(r.Context()); err != nil {
		s.log.WarnContext(r.Context(), "reset the login throttle after a right password", "err", err)
	}
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token" norm:"raw"`
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) error {
	var req refreshRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := required("refresh_token", req.RefreshToken); err != nil {
		return err
	}
	claims, err := s.Tokens.Parse(req.RefreshToken, auth.TypeRefresh)
	if err != nil {
		if ok, derr := s.djangoRefresh(w, r, req.RefreshToken); ok {
			return derr
		}
		s.logAuthFailure(r, "refresh: "+err.Error())
		return domain.Errorf(domain.EUNAUTHORIZED, "Invalid or expired refresh token.")
	}
	sess, err := s.Commands.Refresh.Handle(r.Context(), commands.Refresh{
		UserID: claims.Subject, SessionID: claims.SessionID, RefreshID: claims.ID, Meta: metaOf(r),
	})
	if err != nil {
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
			s.logAuthFailure(r, "refresh: "+domain.ErrorMessage(err), "sub", claims.Subject, "sid", claims.SessionID)
		}
		return err
	}
	return s.writeTokens(w, r, http.StatusOK, sess)
}

// writeTokens answers with a new access token and the session's refresh token.
func (s *Server) writeTokens(w http.ResponseWriter, r *http.Request, status int, sess *commands.Session) error {
	tokens, err := s.issueTokens(sess)
	if err != nil {
		return err
	}
	s.writeTokenResponse(w, status, tokens)
	return nil
}

// issueTokens signs the access and refresh tokens of sess.
func (s *Server) issueTokens(sess *commands.Session) (TokenResponse, error) {
	u := sess.User
	access, err := s.Tokens.IssueAccess(u.ID(), sess.SessionID, profileOf(u))
	if err != nil {
		return TokenResponse{}, err
	}
	refresh, err := s.Tokens.IssueRefresh(u.ID(), sess.SessionID, sess.RefreshID)
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{
		AccessToken:  access.Token,
		RefreshToken: refresh.Token,
		TokenType:    "bearer",
		ExpiresIn:    int(s.Tokens.Config().AccessTTL / time.Second),
	}, nil
}

func (s *Server) writeTokenResponse(w http.ResponseWriter, status int, tokens TokenResponse) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, tokens)
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

// handleMe answers with the account as authentication has just read it
// from the log: the caller's own state, current by construction (a change
// made with this token is already in it), with no read-model query and no
// wait for one to catch up.
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, accountResponse(principalOf(r.Context()).User))
	return nil
}

// accountResponse is the API's view of an account aggregate; it agrees
// with userResponse of the account's read-model row (whose times are kept
// to the microsecond).
func accountResponse(u *domain.User) UserResponse {
	return UserResponse{
		ID: u.ID(), Username: u.Username(), Email: u.Email(), FirstName: u.FirstName(), LastName: u.LastName(),
		Bio: u.Bio(), Avatar: u.Avatar(), IsActive: u.Active(), IsStaff: u.Staff(), IsSuperuser: u.Superuser(),
		DateJoined: u.DateJoined().UTC().Truncate(time.Microsecond),
	}
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	if _, err := s.Commands.Logout.Handle(r.Context(), commands.Logout{Actor: p.User.Actor(), SessionID: p.Claims.SessionID, Meta: metaOf(r)}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleLogoutAll(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.Commands.LogoutAll.Handle(r.Context(), commands.LogoutAll{Actor: actorOf(r.Context()), Meta: metaOf(r)}); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type passwordChangeRequest struct {
	CurrentPassword string `json:"current_password" norm:"raw"`
	NewPassword     string `json:"new_password" norm:"raw"`
}

// confirmedByPassword decodes a request of the caller, one of whose fields
// (field, read by password) holds their password, and runs act: a command
// that checks the password and fails with wrong when it is not theirs. A
// wrong password is a password guess like a failed login: it counts with
// the login throttle of the account from this address and with the
// address's, and also with the session's, so that a stolen token gets no
// more guesses from many addresses than from one. It reports false when the
// caller is throttled (answered 429 here: act did not run).
func confirmedByPassword[R any](s *Server, w http.ResponseWriter, r *http.Request, what, field string, password func(R) string,
	wrong error, act func(p *principal, req R) error) (bool, error) {
	var req R
	if err := decodeJSON(w, r, &req); err != nil {
		return false, err
	}
	if err := required(field, password(req)); err != nil {
		return false, err
	}
	p := principalOf(r.Context())
	return s.guarded(w, r, s.passwordGuess(r, p.User.Username(), "session\x00"+p.Claims.SessionID), what, wrong, func() error {
		err := act(p, req)
		if errors.Is(err, wrong) {
			s.logAuthFailure(r, what+": wrong password")
		}
		return err
	})
}

func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request) error {
	done, err := confirmedByPassword(s, w, r, "password change", "current_password", func(req passwordChangeRequest) string { return req.CurrentPassword },
		commands.ErrWrongPassword, func(p *principal, req passwordChangeRequest) error {
			_, err := s.Commands.ChangePassword.Handle(r.Context(), commands.ChangePassword{
				Actor: p.User.Actor(), SessionID: p.Claims.SessionID, Current: req.CurrentPassword, New: req.NewPassword, Meta: metaOf(r),
			})
			return err
		})
	if !done || err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
