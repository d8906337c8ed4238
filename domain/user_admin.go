package domain

// Account administration: staff manage ordinary accounts, superusers manage
// staff and superuser accounts and grant or remove those rights, and only a
// superuser erases an account.

// Errors of account administration.
var (
	ErrUserNotFound     = Errorf(ENOTFOUND, "User not found.")
	ErrStaffAccount     = Errorf(EFORBIDDEN, "Only a superuser may change a staff or superuser account.")
	ErrRolesNeedSuper   = Errorf(EFORBIDDEN, "Only a superuser may grant or remove staff and superuser rights.")
	ErrDisableSelf      = Errorf(EFORBIDDEN, "You cannot disable your own account.")
	ErrDeleteSelf       = Errorf(EFORBIDDEN, "You cannot delete your own account here.")
	ErrLastSuperuser    = Errorf(ECONFLICT, "This is the last active superuser: make another one first.")
	ErrSuperuserIsStaff = FieldError(EINVALID, "is_staff", "a superuser is always staff: set is_superuser to false too")
)

// AdminChanges is what the admin endpoint changes of an account.
type AdminChanges struct {
	Profile   ProfileChanges
	Active    *bool
	Staff     *bool
	Superuser *bool
}

// authorizeAdmin checks that actor may manage the account at all: staff
// manage ordinary accounts (and their own profile); only superusers manage
// staff and superuser accounts.
func (u *User) authorizeAdmin(actor Actor) error {
	if err := RequireStaff(actor, "manage users"); err != nil {
		return err
	}
	if !u.Exists() {
		return ErrUserNotFound
	}
	if u.Staff() && actor.ID != u.id && !actor.Superuser {
		return ErrStaffAccount
	}
	return nil
}

// AdminChange decides the changes an administrator makes to an account. It
// returns up to three events: the profile change, the roles change and the
// activation change, in that order (none when nothing changes). The rule
// that the last active superuser stays is kept by the caller, which sees
// every superuser (see SuperuserRoster).
func (u *User) AdminChange(actor Actor, c AdminChanges) ([]Event, error) {
	if err := u.authorizeAdmin(actor); err != nil {
		return nil, err
	}
	if (c.Staff != nil || c.Superuser != nil) && !actor.Superuser {
		return nil, ErrRolesNeedSuper
	}
	if c.Active != nil && !*c.Active && actor.ID == u.id {
		return nil, ErrDisableSelf
	}
	var events []Event
	profile, err := u.decideProfile(c.Profile)
	if err != nil {
		return nil, err
	}
	if profile != nil {
		events = append(events, profile)
	}
	staff, super := u.Staff(), u.superuser
	if c.Superuser != nil {
		super = *c.Superuser
	}
	if c.Staff != nil {
		if super && !*c.Staff {
			return nil, ErrSuperuserIsStaff
		}
		staff = *c.Staff
	}
	staff = staff || super
	if staff != u.Staff() || super != u.superuser {
		events = append(events, &UserRolesChanged{IsStaff: staff, IsSuperuser: super})
	}
	if c.Active != nil && *c.Active != u.active {
		if *c.Active {
			events = append(events, &UserEnabled{})
		} else {
			events = append(events, &UserDisabled{})
		}
	}
	return events, nil
}

// Delete decides that an administrator deletes the account.
func (u *User) Delete(actor Actor) (Event, error) {
	if err := u.authorizeAdmin(actor); err != nil {
		return nil, err
	}
	if actor.ID == u.id {
		return nil, ErrDeleteSelf
	}
	return &UserDeleted{}, nil
}

// ErrEraseNeedsSuper is the answer to a staff member who would erase an
// account: erasure cannot be undone, and is a superuser's decision.
var ErrEraseNeedsSuper = Errorf(EFORBIDDEN, "Only a superuser may erase an account.")

// ErrEraseSelfHere is the answer to a superuser who would erase their own
// account as an administrator: erasing one's own account always takes
// one's password (EraseOwn), so that a stolen token cannot do it.
var ErrEraseSelfHere = Errorf(EFORBIDDEN, "You cannot erase your own account here: erase it with DELETE /api/auth/me/ and your password.")

// Erase decides that a superuser erases the account, deleted or not: its
// personal data goes for good (see UserErased). Erasing an erased account
// decides nothing (nil event), so that a retry finishes what the first
// attempt began.
func (u *User) Erase(actor Actor) (Event, error) {
	switch {
	case actor.IsAnonymous():
		return nil, ErrAuthRequired
	case !actor.Superuser:
		return nil, ErrEraseNeedsSuper
	case !u.registered:
		return nil, ErrUserNotFound
	case actor.ID == u.id:
		return nil, ErrEraseSelfHere
	case u.erased:
		return nil, nil
	}
	return &UserErased{}, nil
}
