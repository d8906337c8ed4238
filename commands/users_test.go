package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"inkwell/commands"
	"inkwell/domain"
)

func (f *fixture) superuser(t *testing.T, name string) domain.Actor {
	t.Helper()
	res, err := f.cmds.Register.Handle(context.Background(), commands.Register{
		User:     domain.NewUser{Username: name, Email: name + "@example.com", Staff: true, Superuser: true},
		Password: "password-" + name,
	})
	if err != nil {
		t.Fatal(err)
	}
	return domain.Actor{ID: res.ID, Staff: true, Superuser: true}
}

func TestLastSuperuserStays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	a := f.superuser(t, "a")
	b := f.superuser(t, "b")
	no := false

	// Two superusers remove each other at the same time: one must fail.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, pair := range [][2]domain.Actor{{a, b}, {b, a}} {
		wg.Add(1)
		go func(i int, actor, target domain.Actor) {
			defer wg.Done()
			_, errs[i] = f.cmds.UpdateUser.Handle(ctx, commands.UpdateUser{Actor: actor, ID: target.ID,
				Changes: domain.AdminChanges{Superuser: &no}})
		}(i, pair[0], pair[1])
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, domain.ErrLastSuperuser):
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d of two mutual demotions succeeded, want 1 (errors %v)", ok, errs)
	}
	// Whoever is left cannot be disabled, demoted or deleted by the other,
	// now only staff.
	var left domain.Actor
	for _, s := range []domain.Actor{a, b} {
		u, err := f.queries.CurrentUser.Handle(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if u.Superuser() {
			left = s
		}
	}
	if left.ID == "" {
		t.Fatal("no superuser left")
	}
	c := f.superuser(t, "c")
	if _, err := f.cmds.UpdateUser.Handle(ctx, commands.UpdateUser{Actor: c, ID: left.ID, Changes: domain.AdminChanges{Active: &no}}); err != nil {
		t.Fatalf("disable one of two: %v", err)
	}
	if _, err := f.cmds.UpdateUser.Handle(ctx, commands.UpdateUser{Actor: c, ID: c.ID, Changes: domain.AdminChanges{Superuser: &no}}); !errors.Is(err, domain.ErrLastSuperuser) {
		t.Fatalf("the last active superuser demoted themselves: %v", err)
	}
	yes := true
	if _, err := f.cmds.UpdateUser.Handle(ctx, commands.UpdateUser{Actor: c, ID: left.ID, Changes: domain.AdminChanges{Active: &yes}}); err != nil {
		t.Fatalf("enable again: %v", err)
	}
	if _, err := f.cmds.DeleteUser.Handle(ctx, commands.DeleteUser{Actor: left, ID: c.ID}); err != nil {
		t.Fatalf("delete one of two: %v", err)
	}
}

func TestAdminChangesAppendNothingWhenRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	res := f.mustRegister(t, "plain", "plain@example.com")
	staff := domain.Actor{ID: "00000000-0000-7000-8000-000000000005", Staff: true}
	yes := true
	before := f.head(t)
	for _, cmd := range []commands.UpdateUser{
		{Actor: domain.Actor{ID: res.ID}, ID: res.ID, Changes: domain.AdminChanges{Staff: &yes}},
		{Actor: staff, ID: res.ID, Changes: domain.AdminChanges{Superuser: &yes}},
		{Actor: staff, ID: "not-an-id", Changes: domain.AdminChanges{Staff: &yes}},
	} {
		if _, err := f.cmds.UpdateUser.Handle(ctx, cmd); err == nil {
			t.Fatalf("%+v succeeded", cmd)
		}
	}
	if f.head(t) != before {
		t.Fatal("a refused change appended events")
	}
}
