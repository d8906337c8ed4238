package domain

import (
	"time"
	"unicode/utf8"
)

// A session is one login: a family of refresh tokens. Each refresh spends
// the presented refresh token and issues the next one; presenting a spent
// one again means it was stolen (or replayed), and the whole family is
// revoked (RFC 9700, section 4.14.2), so that neither the thief's nor the
// victim's newest refresh token works any more.

// SessionStarted records a login.
type SessionStarted struct {
	SessionID string    `json:"session_id"`
	UserID    string    `json:"user_id" subject:"true"` // whose personal fields these are
	RefreshID string    `json:"refresh_id"`
	Client    string    `json:"client,omitempty" personal:"true"` // the client's user agent
	StartedAt time.Time `json:"started_at"`
}

// EventType implements Event.
func (*SessionStarted) EventType() string { return "session.started" }

// SessionRefreshed records a rotation: RefreshID is the only refresh token
// of the session that works from now on.
type SessionRefreshed struct {
	SpentID   string `json:"spent_id"`
	RefreshID string `json:"refresh_id"`
}

// EventType implements Event.
func (*SessionRefreshed) EventType() string { return "session.refreshed" }

// SessionEnded records a logout.
type SessionEnded struct {
	Reason string `json:"reason"`
}

// EventType implements Event.
func (*SessionEnded) EventType() string { return "session.ended" }

// SessionRevoked records that the session was revoked because one of its
// spent refresh tokens was presented again.
type SessionRevoked struct {
	Reason    string `json:"reason"`
	Presented string `json:"presented_refresh_id"`
}

// EventType implements Event.
func (*SessionRevoked) EventType() string { return "session.revoked" }

// Reasons a session ends.
const (
	ReasonLogout       = "logout"
	ReasonRefreshReuse = "refresh_token_reuse"
)

// SessionStream returns the stream of a session.
func SessionStream(id string) StreamID { return StreamID{Type: AggregateSession, ID: id} }

// Errors of sessions. They read alike on purpose: a client learns only that
// its token no longer works.
var (
	ErrSessionEnded = Errorf(EUNAUTHORIZED, "The session has ended; log in again.")
	ErrRefreshReuse = Errorf(EUNAUTHORIZED, "The session has ended; log in again.")
)

// Session is the session aggregate.
type Session struct {
	id        string
	userID    string
	refreshID string
	startSeq  uint64
	version   uint64
	started   bool
	ended     bool
	reason    string
}

// Apply folds one event into the session.
func (s *Session) Apply(r Record) {
	s.version = r.Version
	switch e := r.Event.(type) {
	case *SessionStarted:
		s.id, s.userID, s.refreshID, s.started, s.startSeq = e.SessionID, e.UserID, e.RefreshID, true, r.Seq
	case *SessionRefreshed:
		s.refreshID = e.RefreshID
	case *SessionEnded:
		s.ended, s.reason = true, e.Reason
	case *SessionRevoked:
		s.ended, s.reason = true, e.Reason
	}
}

// UserID returns the id of the session's user.
func (s *Session) UserID() string { return s.userID }

// StartSeq is the log sequence of the login.
func (s *Session) StartSeq() uint64 { return s.startSeq }

// Live reports whether the session was started and has not ended.
func (s *Session) Live() bool { return s.started && !s.ended }

// EndReason says why the session ended ("" while it is live).
func (s *Session) EndReason() string { return s.reason }

// StartSession decides a login of userID with its first refresh token id.
func (s *Session) Start(id, userID, refreshID, client string, now time.Time) (Event, error) {
	if s.version > 0 {
		return nil, errIDUsed("session", id)
	}
	if utf8.RuneCountInString(client) > 200 || !utf8.ValidString(client) {
		client = ""
	}
	return &SessionStarted{SessionID: id, UserID: userID, RefreshID: refreshID, Client: client, StartedAt: now.UTC()}, nil
}

// Refresh decides a rotation for a refresh token of userID with id
// presented: the session's current one is spent for newID. A token of an
// ended session is ErrSessionEnded. A spent token is a reuse: Refresh returns
// the revocation to record and ErrRefreshReuse.
func (s *Session) Refresh(userID, presented, newID string) (Event, error) {
	if !s.Live() || s.userID != userID {
		return nil, ErrSessionEnded
	}
	if presented != s.refreshID {
		return &SessionRevoked{Reason: ReasonRefreshReuse, Presented: presented}, ErrRefreshReuse
	}
	return &SessionRefreshed{SpentID: presented, RefreshID: newID}, nil
}

// End decides a logout of userID; ending an ended session changes nothing.
func (s *Session) End(userID, reason string) (Event, error) {
	if !s.started || s.userID != userID {
		return nil, ErrSessionEnded
	}
	if s.ended {
		return nil, nil
	}
	return &SessionEnded{Reason: reason}, nil
}
