package domain_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"inkwell/domain"
)

var now = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

// given folds events into an aggregate as the log would deliver them.
func given(a interface{ Apply(domain.Record) }, events ...domain.Event) {
	for i, e := range events {
		a.Apply(domain.Record{Event: e, Version: uint64(i + 1), Seq: uint64(i + 1), Type: e.EventType()})
	}
}

// decision is one case of a table of an aggregate's decisions: given its
// past events, when it decides, then it returns the event then (nil for
// none) and an error that the table's outcome maps to err. The outcome is
// domain.ErrorCode where an error's code is what counts, and the error
// itself where errors of one code mean different things.
type decision[A any, W comparable] struct {
	name  string
	given []domain.Event
	when  func(*A) (domain.Event, error)
	then  domain.Event
	err   W
}

// checkDecisions runs each case of a table of decisions on an aggregate of
// its own.
func checkDecisions[A any, P interface {
	*A
	Apply(domain.Record)
}, W comparable](t *testing.T, outcome func(error) W, tests []decision[A, W]) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var a A
			given(P(&a), tc.given...)
			got, err := tc.when(&a)
			if outcome(err) != tc.err {
				t.Fatalf("error %v, want %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.then) {
				t.Fatalf("got  %#v\nwant %#v", got, tc.then)
			}
		})
	}
}

func john() domain.NewUser {
	return domain.NewUser{Username: "johndoe", Email: "john@example.com", FirstName: "John", LastName: "Doe"}
}

func registeredJohn() *domain.UserRegistered {
	return &domain.UserRegistered{UserID: "u1", Username: "johndoe", Email: "john@example.com", PasswordHash: "h",
		FirstName: "John", LastName: "Doe", IsActive: true, DateJoined: now}
}

func TestUserRegister(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		given  []domain.Event
		input  func() domain.NewUser
		hash   string
		then   domain.Event
		code   string
		fields []string
	}{
		{name: "fresh stream", input: john, hash: "h", then: registeredJohn()},
		{name: "operator makes a superuser, who is staff too", input: func() domain.NewUser {
			n := john()
			n.Superuser = true
			return n
		}, hash: "h", then: func() domain.Event {
			e := registeredJohn()
			e.IsStaff, e.IsSuperuser = true, true
			return e
		}()},
		{name: "already registered", given: []domain.Event{registeredJohn()}, input: john, hash: "h", code: domain.ECONFLICT},
		{name: "fenced off", given: []domain.Event{&domain.CreationAbandoned{}}, input: john, hash: "h", code: domain.ECONFLICT},
		{name: "missing username and email", input: func() domain.NewUser { return domain.NewUser{} }, hash: "h",
			code: domain.EINVALID, fields: []string{"email", "username"}},
		{name: "username with a space", input: func() domain.NewUser { n := john(); n.Username = "john doe"; return n }, hash: "h",
			code: domain.EINVALID, fields: []string{"username"}},
		{name: "username with a look-alike letter", input: func() domain.NewUser { n := john(); n.Username = "jоhn"; return n }, hash: "h",
			code: domain.EINVALID, fields: []string{"username"}},
		{name: "username of 151 characters", input: func() domain.NewUser { n := john(); n.Username = strings.Repeat("a", 151); return n }, hash: "h",
			code: domain.EINVALID, fields: []string{"username"}},
		{name: "bad email", input: func() domain.NewUser { n := john(); n.Email = "john@"; return n }, hash: "h",
			code: domain.EINVALID, fields: []string{"email"}},
		{name: "email with a display name", input: func() domain.NewUser { n := john(); n.Email = "John <john@example.com>"; return n }, hash: "h",
			code: domain.EINVALID, fields: []string{"email"}},
		{name: "avatar not a URL", input: func() domain.NewUser { n := john(); n.Avatar = "javascript:alert(1)"; return n }, hash: "h",
			code: domain.EINVALID, fields: []string{"avatar"}},
		{name: "control character in a name", input: func() domain.NewUser { n := john(); n.FirstName = "J\x00"; return n }, hash: "h",
			code: domain.EINVALID, fields: []string{"first_name"}},
		{name: "no hash is a bug", input: john, hash: "", code: domain.EINTERNAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var u domain.User
			given(&u, tc.given...)
			got, err := u.Register("u1", tc.input(), tc.hash, now)
			if tc.code != "" {
				if domain.ErrorCode(err) != tc.code {
					t.Fatalf("error %v, want code %s", err, tc.code)
				}
				for _, f := range tc.fields {
					if _, ok := domain.ErrorFields(err)[f]; !ok {
						t.Errorf("error %v does not name field %s", err, f)
					}
				}
				if len(domain.ErrorFields(err)) != len(tc.fields) {
					t.Errorf("error names fields %v, want %v", domain.ErrorFields(err), tc.fields)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.then) {
				t.Fatalf("got %#v\nwant %#v", got, tc.then)
			}
		})
	}
}

