package domain

import "time"

// A follow is one user following another. Each (follower, followee) pair is
// an aggregate of its own, under an id made of the pair (FollowStream), so
// that following twice, even by two racing requests, is one follow, and a
// load reads only the pair's few events, however many followers anyone has.

// AggregateFollow is the aggregate type of follows.
const AggregateFollow = "follow"

// FollowStream returns the stream of followerID following followeeID:
// "<follower id>_<followee id>".
func FollowStream(followerID, followeeID string) StreamID {
	return StreamID{Type: AggregateFollow, ID: followerID + "_" + followeeID}
}

// ErrFollowSelf refuses a user who would follow themselves.
var ErrFollowSelf = FieldError(EINVALID, "username", "you cannot follow yourself")

// FollowAdded records that a user follows another.
type FollowAdded struct {
	FollowerID string    `json:"follower_id"`
	FolloweeID string    `json:"followee_id"`
	At         time.Time `json:"at"`
}

// EventType implements Event.
func (*FollowAdded) EventType() string { return "follow.added" }

func (*FollowAdded) turnsOn() bool { return true }

// FollowRemoved records that a user no longer follows another.
type FollowRemoved struct {
	FollowerID string `json:"follower_id"`
	FolloweeID string `json:"followee_id"`
}

// EventType implements Event.
func (*FollowRemoved) EventType() string { return "follow.removed" }

func (*FollowRemoved) turnsOn() bool { return false }

// Follow is the follow aggregate: whether a user follows another.
type Follow struct{ pair }

// Add decides that actor follows followee (as loaded from its stream).
// Following whom one follows changes nothing (a nil event). Nobody follows
// themselves (EINVALID naming username); an account that does not exist,
// or no longer does, is not found.
func (f *Follow) Add(actor Actor, followee *User, now time.Time) (Event, error) {
	missing := userGone(followee)
	if missing == nil && followee.ID() == actor.ID {
		missing = ErrFollowSelf
	}
	return f.decide(actor, true, missing, &FollowAdded{FollowerID: actor.ID, FolloweeID: followee.ID(), At: now.UTC()})
}

// Remove decides that actor no longer follows followee. Unfollowing whom
// one does not follow changes nothing (a nil event); a follow can be ended
// whatever became of the followee, but an account that does not exist and
// is not followed is not found.
func (f *Follow) Remove(actor Actor, followee *User) (Event, error) {
	return f.decide(actor, false, userGone(followee), &FollowRemoved{FollowerID: actor.ID, FolloweeID: followee.ID()})
}

// userGone refuses an account that does not exist, or no longer does, as not
// found.
func userGone(u *User) error {
	if !u.Exists() {
		return ErrUserNotFound
	}
	return nil
}
