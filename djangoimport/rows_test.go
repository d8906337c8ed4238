package djangoimport_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"inkwell/djangoimport"
	"inkwell/domain"
)

var tables = djangoimport.Tables{App: "blog", User: "blog_user", Category: "blog_category", Tag: "blog_tag", Article: "blog_article", ArticleTag: "blog_article_tags"}

func user(key, username, email string) djangoimport.User {
	return djangoimport.User{Key: key, Account: domain.ImportedAccount{User: domain.NewUser{Username: username, Email: email},
		PasswordHash: "pbkdf2_sha256$260000$salt$AAAA", Active: true, DateJoined: time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)}}
}

func article(key, author, slug string) djangoimport.Article {
	return djangoimport.Article{Key: key, AuthorKey: author, Input: domain.ImportedArticle{
		Input: domain.ArticleInput{Title: "Title " + key, Slug: slug, Content: "x"}, CreatedAt: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)}}
}

func keys[T any](rows []T, key func(T) string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, key(r))
	}
	return out
}

// Check keeps the rows that keep Inkwell's rules and names, for each of
// the others, its key and the rule; what depends on a row left out is left
// out too. The rules' options resolve collisions and slugs.
func TestCheck(t *testing.T) {
	data := func() *djangoimport.Data {
		legacy := user("6", "legacy", "legacy@example.com")
		legacy.Account.PasswordHash = "md5$salt$0123"
		broken := user("7", "broken", "broken@example.com")
		broken.Account.PasswordHash = "pbkdf2_sha256$260000$salt" // no key
		return &djangoimport.Data{
			Users: []djangoimport.User{user("1", "ann", "ann@example.com"), user("2", "Bob", "bob@example.com"),
				user("3", "bob", "bob3@example.com"), user("4", "cy", " ANN@example.com "), user("5", "dee\u200b", "dee@example.com"), legacy, broken},
			Articles: []djangoimport.Article{article("10", "1", "a"), article("11", "3", "b"), article("12", "1", "C_c"),
				article("13", "1", "c-c"), article("14", "99", "d")},
		}
	}
	kept, problems, notices := djangoimport.Check(data(), tables, djangoimport.Rules{})
	var got []string
	for _, p := range problems {
		got = append(got, p.String())
	}
	for _, want := range []string{
		"blog_user 1: email collides with that of blog_user 4 (unique without regard to case)",
		"blog_user 2: username collides with that of blog_user 3 (unique without regard to case)",
		"blog_user 3: username collides with that of blog_user 2 (unique without regard to case)",
		"blog_user 4: email collides with that of blog_user 1 (unique without regard to case)",
		"blog_user 5: username must be 1 to 150 characters: letters, digits and @ . + - _",
		"blog_article 10: author blog_user 1 is missing or not imported",
		"blog_article 11: author blog_user 3 is missing or not imported",
		"blog_article 12: slug must be lower-case letters, digits and single hyphens, at most 200 characters",
		"blog_article 14: author blog_user 99 is missing or not imported",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no problem %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if u := keys(kept.Users, func(u djangoimport.User) string { return u.Key }); !slices.Equal(u, []string{"6", "7"}) {
		t.Errorf("users kept: %v, want [6 7]", u)
	}
	if len(notices) != 2 || notices[0].Key != "6" || !domain.UnusablePasswordHash(kept.Users[0].Account.PasswordHash) {
		t.Errorf("the md5 account: notices %v, hash %q; want a notice and an unusable hash", notices, kept.Users[0].Account.PasswordHash)
	}
	if len(notices) != 2 || notices[1].Key != "7" || !strings.Contains(notices[1].Rule, "malformed") || !domain.UnusablePasswordHash(kept.Users[1].Account.PasswordHash) {
		t.Errorf("the account with a malformed hash: notices %v; want a notice and an unusable hash", notices)
	}
	if a := keys(kept.Articles, func(a djangoimport.Article) string { return a.Key }); len(a) != 0 {
		t.Errorf("articles kept: %v, want none", a)
	}

	// The first of colliding rows, and slugs normalized: article 12's
	// "C_c" becomes "c-c", which article 13 has too.
	kept, _, _ = djangoimport.Check(data(), tables, djangoimport.Rules{KeepFirst: true, FixSlugs: true})
	if u := keys(kept.Users, func(u djangoimport.User) string { return u.Key }); !slices.Equal(u, []string{"1", "2", "6", "7"}) {
		t.Errorf("users kept with KeepFirst: %v, want [1 2 6 7]", u)
	}
	if a := keys(kept.Articles, func(a djangoimport.Article) string { return a.Key }); !slices.Equal(a, []string{"10", "12"}) {
		t.Errorf("articles kept with KeepFirst and FixSlugs: %v, want [10 12]", a)
	}
	if slug := kept.Articles[1].Input.Input.Slug; slug != "c-c" {
		t.Errorf("article 12's slug fixed: %q, want c-c", slug)
	}
}