func TestUserState(t *testing.T) {
	t.Parallel()
	var u domain.User
	given(&u, registeredJohn())
	if !u.Exists() || !u.Active() || u.Staff() || u.Version() != 1 || u.Username() != "johndoe" {
		t.Fatalf("after registration: %+v", u)
	}
	given(&u, registeredJohn(), &domain.UserDisabled{})
	if u.Active() || !u.Exists() {
		t.Fatal("a disabled user is still active")
	}
	var fenced domain.User
	given(&fenced, &domain.CreationAbandoned{})
	if fenced.Exists() || fenced.Live() {
		t.Fatal("a fenced-off id exists")
	}
}

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	for pw, ok := range map[string]bool{
		"12345678":                true,
		"secure_password_123":     true,
		"1234567":                 false,
		"":                        false,
		"        ":                false,
		strings.Repeat("x", 1025): false,
		"ünïcödé!":                true,
	} {
		err := domain.ValidatePassword("password", pw)
		if (err == nil) != ok {
			t.Errorf("ValidatePassword(%q) = %v, want ok=%v", pw, err, ok)
		}
		if err != nil && domain.ErrorFields(err)["password"] == "" {
			t.Errorf("error for %q does not name the field", pw)
		}
	}
}

func TestClaim(t *testing.T) {
	t.Parallel()
	alice, bob := domain.UserStream("alice"), domain.UserStream("bob")
	takenBy := func(s domain.StreamID) domain.Event {
		return &domain.ClaimTaken{Owner: domain.StreamIDJSON(s), TakenAt: now}
	}
	checkDecisions(t, domain.ErrorCode, []decision[domain.Claim, string]{
		{name: "take a free claim", when: func(c *domain.Claim) (domain.Event, error) { return c.Take(alice, now) }, then: takenBy(alice)},
		{name: "take a claim someone holds", given: []domain.Event{takenBy(bob)},
			when: func(c *domain.Claim) (domain.Event, error) { return c.Take(alice, now) }, err: domain.ECONFLICT},
		{name: "take one's own claim again changes nothing", given: []domain.Event{takenBy(alice)},
			when: func(c *domain.Claim) (domain.Event, error) { return c.Take(alice, now) }, then: nil},
		{name: "take a released claim", given: []domain.Event{takenBy(bob), &domain.ClaimReleased{Owner: domain.StreamIDJSON(bob)}},
			when: func(c *domain.Claim) (domain.Event, error) { return c.Take(alice, now) }, then: takenBy(alice)},
		{name: "release one's claim", given: []domain.Event{takenBy(alice)},
			when: func(c *domain.Claim) (domain.Event, error) { return c.Release(alice), nil },
			then: &domain.ClaimReleased{Owner: domain.StreamIDJSON(alice)}},
		{name: "release someone else's claim changes nothing", given: []domain.Event{takenBy(bob)},
			when: func(c *domain.Claim) (domain.Event, error) { return c.Release(alice), nil }, then: nil},
		{name: "take over from a gone holder", given: []domain.Event{takenBy(bob)},
			when: func(c *domain.Claim) (domain.Event, error) { return c.TakeOver(alice, now), nil }, then: takenBy(alice)},
	})
}

func TestClaimStreamIgnoresCase(t *testing.T) {
	t.Parallel()
	if domain.ClaimStream(domain.ClaimUsername, "JohnDoe") != domain.ClaimStream(domain.ClaimUsername, "johndoe") {
		t.Fatal("claims differ by case")
	}
	if domain.ClaimStream(domain.ClaimUsername, "john") == domain.ClaimStream(domain.ClaimEmail, "john") {
		t.Fatal("claims of different kinds collide")
	}
}

