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

// FollowRemoved records that a user no longer follows another.
type FollowRemoved struct {
	FollowerID string `json:"follower_id"`
	FolloweeID string `json:"followee_id"`
}

// EventType implements Event.
func (*FollowRemoved) EventType() string { return "follow.removed" }

// Follow is the follow aggregate: whether a user follows another.
type Follow struct {
	version uint64
	on      bool
}

// Apply folds one event into the follow.
func (f *Follow) Apply(r Record) {
	f.version = r.Version
	switch r.Event.(type) {
	case *FollowAdded:
		f.on = true
	case *FollowRemoved:
		f.on = false
	}
}

// On reports whether the follower follows the followee.
func (f *Follow) On() bool { return f.on }

// Add decides that actor follows followee (as loaded from its stream).
// Following whom one follows changes nothing (a nil event). Nobody follows
// themselves (EINVALID naming username); an account that does not exist,
// or no longer does, is not found.
func (f *Follow) Add(actor Actor, followee *User, now time.Time) (Event, error) {
	switch {
	case actor.IsAnonymous():
		return nil, ErrAuthRequired
	case !followee.Exists():
		return nil, ErrUserNotFound
	case followee.ID() == actor.ID:
		return nil, ErrFollowSelf
	case f.on:
		return nil, nil
	}
	return &FollowAdded{FollowerID: actor.ID, FolloweeID: followee.ID(), At: now.UTC()}, nil
}

// Remove decides that actor no longer follows followee. Unfollowing whom
// one does not follow changes nothing (a nil event); a follow can be ended
// whatever became of the followee, but an account that does not exist and
// is not followed is not found.
func (f *Follow) Remove(actor Actor, followee *User) (Event, error) {
	switch {
	case actor.IsAnonymous():
		return nil, ErrAuthRequired
	case f.on:
		return &FollowRemoved{FollowerID: actor.ID, FolloweeID: followee.ID()}, nil
	case !followee.Exists():
		return nil, ErrUserNotFound
	}
	return nil, nil
}
