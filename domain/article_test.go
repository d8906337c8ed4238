package domain_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"inkwell/domain"
)

var (
	author = domain.Actor{ID: "author"}
	other  = domain.Actor{ID: "other"}
	staff  = domain.Actor{ID: "staff", Staff: true}
	nobody = domain.Actor{}
	later  = now.Add(time.Hour)
)

func created(published bool) *domain.ArticleCreated {
	e := &domain.ArticleCreated{ArticleID: "a1", Title: "Hello", Slug: "hello", Content: "Some words here",
		Excerpt: "Some words here", ExcerptAuto: true, AuthorID: "author", Tags: []string{}, CreatedAt: now}
	if published {
		t := now
		e.IsPublished, e.PublishedAt = true, &t
	}
	return e
}

func strp(s string) *string { return &s }
func boolp(b bool) *bool    { return &b }
func u64(v uint64) *uint64  { return &v }

func TestArticleCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		actor  domain.Actor
		in     domain.ArticleInput
		then   domain.Event
		code   string
		fields []string
	}{
		{name: "a draft, excerpt from content", actor: author, in: domain.ArticleInput{Title: " Hello ", Content: "Some   words\nhere"},
			then: &domain.ArticleCreated{ArticleID: "a1", Title: "Hello", Slug: "hello", Content: "Some   words\nhere",
				Excerpt: "Some words here", ExcerptAuto: true, AuthorID: "author", Tags: []string{}, CreatedAt: now}},
		{name: "published at once", actor: author, in: domain.ArticleInput{Title: "Hello", Content: "Some words here", IsPublished: true}, then: created(true)},
		{name: "the author is the actor, whoever asks", actor: other, in: domain.ArticleInput{Title: "Hello", Content: "Some words here"},
			then: func() domain.Event { e := created(false); e.AuthorID = "other"; return e }()},
		{name: "duplicate tags are one", actor: author, in: domain.ArticleInput{Title: "Hello", Content: "Some words here", Tags: []string{"t1", "t2", "t1"}},
			then: func() domain.Event { e := created(false); e.Tags = []string{"t1", "t2"}; return e }()},
		{name: "anonymous", actor: nobody, in: domain.ArticleInput{Title: "Hello"}, code: domain.EUNAUTHORIZED},
		{name: "empty title", actor: author, in: domain.ArticleInput{Title: "   "}, code: domain.EINVALID, fields: []string{"title"}},
		{name: "title over 200", actor: author, in: domain.ArticleInput{Title: strings.Repeat("t", 201)}, code: domain.EINVALID, fields: []string{"title"}},
		{name: "excerpt over 300", actor: author, in: domain.ArticleInput{Title: "t", Excerpt: strings.Repeat("e", 301)}, code: domain.EINVALID, fields: []string{"excerpt"}},
		{name: "bad cover image", actor: author, in: domain.ArticleInput{Title: "t", CoverImage: "ftp://x/y.png"}, code: domain.EINVALID, fields: []string{"cover_image"}},
		{name: "bad slug", actor: author, in: domain.ArticleInput{Title: "t", Slug: "Not A Slug"}, code: domain.EINVALID, fields: []string{"slug"}},
		{name: "too many tags", actor: author, in: domain.ArticleInput{Title: "t", Tags: make([]string, 21)}, code: domain.EINVALID, fields: []string{"tags"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var a domain.Article
			got, err := a.Create(tc.actor, "a1", tc.in, "hello", now)
			checkDecision(t, got, err, tc.then, tc.code, tc.fields)
		})
	}
}

func checkDecision(t *testing.T, got domain.Event, err error, want domain.Event, code string, fields []string) {
	t.Helper()
	if domain.ErrorCode(err) != code {
		t.Fatalf("error %v, want code %q", err, code)
	}
	for _, f := range fields {
		if domain.ErrorFields(err)[f] == "" {
			t.Errorf("error %v does not name %s", err, f)
		}
	}
	if code == "" && !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}

