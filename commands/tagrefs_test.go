package commands_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"inkwell/commands"
	"inkwell/domain"
	"inkwell/eventstore/memstore"
)

// loadCounter is the log as the commands see it, counting the loads of
// each stream.
type loadCounter struct {
	log   *memstore.Store
	mu    sync.Mutex
	loads map[domain.StreamID]int
}

func (s *loadCounter) Load(ctx context.Context, id domain.StreamID) ([]domain.Record, domain.Position, error) {
	s.mu.Lock()
	s.loads[id]++
	s.mu.Unlock()
	return s.log.Load(ctx, id)
}

func (s *loadCounter) Append(ctx context.Context, id domain.StreamID, pos domain.Position, meta domain.Meta, events ...domain.Event) ([]domain.Record, error) {
	return s.log.Append(ctx, id, pos, meta, events...)
}

func (s *loadCounter) ClaimStream(kind, value string) domain.StreamID {
	return s.log.ClaimStream(kind, value)
}

// count returns how many times the streams ids were loaded since the last
// count.
func (s *loadCounter) count(ids ...domain.StreamID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range ids {
		n += s.loads[id]
	}
	clear(s.loads)
	return n
}

// A tag named by its id, by a slug or name whose slug claim it holds, or by
// a name that cannot be a slug, resolves to it for good: naming it again
// reads nothing of the log. A reference to no tag is looked up each time (a
// tag made later may answer to it).
func TestTagReferencesRemembered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &loadCounter{log: memstore.New(), loads: map[domain.StreamID]int{}}
	f := newFixture(t)
	cmds := commands.New(commands.Deps{Store: s, Hasher: f.hasher, Now: f.clock.Now, ClaimGrace: time.Minute})
	actor := domain.Actor{ID: "00000000-0000-7000-8000-0000000000a1"}
	tag := func(name string) string {
		res, err := cmds.CreateTag.Handle(ctx, commands.CreateTag{Actor: actor, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	golang, cpp := tag("Go Lang"), tag("C++") // C++'s slug is "c": its name is no slug
	looked := func(refs ...string) []domain.StreamID {
		ids := []domain.StreamID{domain.TagStream(golang), domain.TagStream(cpp)}
		for _, r := range refs {
			ids = append(ids, s.ClaimStream(domain.ClaimTagSlug, r), s.ClaimStream(domain.ClaimTagName, r))
		}
		return ids
	}
	create := func(tags ...string) error {
		_, err := cmds.CreateArticle.Handle(ctx, commands.CreateArticle{Actor: actor, Input: domain.ArticleInput{
			Title: "Tagged", Content: "words", Tags: tags}})
		return err
	}

	for _, refs := range [][]string{{"Go Lang"}, {"go-lang"}, {golang}, {"c++", cpp}} {
		if err := create(refs...); err != nil {
			t.Fatal(err)
		}
		s.count()
		if err := create(refs...); err != nil {
			t.Fatal(err)
		}
		if n := s.count(looked(refs...)...); n != 0 {
			t.Errorf("tags %q named again: %d loads of the tag and its claims, want 0", refs, n)
		}
	}

	var e *domain.Error
	if err := create("Rust"); !errors.As(err, &e) || e.Code != domain.EINVALID {
		t.Fatalf("an unknown tag: %v, want EINVALID", err)
	}
	rust := tag("Rust")
	res, err := cmds.CreateArticle.Handle(ctx, commands.CreateArticle{Actor: actor, Input: domain.ArticleInput{
		Title: "Rusty", Content: "words", Tags: []string{"Rust"}}})
	if err != nil {
		t.Fatalf("a tag made after a reference to it was refused: %v", err)
	}
	a, _ := rebuild[domain.Article](t, s.log, domain.ArticleStream(res.ID))
	if got := a.Tags(); len(got) != 1 || got[0] != rust {
		t.Fatalf("tags %q, want [%s]", got, rust)
	}
}

// An imported tag's slug is a slug (which tagRefs relies on): another is a
// field problem, and records nothing.
func TestImportedTagSlugIsASlug(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	im := commands.NewImports(commands.Deps{Store: f.store, Hasher: f.hasher, Now: f.clock.Now})
	for _, slug := range []string{"Go Lang", "go_lang", "", "-go"} {
		_, err := im.ImportTag(context.Background(), "django", "t1", "Go Lang", slug, f.clock.Now(), domain.Meta{})
		var e *domain.Error
		if !errors.As(err, &e) || e.Code != domain.EINVALID || e.Fields["slug"] == "" {
			t.Errorf("slug %q: %v, want EINVALID naming the slug", slug, err)
		}
	}
	if h := f.head(t); h != 0 {
		t.Fatalf("the log holds %d events after refused imports, want none", h)
	}
}
