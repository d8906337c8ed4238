package api

import (
	"context"
	"net/http"

	"github.com/golang-jwt/jwt/v5"

	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
)

// DjangoSessions turns a verified token of the Django app Inkwell imported
// into an Inkwell session (commands.Imports.SessionForToken).
type DjangoSessions interface {
	SessionForToken(ctx context.Context, source, subject, tokenHash string, reuse bool, client string, meta domain.Meta) (*commands.Session, error)
}

// djangoSource is the import source whose users Django tokens name (the
// import's default, djangoimport.SourceName).
const djangoSource = "django"

// djangoPrincipal returns the caller of a Django access token, when
// Django's tokens are accepted (Deps.DjangoTokens) and token is one: the
// session its first use started. ok is false when token is no Django
// access token (nor are Django tokens accepted).
func (s *Server) djangoPrincipal(r *http.Request, token string) (p *principal, ok bool, err error) {
	if s.DjangoTokens == nil || s.DjangoSessions == nil {
		return nil, false, nil
	}
	dt, err := s.DjangoTokens.Verify(token, false)
	if err != nil {
		return nil, false, nil
	}
	sess, err := s.DjangoSessions.SessionForToken(r.Context(), djangoSource, dt.Subject, dt.Hash, true, r.UserAgent(), metaOf(r))
	if err != nil {
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
			s.logAuthFailure(r, "django token: "+domain.ErrorMessage(err), "django_sub", dt.Subject)
			return nil, true, errBadToken
		}
		return nil, true, err
	}
	claims := &auth.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: sess.User.ID(), ExpiresAt: jwt.NewNumericDate(dt.ExpiresAt)},
		Type: auth.TypeAccess, SessionID: sess.SessionID}
	return &principal{User: sess.User, Claims: claims}, true, nil
}

// djangoRefresh answers a refresh with a Django refresh token, when
// Django's tokens are accepted: it is exchanged, once, for a new Inkwell
// session and its tokens. ok is false when token is none.
func (s *Server) djangoRefresh(w http.ResponseWriter, r *http.Request, token string) (ok bool, err error) {
	if s.DjangoTokens == nil || s.DjangoSessions == nil {
		return false, nil
	}
	dt, err := s.DjangoTokens.Verify(token, true)
	if err != nil {
		return false, nil
	}
	sess, err := s.DjangoSessions.SessionForToken(r.Context(), djangoSource, dt.Subject, dt.Hash, false, r.UserAgent(), metaOf(r))
	if err != nil {
		if domain.ErrorCode(err) == domain.EUNAUTHORIZED {
			s.logAuthFailure(r, "django refresh: "+domain.ErrorMessage(err), "django_sub", dt.Subject)
		}
		return true, err
	}
	return true, s.writeTokens(w, r, http.StatusOK, sess)
}
