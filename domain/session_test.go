package domain_test

import (
	"testing"

	"inkwell/domain"
)

func TestSessionRules(t *testing.T) {
	t.Parallel()
	started := &domain.SessionStarted{SessionID: "s1", UserID: "u1", RefreshID: "r1"}
	checkDecisions(t, func(err error) error { return err }, []decision[domain.Session, error]{
		{"rotate the current token", []domain.Event{started},
			func(s *domain.Session) (domain.Event, error) { return s.Refresh("u1", "r1", "r2") },
			&domain.SessionRefreshed{SpentID: "r1", RefreshID: "r2"}, nil},
		{"a spent token revokes the family", []domain.Event{started, &domain.SessionRefreshed{SpentID: "r1", RefreshID: "r2"}},
			func(s *domain.Session) (domain.Event, error) { return s.Refresh("u1", "r1", "r3") },
			&domain.SessionRevoked{Reason: domain.ReasonRefreshReuse, Presented: "r1"}, domain.ErrRefreshReuse},
		{"a revoked session refreshes no more", []domain.Event{started, &domain.SessionRevoked{Reason: domain.ReasonRefreshReuse}},
			func(s *domain.Session) (domain.Event, error) { return s.Refresh("u1", "r1", "r3") }, nil, domain.ErrSessionEnded},
		{"an ended session refreshes no more", []domain.Event{started, &domain.SessionEnded{Reason: domain.ReasonLogout}},
			func(s *domain.Session) (domain.Event, error) { return s.Refresh("u1", "r1", "r3") }, nil, domain.ErrSessionEnded},
		{"another user's session", []domain.Event{started},
			func(s *domain.Session) (domain.Event, error) { return s.Refresh("u2", "r1", "r3") }, nil, domain.ErrSessionEnded},
		{"no such session", nil,
			func(s *domain.Session) (domain.Event, error) { return s.Refresh("u1", "r1", "r3") }, nil, domain.ErrSessionEnded},
		{"logout", []domain.Event{started},
			func(s *domain.Session) (domain.Event, error) { return s.End("u1", domain.ReasonLogout) },
			&domain.SessionEnded{Reason: domain.ReasonLogout}, nil},
		{"logout twice changes nothing", []domain.Event{started, &domain.SessionEnded{Reason: domain.ReasonLogout}},
			func(s *domain.Session) (domain.Event, error) { return s.End("u1", domain.ReasonLogout) }, nil, nil},
		{"logout of another user's session", []domain.Event{started},
			func(s *domain.Session) (domain.Event, error) { return s.End("u2", domain.ReasonLogout) }, nil, domain.ErrSessionEnded},
	})
}

func TestUserRevocationsEndSessions(t *testing.T) {
	t.Parallel()
	reg := &domain.UserRegistered{UserID: "u1", IsActive: true}
	var u domain.User
	// Events at sequences 1, 2, 3: a session started at sequence 5 comes after.
	given(&u, reg, &domain.UserProfileUpdated{}, &domain.UserPasswordChanged{PasswordHash: "h2", KeepSession: "mine"})
	if u.SessionValid("old", 2) || !u.SessionValid("mine", 2) || !u.SessionValid("new", 5) {
		t.Fatal("a password change must end the sessions before it but the one that made it")
	}
	given(&u, reg, &domain.UserSessionsRevoked{Reason: "logout_all"})
	if u.SessionValid("any", 1) || !u.SessionValid("later", 3) {
		t.Fatal("a logout from everywhere must end every earlier session")
	}
	given(&u, reg, &domain.UserDisabled{}, &domain.UserEnabled{})
	if u.SessionValid("before", 1) || !u.Active() {
		t.Fatal("sessions from before a disable must not come back on enable")
	}
}