func TestArticleCommandsAndOwnership(t *testing.T) {
	t.Parallel()
	published := []domain.Event{created(true)}
	draft := []domain.Event{created(false)}
	deleted := []domain.Event{created(true), &domain.ArticleDeleted{}}
	update := func(actor domain.Actor, ifMatch *uint64, c domain.ArticleChanges) func(a *domain.Article) (domain.Event, error) {
		return func(a *domain.Article) (domain.Event, error) { return a.Update(actor, ifMatch, c, later) }
	}
	del := func(actor domain.Actor, staffOnly bool) func(a *domain.Article) (domain.Event, error) {
		return func(a *domain.Article) (domain.Event, error) { return a.Delete(actor, nil, staffOnly) }
	}
	publish := func(actor domain.Actor) func(a *domain.Article) (domain.Event, error) {
		return func(a *domain.Article) (domain.Event, error) { return a.Publish(actor, later) }
	}
	unpublish := func(actor domain.Actor) func(a *domain.Article) (domain.Event, error) {
		return func(a *domain.Article) (domain.Event, error) { return a.Unpublish(actor) }
	}
	checkDecisions(t, domain.ErrorCode, []decision[domain.Article, string]{
		{"author updates the title", published, update(author, nil, domain.ArticleChanges{Title: strp("New")}), &domain.ArticleUpdated{AuthorID: "author", Title: strp("New")}, ""},
		{"staff updates another's article", published, update(staff, nil, domain.ArticleChanges{Title: strp("New")}), &domain.ArticleUpdated{AuthorID: "author", Title: strp("New")}, ""},
		{"another user may not update", published, update(other, nil, domain.ArticleChanges{Title: strp("New")}), nil, domain.EFORBIDDEN},
		{"another user's draft is not found", draft, update(other, nil, domain.ArticleChanges{Title: strp("New")}), nil, domain.ENOTFOUND},
		{"anonymous may not update", published, update(nobody, nil, domain.ArticleChanges{Title: strp("New")}), nil, domain.EUNAUTHORIZED},
		{"no such article", nil, update(author, nil, domain.ArticleChanges{Title: strp("New")}), nil, domain.ENOTFOUND},
		{"a deleted article takes no command", deleted, update(author, nil, domain.ArticleChanges{Title: strp("New")}), nil, domain.ENOTFOUND},
		{"deleted cannot be published", deleted, publish(author), nil, domain.ENOTFOUND},
		{"deleted cannot be deleted again", deleted, del(author, false), nil, domain.ENOTFOUND},
		{"stale If-Match", published, update(author, u64(7), domain.ArticleChanges{Title: strp("New")}), nil, domain.EPRECONDITION},
		{"current If-Match", published, update(author, u64(1), domain.ArticleChanges{Title: strp("New")}), &domain.ArticleUpdated{AuthorID: "author", Title: strp("New")}, ""},
		{"no change, no event", published, update(author, nil, domain.ArticleChanges{Title: strp("Hello")}), nil, ""},
		{"invalid title", published, update(author, nil, domain.ArticleChanges{Title: strp("")}), nil, domain.EINVALID},
		{"new content makes a new excerpt", published, update(author, nil, domain.ArticleChanges{Content: strp("Other text")}),
			&domain.ArticleUpdated{AuthorID: "author", Content: strp("Other text"), Excerpt: strp("Other text")}, ""},
		{"an explicit excerpt stops following the content", published, update(author, nil, domain.ArticleChanges{Excerpt: strp("Mine")}),
			&domain.ArticleUpdated{AuthorID: "author", Excerpt: strp("Mine"), ExcerptAuto: boolp(false)}, ""},
		{"remove the category", []domain.Event{func() domain.Event { e := created(true); e.CategoryID = "c1"; return e }()},
			update(author, nil, domain.ArticleChanges{CategoryID: strp("")}), &domain.ArticleUpdated{AuthorID: "author", CategoryID: strp("")}, ""},
		{"publish through update sets published_at", draft, update(author, nil, domain.ArticleChanges{IsPublished: boolp(true)}),
			&domain.ArticleUpdated{AuthorID: "author", IsPublished: boolp(true), PublishedAt: &later}, ""},
		{"publish a draft", draft, publish(author), &domain.ArticlePublished{PublishedAt: later}, ""},
		{"publish again keeps the first date", []domain.Event{created(true), &domain.ArticleUnpublished{}}, publish(author), &domain.ArticlePublished{PublishedAt: now}, ""},
		{"publish a published article: nothing", published, publish(author), nil, ""},
		{"another user may not publish", published, publish(other), nil, domain.EFORBIDDEN},
		{"unpublish", published, unpublish(author), &domain.ArticleUnpublished{}, ""},
		{"staff unpublishes", published, unpublish(staff), &domain.ArticleUnpublished{}, ""},
		{"author deletes", published, del(author, false), &domain.ArticleDeleted{}, ""},
		{"staff deletes", published, del(staff, false), &domain.ArticleDeleted{}, ""},
		{"another user may not delete", published, del(other, false), nil, domain.EFORBIDDEN},
		{"author may not delete when deleting is for staff", published, del(author, true), nil, domain.EFORBIDDEN},
		{"staff deletes when deleting is for staff", published, del(staff, true), &domain.ArticleDeleted{}, ""},
	})
}

