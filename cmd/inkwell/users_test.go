package main_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
	"inkwell/domain"
	"inkwell/reactors"
)

// Every /api/users/ endpoint and role command for each kind of caller; a
// refused write appends nothing.
func TestUserAdminAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	user := s.registerUser(t, "regular").AccessToken
	super := s.createAdmin(t, "super").AccessToken
	s.registerUser(t, "staffer")
	expect(t, s.request(t, "PATCH", "/api/users/staffer/", super, map[string]any{"is_staff": true}), 200)
	staff := s.login(t, "staffer").AccessToken
	callers := []struct{ name, token string }{{"anonymous", ""}, {"user", user}, {"staff", staff}, {"superuser", super}}

	n := 0
	target := func(staffTarget bool) string {
		n++
		name := fmt.Sprintf("target%d", n)
		s.registerUser(t, name)
		if staffTarget {
			expect(t, s.request(t, "PATCH", "/api/users/"+name+"/", super, map[string]any{"is_staff": true}), 200)
		}
		return name
	}
	type endpoint struct {
		name, method, path string
		body               any
		staffTarget        bool
		want               [4]int // anonymous, user, staff, superuser
	}
	for _, ep := range []endpoint{
		{"list", "GET", "/api/users/", nil, false, [4]int{401, 403, 200, 200}},
		{"retrieve", "GET", "/api/users/%s/", nil, false, [4]int{401, 403, 200, 200}},
		{"edit an ordinary user", "PATCH", "/api/users/%s/", map[string]any{"bio": "edited"}, false, [4]int{401, 403, 200, 200}},
		{"disable an ordinary user", "PATCH", "/api/users/%s/", map[string]any{"is_active": false}, false, [4]int{401, 403, 200, 200}},
		{"edit a staff member", "PATCH", "/api/users/%s/", map[string]any{"bio": "edited"}, true, [4]int{401, 403, 403, 200}},
		{"grant staff", "PATCH", "/api/users/%s/", map[string]any{"is_staff": true}, false, [4]int{401, 403, 403, 200}},
		{"grant superuser", "PATCH", "/api/users/%s/", map[string]any{"is_superuser": true}, false, [4]int{401, 403, 403, 200}},
		{"remove staff", "PATCH", "/api/users/%s/", map[string]any{"is_staff": false}, true, [4]int{401, 403, 403, 200}},
		{"delete an ordinary user", "DELETE", "/api/users/%s/", nil, false, [4]int{401, 403, 204, 204}},
		{"delete a staff member", "DELETE", "/api/users/%s/", nil, true, [4]int{401, 403, 403, 204}},
	} {
		for i, c := range callers {
			t.Run(ep.name+" as "+c.name, func(t *testing.T) {
				path := ep.path
				if strings.Contains(path, "%s") {
					path = fmt.Sprintf(path, target(ep.staffTarget))
				}
				before := s.head(t)
				r := s.request(t, ep.method, path, c.token, ep.body)
				if r.Status != ep.want[i] {
					t.Fatalf("status %d, want %d: %s", r.Status, ep.want[i], r.Body)
				}
				if r.Status >= 400 && s.head(t) != before {
					t.Fatal("a refused request appended events")
				}
				if strings.Contains(string(r.Body), "argon2") || strings.Contains(string(r.Body), "password") {
					t.Fatalf("response shows a password: %s", r.Body)
				}
			})
		}
	}
	t.Run("nobody disables or deletes themselves", func(t *testing.T) {
		s.appendsNothing(t, "self-disable", func() {
			expect(t, s.request(t, "PATCH", "/api/users/super/", super, map[string]any{"is_active": false}), 403)
			expect(t, s.request(t, "DELETE", "/api/users/super/", super, nil), 403)
			expect(t, s.request(t, "DELETE", "/api/users/staffer/", staff, nil), 403)
		})
	})
	t.Run("fields the endpoint does not take", func(t *testing.T) {
		name := target(false)
		s.appendsNothing(t, "changing username, email or password", func() {
			for _, f := range []string{"username", "email", "password", "date_joined"} {
				expect(t, s.request(t, "PATCH", "/api/users/"+name+"/", super, map[string]any{f: "x"}), 422)
			}
		})
	})
	t.Run("list filters, search and ordering", func(t *testing.T) {
		l := expect(t, s.request(t, "GET", "/api/users/?is_staff=true&ordering=-username", super, nil), 200).Map(t)
		items := l["items"].([]any)
		if len(items) < 2 || items[0].(map[string]any)["username"].(string) < items[1].(map[string]any)["username"].(string) {
			t.Fatalf("staff list %v", l)
		}
		for _, it := range items {
			if it.(map[string]any)["is_staff"] != true {
				t.Fatalf("non-staff in a staff filter: %v", it)
			}
		}
		l = expect(t, s.request(t, "GET", "/api/users/?search=REGULAR", super, nil), 200).Map(t)
		if l["count"] != float64(1) {
			t.Fatalf("search: %v", l)
		}
		expect(t, s.request(t, "GET", "/api/users/?ordering=password", super, nil), 422)
		expect(t, s.request(t, "GET", "/api/users/?is_active=perhaps", super, nil), 422)
	})
}

