package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/readmodels/follows"
	"inkwell/readmodels/users"
)

// ConduitUser is the Conduit surface's user: the caller's account with a
// token for the Conduit surface.
type ConduitUser struct {
	Email    string `json:"email"`
	Token    string `json:"token"`
	Username string `json:"username"`
	Bio      string `json:"bio"`
	Image    string `json:"image"`
}

// ConduitUserResponse is the answer of register, login, and the current
// user's read and update.
type ConduitUserResponse struct {
	User ConduitUser `json:"user"`
}

// ConduitProfile is a user's public profile on the Conduit surface.
type ConduitProfile struct {
	Username  string `json:"username"`
	Bio       string `json:"bio"`
	Image     string `json:"image"`
	Following bool   `json:"following"`
}

// ConduitProfileResponse is the answer of a profile's read, follow and
// unfollow.
type ConduitProfileResponse struct {
	Profile ConduitProfile `json:"profile"`
}

func conduitProfile(p follows.Profile) ConduitProfile {
	return ConduitProfile{Username: p.Username, Bio: p.Bio, Image: p.Avatar, Following: p.Following}
}

type conduitRegisterRequest struct {
	User struct {
		Username string `json:"username"`
		Email    string `json:"email"`
		Password string `json:"password" norm:"raw"`
	} `json:"user"`
}

// handleConduitRegister registers an account, as POST /api/auth/register/
// does (the same throttle, command and rules), and starts its session.
func (s *Server) handleConduitRegister(w http.ResponseWriter, r *http.Request) error {
	account := func(req conduitRegisterRequest) commands.Register {
		return commands.Register{User: domain.NewUser{Username: req.User.Username, Email: req.User.Email}, Password: req.User.Password}
	}
	answer := func(sess *commands.Session) error {
		return s.writeConduitUser(w, http.StatusCreated, sess.User, sess.SessionID)
	}
	return register(s, w, r, account, answer, ConduitBase+"/users/login",
		"The account is recorded, but no session could be started for it now: log in to get a token.")
}

type conduitLoginRequest struct {
	User struct {
		Email    string `json:"email"`
		Password string `json:"password" norm:"raw"`
	} `json:"user"`
}

// handleConduitLogin logs in by email and password, with the login
// throttle of Inkwell's own login (counted per email and address, and per
// address).
func (s *Server) handleConduitLogin(w http.ResponseWriter, r *http.Request) error {
	var req conduitLoginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := required("email", req.User.Email, "password", req.User.Password); err != nil {
		return err
	}
	sess, err := s.login(w, r, "conduit login", "email\x00"+strings.TrimSpace(req.User.Email),
		commands.Login{Email: req.User.Email, Password: req.User.Password})
	if sess == nil || err != nil {
		return err
	}
	return s.writeConduitUser(w, http.StatusOK, sess.User, sess.SessionID)
}

// writeConduitUser answers with u and a new access token of the session
// sid (Inkwell's access token: it expires, and ends with its session).
func (s *Server) writeConduitUser(w http.ResponseWriter, status int, u *domain.User, sid string) error {
	tok, err := s.Tokens.IssueAccess(u.ID(), sid, profileOf(u))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, ConduitUserResponse{User: ConduitUser{
		Email: u.Email(), Token: tok.Token, Username: u.Username(), Bio: u.Bio(), Image: u.Avatar(),
	}})
	return nil
}

// handleConduitCurrentUser answers the caller's account, as the log has it
// now, with a fresh access token of the same session: a Conduit front end
// has no refresh flow, and reads the current user when it starts, so its
// session slides on while it is used and the session lives (see
// docs/conduit.md).
func (s *Server) handleConduitCurrentUser(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	return s.writeConduitUser(w, http.StatusOK, p.User, p.Claims.SessionID)
}

type conduitUpdateUserRequest struct {
	User struct {
		Email    optional[string] `json:"email"`
		Username optional[string] `json:"username"`
		Password optional[string] `json:"password" norm:"raw"`
		Bio      optional[string] `json:"bio"`
		Image    optional[string] `json:"image"`
		// Token is accepted and ignored: front ends send the user back as
		// they read it (the Angular one does).
		Token json.RawMessage `json:"token"`
	} `json:"user"`
}

// handleConduitUpdateUser changes the caller's bio and image. Inkwell's
// usernames and emails do not change, and a password changes only with the
// current one (POST /api/auth/password/): an email or username sent as it
// is, empty or null (front ends send the whole form) changes nothing;
// another is a 422 naming the field, as is a password.
func (s *Server) handleConduitUpdateUser(w http.ResponseWriter, r *http.Request) error {
	pr := principalOf(r.Context())
	u := pr.User
	ch, err := decodeChanges(w, r, func(req conduitUpdateUserRequest, p domain.Problems) domain.ProfileChanges {
		// sent is a field's value, nil when it is absent or null (which
		// changes nothing).
		sent := func(o optional[string]) *string {
			if !o.Set || o.Null {
				return nil
			}
			return &o.Value
		}
		if e := sent(req.User.Email); e != nil && !strings.EqualFold(strings.TrimSpace(*e), u.Email()) {
			p.Add("email", "cannot be changed")
		}
		if n := sent(req.User.Username); n != nil && *n != u.Username() {
			p.Add("username", "cannot be changed")
		}
		if pw := sent(req.User.Password); pw != nil && *pw != "" {
			p.Add("password", "is changed with the current one, at POST /api/auth/password/")
		}
		empty := ""
		return domain.ProfileChanges{Bio: req.User.Bio.ptr("bio", &empty, p), Avatar: req.User.Image.ptr("image", &empty, p)}
	})
	if err != nil {
		return err
	}
	res, err := s.Commands.UpdateProfile.Handle(r.Context(), commands.UpdateProfile{Actor: actorOf(r.Context()), Changes: ch, Meta: metaOf(r)})
	if err != nil {
		return err
	}
	tok, err := s.Tokens.IssueAccess(u.ID(), pr.Claims.SessionID, profileOf(u))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return written(s, w, r, domain.AggregateUser, res, ConduitBase+"/user", http.StatusOK, s.Users.UserByID, func(v users.User) ConduitUserResponse {
		return ConduitUserResponse{User: ConduitUser{Email: v.Email, Token: tok.Token, Username: v.Username, Bio: v.Bio, Image: v.Avatar}}
	})
}

func conduitProfileResponse(p follows.Profile) ConduitProfileResponse {
	return ConduitProfileResponse{Profile: conduitProfile(p)}
}

// conduitFollowChange is followChange in the Conduit shape. A body is
// ignored (the official suite sends one).
func (s *Server) conduitFollowChange(run commandOn) handlerFunc {
	location := func(username string) string { return ConduitBase + "/profiles/" + url.PathEscape(username) }
	return followChange(s, run, location, conduitProfileResponse)
}