func TestDecodeEventUpcastsAndRefusesTheUnknown(t *testing.T) {
	t.Parallel()
	if _, err := domain.DecodeEvent("no.such.event", 1, []byte(`{}`)); err == nil {
		t.Fatal("unknown type decoded")
	}
	if _, err := domain.DecodeEvent("user.registered", 99, []byte(`{}`)); err == nil {
		t.Fatal("a schema version from the future decoded")
	}
	full, err := json.Marshal(registeredJohn())
	if err != nil {
		t.Fatal(err)
	}
	e, err := domain.DecodeEvent("user.registered", 1, full)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := e.(*domain.UserRegistered); !ok || !reflect.DeepEqual(r, registeredJohn()) {
		t.Fatalf("decoded %#v", e)
	}
	// A body that lacks a field every such event has, or holds null for
	// one that cannot be null, is an error, not a half-built event; a
	// field this build does not know is ignored.
	for _, body := range []string{`{"user_id":"u1","username":"a"}`, `{}`, `[]`, `null`, `"x"`,
		strings.Replace(string(full), `"username":"johndoe"`, `"username":null`, 1)} {
		if e, err := domain.DecodeEvent("user.registered", 1, []byte(body)); err == nil {
			t.Errorf("%s decoded as %#v", body, e)
		}
	}
	if _, err := domain.DecodeEvent("user.registered", 1, []byte(strings.Replace(string(full), "{", `{"from_a_newer_build":1,`, 1))); err != nil {
		t.Errorf("an unknown field: %v", err)
	}
	for _, spec := range domain.EventSpecs() {
		if spec.New().EventType() != spec.Type {
			t.Errorf("spec %s builds a %s", spec.Type, spec.New().EventType())
		}
		// What this build writes, it reads.
		b, err := json.Marshal(spec.New())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := domain.DecodeEvent(spec.Type, spec.Version, b); err != nil {
			t.Errorf("%s: a zero event does not decode: %v", spec.Type, err)
		}
	}
}

// Names (titles, tag and category names, first and last names) refuse the
// characters that change how they read without being seen; content keeps
// them.
func TestNamesRefuseInvisibleCharacters(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"Go\u200b", "\ufeffGo", "G\u202eo", "a\u2066b\u2069", "Zero\u200dwidth", "soft\u00adhyphen", "x\u2028y", "\u3164",
		"blank\u2800braille", "G\u034fo", "Go\ufffe", "Go\U0010ffff", "G\ufdd0o", "\u115fGo"} {
		if err := domain.ValidateTagName(name); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("tag name %q: %v, want EINVALID", name, err)
		}
		if err := (domain.CategoryInput{Name: name}).Validate(); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("category name %q: %v, want EINVALID", name, err)
		}
		if err := (domain.ArticleInput{Title: name}).Validate(); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("title %q: %v, want EINVALID", name, err)
		}
		u := john()
		u.FirstName = name
		if err := u.Validate(); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("first name %q: %v, want EINVALID", name, err)
		}
	}
	for _, name := range []string{"Go", "Café", "日本語", "Ünïcödé tags", "C++ & C#", "I \u2764\ufe0f Go"} {
		if err := domain.ValidateTagName(name); err != nil {
			t.Errorf("tag name %q: %v", name, err)
		}
	}
	// Control characters, C1 (U+0080-U+009F) too, are refused in all text.
	for _, text := range []string{"a\u0085b", "a\u0088", "\u009b31m", "a\x00b", "a\x7fb"} {
		if err := (domain.ArticleInput{Title: "t", Content: text}).Validate(); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("content %q: %v, want EINVALID", text, err)
		}
		if err := domain.ValidateTagName(text); domain.ErrorCode(err) != domain.EINVALID {
			t.Errorf("tag name %q: %v, want EINVALID", text, err)
		}
	}
	content := "family: \U0001F468\u200d\U0001F469\u200d\U0001F467, and \u202bעברית\u202c"
	if err := (domain.ArticleInput{Title: "Emoji", Content: content}).Validate(); err != nil {
		t.Errorf("content with joiners and bidi embedding: %v", err)
	}
}
