package commands_test

import (
	"context"
	"slices"
	"testing"

	"inkwell/commands"
	"inkwell/domain"
)

// articleOf rebuilds the article id from its stream.
func (f *fixture) articleOf(t *testing.T, id string) *domain.Article {
	t.Helper()
	a, _ := rebuild[domain.Article](t, f.store, domain.ArticleStream(id))
	return a
}

// An article's category and tags are resolved by the command, against the
// log alone (no read model is in this fixture): a category by its id or
// slug, a tag by its id, slug or name in any case. A reference to nothing,
// or to what was deleted, is a field problem naming it, and appends
// nothing.
func TestArticleReferencesAreResolvedAgainstTheLog(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	staff := f.superuser(t, "editor")
	category := func(name string) string {
		res, err := f.cmds.CreateCategory.Handle(ctx, commands.CreateCategory{Actor: staff, Input: domain.CategoryInput{Name: name}})
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	tag := func(name string) string {
		res, err := f.cmds.CreateTag.Handle(ctx, commands.CreateTag{Actor: staff, Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return res.ID
	}
	tech, old := category("Tech News"), category("Old Things")
	golang, sql, web := tag("Go Lang"), tag("SQL"), tag("Web")

	res, err := f.cmds.CreateArticle.Handle(ctx, commands.CreateArticle{Actor: staff, Input: domain.ArticleInput{
		Title: "Named by slug", Content: "words", CategoryID: "tech-news",
		Tags: []string{"go-lang", "sql", web},
	}})
	if err != nil {
		t.Fatal(err)
	}
	a := f.articleOf(t, res.ID)
	if a.CategoryID() != tech || !slices.Equal(a.Tags(), []string{golang, sql, web}) {
		t.Fatalf("category %q, tags %q; want %q, %q", a.CategoryID(), a.Tags(), tech, []string{golang, sql, web})
	}

	changedCategory, changedTags := old, []string{"GO LANG", "Sql"}
	if _, err := f.cmds.UpdateArticle.Handle(ctx, commands.UpdateArticle{Actor: staff, ID: res.ID, Changes: domain.ArticleChanges{
		CategoryID: &changedCategory, Tags: &changedTags,
	}}); err != nil {
		t.Fatal(err)
	}
	a = f.articleOf(t, res.ID)
	if a.CategoryID() != old || !slices.Equal(a.Tags(), []string{golang, sql}) {
		t.Fatalf("after the update: category %q, tags %q; want %q, %q", a.CategoryID(), a.Tags(), old, []string{golang, sql})
	}

	if _, err := f.cmds.DeleteCategory.Handle(ctx, commands.DeleteCategory{Actor: staff, ID: old}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, field string
		in          domain.ArticleInput
	}{
		{"no such category", "category", domain.ArticleInput{CategoryID: "sports"}},
		{"a deleted category by its slug", "category", domain.ArticleInput{CategoryID: "old-things"}},
		{"a deleted category by its id", "category", domain.ArticleInput{CategoryID: old}},
		{"a tag's slug as the category", "category", domain.ArticleInput{CategoryID: "web"}},
		{"a category's slug as a tag", "tags", domain.ArticleInput{Tags: []string{"tech-news"}}},
		{"no such tag", "tags", domain.ArticleInput{Tags: []string{"web", "rust"}}},
		{"an id of nothing", "tags", domain.ArticleInput{Tags: []string{"01a2b3c4-0000-7000-8000-000000000000"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := c.in
			in.Title, in.Content = "Refused", "words"
			before := f.head(t)
			_, err := f.cmds.CreateArticle.Handle(ctx, commands.CreateArticle{Actor: staff, Input: in})
			if domain.ErrorCode(err) != domain.EINVALID {
				t.Fatalf("got %v, want a field problem", err)
			}
			if msg := domain.ErrorFields(err)[c.field]; msg == "" {
				t.Fatalf("the problem %v does not name %s", domain.ErrorFields(err), c.field)
			}
			if f.head(t) != before {
				t.Fatal("a refused create appended events")
			}
		})
	}
}
