package domain_test

import (
	"reflect"
	"testing"

	"inkwell/domain"
)

func TestAdminRoleRules(t *testing.T) {
	t.Parallel()
	var (
		superA = domain.Actor{ID: "super", Staff: true, Superuser: true}
		staffA = domain.Actor{ID: "staffer", Staff: true}
		userA  = domain.Actor{ID: "user"}
		anon   = domain.Actor{}
	)
	ordinary := func() []domain.Event {
		return []domain.Event{&domain.UserRegistered{UserID: "target", Username: "t", IsActive: true}}
	}
	staffTarget := func() []domain.Event {
		return []domain.Event{&domain.UserRegistered{UserID: "target", Username: "t", IsActive: true, IsStaff: true}}
	}
	superTarget := func() []domain.Event {
		return []domain.Event{&domain.UserRegistered{UserID: "target", Username: "t", IsActive: true, IsStaff: true, IsSuperuser: true}}
	}
	self := func(id string, staff, super bool) []domain.Event {
		return []domain.Event{&domain.UserRegistered{UserID: id, Username: id, IsActive: true, IsStaff: staff, IsSuperuser: super}}
	}
	f, tr := false, true
	name := "New"
	tests := []struct {
		name  string
		given []domain.Event
		actor domain.Actor
		ch    domain.AdminChanges
		then  []domain.Event
		code  string
	}{
		{"anonymous", ordinary(), anon, domain.AdminChanges{Active: &f}, nil, domain.EUNAUTHORIZED},
		{"a regular user", ordinary(), userA, domain.AdminChanges{Active: &f}, nil, domain.EFORBIDDEN},
		{"staff disables an ordinary user", ordinary(), staffA, domain.AdminChanges{Active: &f}, []domain.Event{&domain.UserDisabled{}}, ""},
		{"staff enables an ordinary user", append(ordinary(), &domain.UserDisabled{}), staffA, domain.AdminChanges{Active: &tr}, []domain.Event{&domain.UserEnabled{}}, ""},
		{"staff edits an ordinary user", ordinary(), staffA, domain.AdminChanges{Profile: domain.ProfileChanges{FirstName: &name}},
			[]domain.Event{&domain.UserProfileUpdated{FirstName: &name}}, ""},
		{"staff may not grant staff", ordinary(), staffA, domain.AdminChanges{Staff: &tr}, nil, domain.EFORBIDDEN},
		{"staff may not disable another staff", staffTarget(), staffA, domain.AdminChanges{Active: &f}, nil, domain.EFORBIDDEN},
		{"staff may not edit a superuser", superTarget(), staffA, domain.AdminChanges{Profile: domain.ProfileChanges{FirstName: &name}}, nil, domain.EFORBIDDEN},
		{"superuser grants staff", ordinary(), superA, domain.AdminChanges{Staff: &tr}, []domain.Event{&domain.UserRolesChanged{IsStaff: true}}, ""},
		{"superuser grants superuser, which is staff too", ordinary(), superA, domain.AdminChanges{Superuser: &tr},
			[]domain.Event{&domain.UserRolesChanged{IsStaff: true, IsSuperuser: true}}, ""},
		{"superuser removes staff", staffTarget(), superA, domain.AdminChanges{Staff: &f}, []domain.Event{&domain.UserRolesChanged{}}, ""},
		{"superuser removes superuser, who stays staff", superTarget(), superA, domain.AdminChanges{Superuser: &f},
			[]domain.Event{&domain.UserRolesChanged{IsStaff: true}}, ""},
		{"a superuser cannot stop being staff alone", superTarget(), superA, domain.AdminChanges{Staff: &f}, nil, domain.EINVALID},
		{"superuser disables staff", staffTarget(), superA, domain.AdminChanges{Active: &f}, []domain.Event{&domain.UserDisabled{}}, ""},
		{"nobody disables themselves", self("super", true, true), superA, domain.AdminChanges{Active: &f}, nil, domain.EFORBIDDEN},
		{"staff edit their own profile", self("staffer", true, false), staffA, domain.AdminChanges{Profile: domain.ProfileChanges{FirstName: &name}},
			[]domain.Event{&domain.UserProfileUpdated{FirstName: &name}}, ""},
		{"several changes at once, in order", ordinary(), superA, domain.AdminChanges{Profile: domain.ProfileChanges{FirstName: &name}, Staff: &tr, Active: &f},
			[]domain.Event{&domain.UserProfileUpdated{FirstName: &name}, &domain.UserRolesChanged{IsStaff: true}, &domain.UserDisabled{}}, ""},
		{"no change", ordinary(), staffA, domain.AdminChanges{Active: &tr}, nil, ""},
		{"a deleted user is not found", append(ordinary(), &domain.UserDeleted{}), superA, domain.AdminChanges{Active: &f}, nil, domain.ENOTFOUND},
		{"bad avatar", ordinary(), staffA, domain.AdminChanges{Profile: domain.ProfileChanges{Avatar: strp("nope")}}, nil, domain.EINVALID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var u domain.User
			given(&u, tc.given...)
			got, err := u.AdminChange(tc.actor, tc.ch)
			if domain.ErrorCode(err) != tc.code {
				t.Fatalf("error %v, want %q", err, tc.code)
			}
			if tc.code == "" && !reflect.DeepEqual(got, tc.then) {
				t.Fatalf("got %#v, want %#v", got, tc.then)
			}
		})
	}
}

