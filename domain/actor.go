package domain

// SystemActorID is the actor id of events that Inkwell itself causes, such as
// those of process managers or of the command-line tools.
const SystemActorID = "system"

// Actor is whoever issues a command, as known from the current state of their
// account (never from token claims alone).
type Actor struct {
	ID        string
	Staff     bool
	Superuser bool
}

// SystemActor is the actor for commands Inkwell issues itself.
var SystemActor = Actor{ID: SystemActorID, Staff: true, Superuser: true}

// IsStaff reports whether the actor has staff rights; superusers always do.
func (a Actor) IsStaff() bool { return a.Staff || a.Superuser }

// IsAnonymous reports whether no one is authenticated.
func (a Actor) IsAnonymous() bool { return a.ID == "" }

// ErrAuthRequired is the answer to an anonymous actor who would do what
// takes an account.
var ErrAuthRequired = Errorf(EUNAUTHORIZED, "Authentication credentials were not provided.")

// RequireStaff returns EUNAUTHORIZED for an anonymous actor and EFORBIDDEN
// for one without staff rights, saying what was refused: what is the action
// only staff may take ("create categories").
func RequireStaff(actor Actor, what string) error {
	switch {
	case actor.IsAnonymous():
		return ErrAuthRequired
	case !actor.IsStaff():
		return Errorf(EFORBIDDEN, "Only staff may %s.", what)
	}
	return nil
}
