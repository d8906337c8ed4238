package domain

// The superuser roster keeps the rule that there is always an active
// superuser. It is one aggregate listing every active superuser, so that a
// change removing one is decided against all of them at once (two
// superusers demoting each other concurrently cannot both succeed).
//
// Commands keep it on the safe side of the truth: a change that ends someone's
// active-superuser status is recorded in the roster before the user's own
// event, and a change that begins it after. A process that stops between the
// two leaves the roster listing fewer superusers than there are, which can
// only refuse a removal, never allow losing the last superuser.

// AggregateRoster is the aggregate type of the roster.
const AggregateRoster = "roster"

// RosterStream is the stream of the superuser roster.
var RosterStream = StreamID{Type: AggregateRoster, ID: "superusers"}

// SuperuserAdded records that a user became an active superuser.
type SuperuserAdded struct {
	UserID string `json:"user_id"`
}

// EventType implements Event.
func (*SuperuserAdded) EventType() string { return "roster.superuser_added" }

// SuperuserRemoved records that a user stopped being an active superuser.
type SuperuserRemoved struct {
	UserID string `json:"user_id"`
}

// EventType implements Event.
func (*SuperuserRemoved) EventType() string { return "roster.superuser_removed" }

// SuperuserRoster is the set of active superusers.
type SuperuserRoster struct {
	members map[string]bool
}

// Apply folds one event into the roster.
func (r *SuperuserRoster) Apply(rec Record) {
	if r.members == nil {
		r.members = map[string]bool{}
	}
	switch e := rec.Event.(type) {
	case *SuperuserAdded:
		r.members[e.UserID] = true
	case *SuperuserRemoved:
		delete(r.members, e.UserID)
	}
}

// Count returns the number of active superusers.
func (r *SuperuserRoster) Count() int { return len(r.members) }

// Has reports whether id is listed.
func (r *SuperuserRoster) Has(id string) bool { return r.members[id] }

// Add decides that id is an active superuser (nil if listed already).
func (r *SuperuserRoster) Add(id string) Event {
	if r.members[id] {
		return nil
	}
	return &SuperuserAdded{UserID: id}
}

// Remove decides that id is no longer an active superuser. Removing the last
// one is ErrLastSuperuser; removing someone not listed changes nothing.
func (r *SuperuserRoster) Remove(id string) (Event, error) {
	if !r.members[id] {
		return nil, nil
	}
	if len(r.members) == 1 {
		return nil, ErrLastSuperuser
	}
	return &SuperuserRemoved{UserID: id}, nil
}