func TestArticleVisibility(t *testing.T) {
	t.Parallel()
	var draft, pub, gone domain.Article
	given(&draft, created(false))
	given(&pub, created(true))
	given(&gone, created(true), &domain.ArticleDeleted{})
	for _, tc := range []struct {
		a     *domain.Article
		actor domain.Actor
		want  bool
	}{
		{&pub, nobody, true}, {&pub, other, true},
		{&draft, nobody, false}, {&draft, other, false}, {&draft, author, true}, {&draft, staff, true},
		{&gone, author, false}, {&gone, staff, false},
	} {
		if got := tc.a.CanSee(tc.actor); got != tc.want {
			t.Errorf("CanSee(%+v) = %v, want %v", tc.actor, got, tc.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	t.Parallel()
	if got := domain.Excerpt("  a\n\nb  c "); got != "a b c" {
		t.Fatalf("short: %q", got)
	}
	long := strings.Repeat("word ", 200)
	got := domain.Excerpt(long)
	if n := len([]rune(got)); n > domain.MaxExcerptLen || !strings.HasSuffix(got, "...") || strings.HasSuffix(got, " ...") {
		t.Fatalf("long excerpt %q (%d runes)", got, n)
	}
}

func TestSlugify(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"My Article":            "my-article",
		"  Hello,   World!  ":   "hello-world",
		"Café crème":            "cafe-creme",
		"Go 1.26 -- what's new": "go-1-26-what-s-new",
		"日本語":                   "article",
	} {
		if got := domain.Slugify(in, "article"); got != want {
			t.Errorf("Slugify(%q) = %q, want %q", in, got, want)
		}
		if got := domain.Slugify(in, "article"); !domain.ValidSlug(got) {
			t.Errorf("Slugify(%q) = %q is not a valid slug", in, got)
		}
	}
	if s := domain.Slugify(strings.Repeat("ab ", 200), "x"); len(s) > domain.MaxSlugLen-10 || !domain.ValidSlug(s) {
		t.Errorf("long slug %q", s)
	}
	for _, bad := range []string{"", "-a", "a-", "a--b", "A", "a b", "ä"} {
		if domain.ValidSlug(bad) {
			t.Errorf("ValidSlug(%q) = true", bad)
		}
	}
}

func TestCategoryAndTagRules(t *testing.T) {
	t.Parallel()
	var c domain.Category
	if _, err := c.Create(author, "c1", domain.CategoryInput{Name: "News"}, "news", now); domain.ErrorCode(err) != domain.EFORBIDDEN {
		t.Fatalf("non-staff creates a category: %v", err)
	}
	if _, err := c.Create(nobody, "c1", domain.CategoryInput{Name: "News"}, "news", now); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Fatalf("anonymous creates a category: %v", err)
	}
	if _, err := c.Create(staff, "c1", domain.CategoryInput{Name: " "}, "news", now); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("empty name: %v", err)
	}
	ev, err := c.Create(staff, "c1", domain.CategoryInput{Name: "News", Description: "d"}, "news", now)
	if err != nil {
		t.Fatal(err)
	}
	given(&c, ev)
	if ev, err := c.Update(staff, domain.CategoryChanges{Name: strp("News")}); ev != nil || err != nil {
		t.Fatalf("no-op update: %v %v", ev, err)
	}
	if _, err := c.Update(author, domain.CategoryChanges{Name: strp("X")}); domain.ErrorCode(err) != domain.EFORBIDDEN {
		t.Fatalf("non-staff updates: %v", err)
	}
	del, err := c.Delete(staff)
	if err != nil {
		t.Fatal(err)
	}
	given(&c, ev, del)
	if _, err := c.Delete(staff); domain.ErrorCode(err) != domain.ENOTFOUND {
		t.Fatalf("delete twice: %v", err)
	}

	var tag domain.Tag
	if _, err := tag.Create(nobody, "t1", "go", "go", now); domain.ErrorCode(err) != domain.EUNAUTHORIZED {
		t.Fatalf("anonymous creates a tag: %v", err)
	}
	if _, err := tag.Create(author, "t1", strings.Repeat("x", 51), "x", now); domain.ErrorCode(err) != domain.EINVALID {
		t.Fatalf("long tag: %v", err)
	}
	if ev, err := tag.Create(author, "t1", " Go ", "go", now); err != nil || ev.(*domain.TagCreated).Name != "Go" {
		t.Fatalf("any user creates a tag: %v %v", ev, err)
	}
}
