package domain

// What a registration and a profile change carry, and the checks of it.

// NewUser is the input of a registration.
type NewUser struct {
	Username  string
	Email     string
	FirstName string
	LastName  string
	Bio       string
	Avatar    string
	// Staff and Superuser are set only by operators (createsuperuser), never
	// from the public registration endpoint.
	Staff     bool
	Superuser bool
}

// Validate checks a registration's fields (not the password, which the
// caller checks with ValidatePassword before hashing it).
func (n NewUser) Validate() error {
	p := Problems{}
	switch {
	case n.Username == "":
		p.Add("username", "is required")
	case !validUsername(n.Username):
		p.Add("username", "must be 1 to 150 characters: letters, digits and @ . + - _")
	}
	switch {
	case n.Email == "":
		p.Add("email", "is required")
	case !validEmail(n.Email):
		p.Add("email", "must be a valid email address")
	}
	ProfileChanges{FirstName: &n.FirstName, LastName: &n.LastName, Bio: &n.Bio, Avatar: &n.Avatar}.check(p)
	return p.Err()
}

// ProfileChanges is a partial update of the profile fields a user edits
// (the tutorial's UpdateSerializer): nil fields stay as they are.
type ProfileChanges struct {
	FirstName *string
	LastName  *string
	Bio       *string
	Avatar    *string
}

// check records the problems of the fields the change sets.
func (c ProfileChanges) check(p Problems) {
	checkText(p, "first_name", c.FirstName, MaxNameLen, false)
	checkText(p, "last_name", c.LastName, MaxNameLen, false)
	checkText(p, "bio", c.Bio, MaxBioLen, true)
	checkURL(p, "avatar", c.Avatar)
}