func TestLastSuperuserStays(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	first := s.createAdmin(t, "first").AccessToken
	s.appendsNothing(t, "demoting the last superuser", func() {
		expect(t, s.request(t, "PATCH", "/api/users/first/", first, map[string]any{"is_superuser": false}), 409)
	})
	s.createAdmin(t, "second")
	second := s.login(t, "second").AccessToken
	expect(t, s.request(t, "PATCH", "/api/users/first/", second, map[string]any{"is_superuser": false}), 200)
	s.appendsNothing(t, "demoting the new last superuser", func() {
		expect(t, s.request(t, "PATCH", "/api/users/second/", second, map[string]any{"is_superuser": false}), 409)
	})
	// The demoted one is still staff, and staff cannot touch a superuser.
	expect(t, s.request(t, "PATCH", "/api/users/second/", first, map[string]any{"is_active": false}), 403)
}

// Changes to an account take effect on the very next request, whatever
// tokens were issued before.
func TestAccountChangesAreImmediate(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	super := s.createAdmin(t, "super").AccessToken
	victim := s.registerUser(t, "victim")
	expect(t, s.request(t, "GET", "/api/auth/me/", victim.AccessToken, nil), 200)

	expect(t, s.request(t, "PATCH", "/api/users/victim/", super, map[string]any{"is_active": false}), 200)
	expect(t, s.request(t, "GET", "/api/auth/me/", victim.AccessToken, nil), 401)
	expect(t, s.request(t, "POST", "/api/auth/refresh/", "", map[string]string{"refresh_token": victim.RefreshToken}), 401)
	expect(t, s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": "victim", "password": "password-victim"}), 401)
	// Enabling the account again does not revive the sessions it had.
	expect(t, s.request(t, "PATCH", "/api/users/victim/", super, map[string]any{"is_active": true}), 200)
	expect(t, s.request(t, "GET", "/api/auth/me/", victim.AccessToken, nil), 401)
	victim = s.login(t, "victim")
	expect(t, s.request(t, "GET", "/api/auth/me/", victim.AccessToken, nil), 200)

	// A demoted staff member loses staff access with the token they hold.
	s.registerUser(t, "helper")
	expect(t, s.request(t, "PATCH", "/api/users/helper/", super, map[string]any{"is_staff": true}), 200)
	helper := s.login(t, "helper")
	if !claimsOf(t, helper.AccessToken)["is_staff"].(bool) {
		t.Fatal("a staff member's token does not say so")
	}
	expect(t, s.request(t, "GET", "/api/users/", helper.AccessToken, nil), 200)
	expect(t, s.request(t, "PATCH", "/api/users/helper/", super, map[string]any{"is_staff": false}), 200)
	expect(t, s.request(t, "GET", "/api/users/", helper.AccessToken, nil), 403)

	// A deleted account's tokens stop working and its data leaves the read model.
	expect(t, s.request(t, "DELETE", "/api/users/victim/", super, nil), 204)
	expect(t, s.request(t, "GET", "/api/auth/me/", victim.AccessToken, nil), 401)
	expect(t, s.request(t, "POST", "/api/auth/refresh/", "", map[string]string{"refresh_token": victim.RefreshToken}), 401)
	expect(t, s.request(t, "GET", "/api/users/victim/", super, nil), 404)
	// Its username is free again.
	s.registerUser(t, "victim")
}

func claimsOf(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCustomClaims(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	c := claimsOf(t, s.registerUser(t, "claimy").AccessToken)
	if c["username"] != "claimy" || c["email"] != "claimy@example.com" || c["is_staff"] != false || c["type"] != "access" {
		t.Fatalf("claims %v", c)
	}
	if perms := fmt.Sprint(c["permissions"]); !strings.Contains(perms, "write:articles") || strings.Contains(perms, "manage:users") {
		t.Fatalf("permissions %v", perms)
	}
	a := claimsOf(t, s.createAdmin(t, "boss").AccessToken)
	if a["is_staff"] != true || !strings.Contains(fmt.Sprint(a["permissions"]), "manage:roles") {
		t.Fatalf("admin claims %v", a)
	}
}

func TestSelfServiceProfile(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.registerUser(t, "selfie").AccessToken
	me := expect(t, s.request(t, "PATCH", "/api/auth/me/", tok, map[string]any{"first_name": "Self", "bio": "hello", "avatar": "https://example.com/a.png"}), 200).Map(t)
	if me["first_name"] != "Self" || me["bio"] != "hello" || me["avatar"] != "https://example.com/a.png" {
		t.Fatalf("me %v", me)
	}
	s.appendsNothing(t, "privileged fields through me", func() {
		for _, f := range []string{"is_staff", "is_superuser", "is_active", "username", "email", "password"} {
			expect(t, s.request(t, "PATCH", "/api/auth/me/", tok, map[string]any{f: true}), 422)
		}
		expect(t, s.request(t, "PATCH", "/api/auth/me/", tok, map[string]any{"avatar": "javascript:x"}), 422)
	})
	again := expect(t, s.request(t, "GET", "/api/auth/me/", tok, nil), 200).Map(t)
	if again["is_staff"] != false || again["first_name"] != "Self" {
		t.Fatalf("me after refused changes: %v", again)
	}
	// me is the account as the log has it; the users read model shows it
	// the same, field for field (date_joined to the microsecond included).
	admin := s.createAdmin(t, "selfie-admin").AccessToken
	row := expect(t, s.request(t, "GET", "/api/users/selfie/", admin, nil), 200).Map(t)
	if len(again) != len(row) {
		t.Fatalf("me has %d fields, the read model %d: %v, %v", len(again), len(row), again, row)
	}
	for k, v := range row {
		if again[k] != v {
			t.Errorf("%s: me shows %v, the read model %v", k, again[k], v)
		}
	}
}

// Deleting a user deletes their articles through the cascade reactor, and
// handling the deletion again (a redelivery) changes nothing.
func TestDeletingAUserDeletesTheirArticles(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	super := s.createAdmin(t, "super").AccessToken
	author := s.registerUser(t, "prolific").AccessToken
	other := s.registerUser(t, "bystander").AccessToken
	var ids []string
	for i := 0; i < 3; i++ {
		ids = append(ids, s.createArticle(t, author, map[string]any{"title": fmt.Sprint("Post ", i), "is_published": i != 1})["id"].(string))
	}
	kept := s.createArticle(t, other, map[string]any{"title": "Not theirs", "is_published": true})["id"].(string)

	expect(t, s.request(t, "DELETE", "/api/users/prolific/", super, nil), 204)
	// The cascade runs after the deletion's answer: wait for it.
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		for s.request(t, "GET", "/api/articles/"+id+"/", super, nil).Status != 404 {
			if time.Now().After(deadline) {
				t.Fatalf("article %s of a deleted user remains", id)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	expect(t, s.request(t, "GET", "/api/articles/"+kept+"/", "", nil), 200)

	// Deliver the deletion to the cascade a second time.
	ctx := context.Background()
	var deleted domain.Record
	for seq := s.head(t); seq > 0; seq-- {
		rec, err := s.Store.Get(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rec.Event.(*domain.UserDeleted); ok {
			deleted = rec
			break
		}
	}
	if deleted.ID == "" {
		t.Fatal("no user.deleted event in the log")
	}
	cascade := &reactors.Cascade{Commands: s.Commands, Users: s.Queries.CurrentUser, Articles: s.Articles, ReadModels: s.Projection}
	s.appendsNothing(t, "a redelivered deletion", func() {
		if err := cascade.Handle(ctx, deleted); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if err := cascade.Handle(ctx, deleted); err != nil {
				t.Fatalf("article %s: %v", id, err)
			}
		}
	})
	// An article whose creation landed after its author's deletion is deleted too.
	authorID := deleted.Stream.ID
	late := "00000000-0000-7000-8000-00000000714e"
	recs, err := s.Store.Append(ctx, domain.ArticleStream(late), domain.Position{}, domain.Meta{ActorID: authorID},
		&domain.ArticleCreated{ArticleID: late, Title: "Late", Slug: "late-post", AuthorID: authorID, Tags: []string{}, CreatedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := cascade.Handle(ctx, recs[0]); err != nil {
		t.Fatal(err)
	}
	got, _, err := s.Store.Load(ctx, domain.ArticleStream(late))
	if err != nil || len(got) != 2 || got[1].Type != "article.deleted" {
		t.Fatalf("late article: %+v, %v", got, err)
	}
}

func TestArticleDeletePolicyStaffOnly(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *main.Config) { c.ArticleDelete = "staff" })
	admin := s.createAdmin(t, "admin").AccessToken
	tok := s.registerUser(t, "owner").AccessToken
	id := s.createArticle(t, tok, map[string]any{"title": "Mine"})["id"].(string)
	s.appendsNothing(t, "an owner's delete under the staff policy", func() {
		expect(t, s.request(t, "DELETE", "/api/articles/"+id+"/", tok, nil), 403)
	})
	expect(t, s.request(t, "DELETE", "/api/articles/"+id+"/", admin, nil), 204)
}

func runCLI(t testing.TB, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := main.Run(context.Background(), args, getenvOf(env), strings.NewReader(""), &out, &errOut)
	return out.String() + errOut.String(), err
}

// runWithContext runs the binary's Run with ctx, writing standard output to stdout.
func runWithContext(ctx context.Context, env map[string]string, stdout io.Writer, args ...string) error {
	return main.Run(ctx, args, getenvOf(env), strings.NewReader(""), stdout, io.Discard)
}

func getenvOf(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func TestCreateSuperuser(t *testing.T) {
	t.Parallel()
	t.Run("with the server stopped", func(t *testing.T) {
		dir := t.TempDir()
		out, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": dir, "INKWELL_PASSWORD": "root-password-1"},
			"createsuperuser", "--username", "root", "--email", "root@example.com")
		if err != nil || !strings.Contains(out, `Superuser "root" created`) {
			t.Fatalf("%v: %s", err, out)
		}
		s := startServer(t, func(c *main.Config) { c.DataDir = dir })
		tk := s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": "root", "password": "root-password-1"})
		var tok tokens
		expect(t, tk, 200).JSON(t, &tok)
		me := expect(t, s.request(t, "GET", "/api/auth/me/", tok.AccessToken, nil), 200).Map(t)
		if me["is_superuser"] != true || me["is_staff"] != true {
			t.Fatalf("me %v", me)
		}
	})
	t.Run("with the server running, and a duplicate", func(t *testing.T) {
		s := startServer(t)
		env := map[string]string{"INKWELL_DATA_DIR": s.Config.DataDir, "INKWELL_PASSWORD": "root-password-1"}
		out, err := runCLI(t, env, "createsuperuser", "--username", "root", "--email", "root@example.com")
		if err != nil || !strings.Contains(out, `Superuser "root" created`) {
			t.Fatalf("%v: %s", err, out)
		}
		var tok tokens
		expect(t, s.request(t, "POST", "/api/auth/login/", "", map[string]string{"username": "root", "password": "root-password-1"}), 200).JSON(t, &tok)
		expect(t, s.request(t, "GET", "/api/users/", tok.AccessToken, nil), 200)

		_, err = runCLI(t, env, "createsuperuser", "--username", "ROOT", "--email", "other@example.com")
		if err == nil || !strings.Contains(err.Error(), "username already exists") {
			t.Fatalf("duplicate username: %v", err)
		}
		_, err = runCLI(t, env, "createsuperuser", "--username", "other", "--email", "root@example.com")
		if err == nil || !strings.Contains(err.Error(), "email already exists") {
			t.Fatalf("duplicate email: %v", err)
		}
	})
	t.Run("without a password", func(t *testing.T) {
		_, err := runCLI(t, map[string]string{"INKWELL_DATA_DIR": t.TempDir()}, "createsuperuser", "--username", "x", "--email", "x@example.com")
		if err == nil || !strings.Contains(err.Error(), "INKWELL_PASSWORD") {
			t.Fatalf("no password: %v", err)
		}
	})
}

// Each 403 names what was refused, not another endpoint's rule.
func TestRefusalsNameWhatWasRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.registerUser(t, "plain").AccessToken
	for _, c := range []struct {
		method, path string
		body         any
		want         string
	}{
		{"GET", "/api/events/stream/", nil, "event stream"},
		{"GET", "/api/users/", nil, "list users"},
		{"DELETE", "/api/users/plain/", nil, "delete user accounts"},
		{"POST", "/api/categories/", map[string]string{"name": "News"}, "create categories"},
	} {
		r := expect(t, s.request(t, c.method, c.path, tok, c.body), 403)
		if detail, _ := r.Map(t)["detail"].(string); !strings.Contains(detail, c.want) {
			t.Errorf("%s %s: detail %q does not say %q", c.method, c.path, detail, c.want)
		}
	}
}