func TestAdminDeleteRules(t *testing.T) {
	t.Parallel()
	reg := func(staff bool) *domain.User {
		var u domain.User
		given(&u, &domain.UserRegistered{UserID: "target", IsActive: true, IsStaff: staff})
		return &u
	}
	for _, tc := range []struct {
		name  string
		u     *domain.User
		actor domain.Actor
		code  string
	}{
		{"staff deletes an ordinary user", reg(false), domain.Actor{ID: "s", Staff: true}, ""},
		{"staff may not delete staff", reg(true), domain.Actor{ID: "s", Staff: true}, domain.EFORBIDDEN},
		{"superuser deletes staff", reg(true), domain.Actor{ID: "s", Staff: true, Superuser: true}, ""},
		{"nobody deletes themselves here", reg(true), domain.Actor{ID: "target", Staff: true, Superuser: true}, domain.EFORBIDDEN},
		{"a regular user may not delete", reg(false), domain.Actor{ID: "u"}, domain.EFORBIDDEN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := tc.u.Delete(tc.actor)
			if domain.ErrorCode(err) != tc.code {
				t.Fatalf("error %v, want %q", err, tc.code)
			}
			if tc.code == "" {
				if _, ok := ev.(*domain.UserDeleted); !ok {
					t.Fatalf("event %#v", ev)
				}
				after := tc.u.With(ev)
				if after.Exists() || after.ActiveSuperuser() {
					t.Fatal("a deleted user still exists")
				}
			}
		})
	}
}

func TestSelfServiceProfile(t *testing.T) {
	t.Parallel()
	var u domain.User
	given(&u, &domain.UserRegistered{UserID: "me", FirstName: "A", IsActive: true})
	ev, err := u.UpdateOwnProfile(domain.ProfileChanges{FirstName: strp("A"), Bio: strp("hi")})
	if err != nil || !reflect.DeepEqual(ev, &domain.UserProfileUpdated{Bio: strp("hi")}) {
		t.Fatalf("%#v %v", ev, err)
	}
	if ev, err := u.UpdateOwnProfile(domain.ProfileChanges{FirstName: strp("A")}); ev != nil || err != nil {
		t.Fatalf("no-op: %#v %v", ev, err)
	}
}

func TestSuperuserRoster(t *testing.T) {
	t.Parallel()
	var r domain.SuperuserRoster
	given(&r, &domain.SuperuserAdded{UserID: "a"})
	if _, err := r.Remove("a"); domain.ErrorCode(err) != domain.ECONFLICT {
		t.Fatalf("removing the last superuser: %v", err)
	}
	if ev := r.Add("a"); ev != nil {
		t.Fatal("adding a listed superuser again")
	}
	given(&r, &domain.SuperuserAdded{UserID: "a"}, &domain.SuperuserAdded{UserID: "b"})
	ev, err := r.Remove("a")
	if err != nil || !reflect.DeepEqual(ev, &domain.SuperuserRemoved{UserID: "a"}) {
		t.Fatalf("remove one of two: %#v %v", ev, err)
	}
	if ev, err := r.Remove("zz"); ev != nil || err != nil {
		t.Fatalf("remove someone unlisted: %#v %v", ev, err)
	}
}
