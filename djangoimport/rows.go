package djangoimport

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"inkwell/auth"
	"inkwell/domain"
)

// The rows of a Django database as the import records them, and the
// checks against Inkwell's rules made before anything is recorded.

// User is a row of the user table.
type User struct {
	Key     string
	Account domain.ImportedAccount
	// LastLogin is read for the report only: Inkwell keeps no such time.
	LastLogin *time.Time
}

// Category is a row of the category table.
type Category struct {
	Key       string
	Input     domain.CategoryInput
	CreatedAt time.Time
}

// Tag is a row of the tag table.
type Tag struct {
	Key, Name, Slug string
	CreatedAt       time.Time
}

// Article is a row of the article table with its tags' keys.
type Article struct {
	Key         string
	AuthorKey   string
	CategoryKey string // "" for none
	TagKeys     []string
	Input       domain.ImportedArticle // AuthorID, CategoryID and Tags are filled when recorded
}

// Data is what the import read.
type Data struct {
	Users      []User
	Categories []Category
	Tags       []Tag
	Articles   []Article
}

// Problem is a row that breaks one of Inkwell's rules (or a notice about
// one): the table, the row's key and the rule.
type Problem struct {
	Table, Key, Rule string
}

func (p Problem) String() string { return fmt.Sprintf("%s %s: %s", p.Table, p.Key, p.Rule) }

// Read reads every row the import records. A row whose times cannot be
// read is a problem, not an error.
func (s *Source) Read(ctx context.Context) (*Data, []Problem, error) {
	t := s.Tables
	d := &Data{}
	var problems []Problem
	bad := func(table, key string, err error) {
		problems = append(problems, Problem{table, key, err.Error()})
	}
	users, err := s.readTable(ctx, t.User, "id",
		[]string{"id", "password", "username", "email", "is_active", "is_staff", "is_superuser", "date_joined"},
		[]string{"first_name", "last_name", "bio", "avatar", "last_login"})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range users {
		joined, err := r.time("date_joined")
		if err == nil && joined == nil {
			err = fmt.Errorf("date_joined is empty")
		}
		if err != nil {
			bad(t.User, r.key("id"), err)
			continue
		}
		last, _ := r.time("last_login")
		d.Users = append(d.Users, User{Key: r.key("id"), LastLogin: last, Account: domain.ImportedAccount{
			User: domain.NewUser{Username: r.str("username"), Email: r.str("email"), FirstName: r.str("first_name"),
				LastName: r.str("last_name"), Bio: r.str("bio"), Avatar: r.str("avatar"),
				Staff: r.boolean("is_staff"), Superuser: r.boolean("is_superuser")},
			PasswordHash: r.str("password"), Active: r.boolean("is_active"), DateJoined: *joined,
		}})
	}

	cats, err := s.readTable(ctx, t.Category, "id", []string{"id", "name", "slug"}, []string{"description", "created_at"})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range cats {
		created, err := r.time("created_at")
		if err != nil {
			bad(t.Category, r.key("id"), err)
			continue
		}
		c := Category{Key: r.key("id"), Input: domain.CategoryInput{Name: r.str("name"), Slug: r.str("slug"), Description: r.str("description")}}
		if created != nil {
			c.CreatedAt = *created
		}
		d.Categories = append(d.Categories, c)
	}

	tags, err := s.readTable(ctx, t.Tag, "id", []string{"id", "name"}, []string{"slug", "created_at"})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range tags {
		created, err := r.time("created_at")
		if err != nil {
			bad(t.Tag, r.key("id"), err)
			continue
		}
		tg := Tag{Key: r.key("id"), Name: r.str("name"), Slug: r.str("slug")}
		if tg.Slug == "" {
			tg.Slug = domain.Slugify(tg.Name, "tag")
		}
		if created != nil {
			tg.CreatedAt = *created
		}
		d.Tags = append(d.Tags, tg)
	}

	links, err := s.readTable(ctx, t.ArticleTag, "id", []string{"article_id", "tag_id"}, nil)
	if err != nil {
		return nil, nil, err
	}
	tagsOf := map[string][]string{}
	for _, r := range links {
		tagsOf[r.key("article_id")] = append(tagsOf[r.key("article_id")], r.key("tag_id"))
	}

	arts, err := s.readTable(ctx, t.Article, "id",
		[]string{"id", "title", "slug", "content", "author_id", "is_published", "created_at"},
		[]string{"excerpt", "category_id", "cover_image", "published_at"})
	if err != nil {
		return nil, nil, err
	}
	for _, r := range arts {
		created, err := r.time("created_at")
		if err == nil && created == nil {
			err = fmt.Errorf("created_at is empty")
		}
		if err != nil {
			bad(t.Article, r.key("id"), err)
			continue
		}
		published, err := r.time("published_at")
		if err != nil {
			bad(t.Article, r.key("id"), err)
			continue
		}
		key := r.key("id")
		d.Articles = append(d.Articles, Article{Key: key, AuthorKey: r.key("author_id"), CategoryKey: r.key("category_id"),
			TagKeys: tagsOf[key], Input: domain.ImportedArticle{
				Input: domain.ArticleInput{Title: r.str("title"), Slug: r.str("slug"), Content: r.str("content"),
					Excerpt: r.str("excerpt"), CoverImage: r.str("cover_image"), IsPublished: r.boolean("is_published")},
				CreatedAt: *created, PublishedAt: published,
			}})
	}
	return d, problems, nil
}

// Rules says how the checks resolve what breaks a rule.
type Rules struct {
	// KeepFirst imports, of rows that collide (a username, an email, a slug
	// or a tag name that only case or spacing tells apart), the one with
	// the lowest key; by default none of them is.
	KeepFirst bool
	// FixSlugs replaces a slug Inkwell does not accept (upper case,
	// underscores) by its normalized form.
	FixSlugs bool
	// MediaURL, if set, is prefixed to a cover image that is a path (what
	// Django's ImageField keeps, relative to its MEDIA_URL) rather than
	// an http or https URL.
	MediaURL string
}

// collisions finds the rows whose normalized values meet: for each value
// norm gives, the keys that share it, in order.
func collisions(keys []string, values []string, norm func(string) string) map[string][]string {
	byValue := map[string][]string{}
	for i, v := range values {
		n := norm(v)
		byValue[n] = append(byValue[n], keys[i])
	}
	out := map[string][]string{}
	for _, ks := range byValue {
		if len(ks) > 1 {
			for _, k := range ks {
				out[k] = ks
			}
		}
	}
	return out
}

// lowerTrim is how Inkwell compares usernames, emails, slugs and tag names.
func lowerTrim(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// collided records the problem of key, one of the colliding keys of
// group, and reports whether the row is skipped: all of them unless
// keepFirst, then all but the first.
func collided(problems *[]Problem, table, key, what string, group []string, keepFirst bool) bool {
	others := make([]string, 0, len(group)-1)
	for _, k := range group {
		if k != key {
			others = append(others, k)
		}
	}
	keep := keepFirst && group[0] == key
	rule := fmt.Sprintf("%s collides with that of %s %s (unique without regard to case)", what, table, strings.Join(others, ", "))
	if keep {
		rule += "; imported (--keep-first)"
	}
	*problems = append(*problems, Problem{table, key, rule})
	return !keep
}

// fieldProblems turns a validation error into one problem per field.
func fieldProblems(problems *[]Problem, table, key string, err error) {
	fields := domain.ErrorFields(err)
	if len(fields) == 0 {
		*problems = append(*problems, Problem{table, key, domain.ErrorMessage(err)})
		return
	}
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		*problems = append(*problems, Problem{table, key, f + " " + fields[f]})
	}
}

// fixSlug returns slug normalized when rules allow it.
func fixSlug(slug string, rules Rules) string {
	if rules.FixSlugs && !domain.ValidSlug(slug) {
		return domain.Slugify(slug, "item")
	}
	return slug
}

// Check returns the rows of d that keep Inkwell's rules (with what
// Rules resolves), and a problem for every row that breaks one; notices
// are about rows imported all the same (an account whose password hash
// Inkwell cannot check is imported without a usable password).
func Check(d *Data, tables Tables, rules Rules) (kept *Data, problems, notices []Problem) {
	kept = &Data{}
	var keys, names, emails []string
	for _, u := range d.Users {
		keys, names, emails = append(keys, u.Key), append(names, u.Account.User.Username), append(emails, u.Account.User.Email)
	}
	nameClash, emailClash := collisions(keys, names, lowerTrim), collisions(keys, emails, lowerTrim)
	users := map[string]bool{}
	for _, u := range d.Users {
		skip := false
		if err := u.Account.User.Validate(); err != nil {
			fieldProblems(&problems, tables.User, u.Key, err)
			skip = true
		}
		if g := nameClash[u.Key]; g != nil && collided(&problems, tables.User, u.Key, "username", g, rules.KeepFirst) {
			skip = true
		}
		if g := emailClash[u.Key]; g != nil && collided(&problems, tables.User, u.Key, "email", g, rules.KeepFirst) {
			skip = true
		}
		if skip {
			continue
		}
		if scheme := domain.PasswordHashScheme(u.Account.PasswordHash); scheme != "unusable" && !domain.SupportedImportedHash(scheme) {
			notices = append(notices, Problem{tables.User, u.Key, fmt.Sprintf("password hash scheme %q is not one Inkwell checks: imported without a usable password (%s must be given a new one)", scheme, u.Account.User.Username)})
			u.Account.PasswordHash = "!" + scheme
		} else if err := auth.CheckImportedHash(u.Account.PasswordHash); scheme != "unusable" && err != nil {
			notices = append(notices, Problem{tables.User, u.Key, fmt.Sprintf("password hash is malformed (%v): imported without a usable password (%s must be given a new one)", err, u.Account.User.Username)})
			u.Account.PasswordHash = "!" + scheme
		}
		users[u.Key] = true
		kept.Users = append(kept.Users, u)
	}

	keys, names = nil, nil
	for i := range d.Categories {
		c := &d.Categories[i]
		c.Input.Slug = fixSlug(c.Input.Slug, rules)
		keys, names = append(keys, c.Key), append(names, c.Input.Slug)
	}
	slugClash := collisions(keys, names, lowerTrim)
	categories := map[string]bool{}
	for _, c := range d.Categories {
		skip := false
		if c.Input.Slug == "" {
			problems = append(problems, Problem{tables.Category, c.Key, "slug is empty"})
			skip = true
		} else if err := c.Input.Validate(); err != nil {
			fieldProblems(&problems, tables.Category, c.Key, err)
			skip = true
		}
		if g := slugClash[c.Key]; g != nil && collided(&problems, tables.Category, c.Key, "slug", g, rules.KeepFirst) {
			skip = true
		}
		if !skip {
			categories[c.Key] = true
			kept.Categories = append(kept.Categories, c)
		}
	}

	keys, names, emails = nil, nil, nil
	for i := range d.Tags {
		t := &d.Tags[i]
		t.Slug = fixSlug(t.Slug, rules)
		keys, names, emails = append(keys, t.Key), append(names, t.Name), append(emails, t.Slug)
	}
	tagNameClash, tagSlugClash := collisions(keys, names, lowerTrim), collisions(keys, emails, lowerTrim)
	tags := map[string]bool{}
	for _, t := range d.Tags {
		skip := false
		if err := domain.ValidateTagName(t.Name); err != nil {
			fieldProblems(&problems, tables.Tag, t.Key, err)
			skip = true
		}
		if !domain.ValidSlug(t.Slug) {
			problems = append(problems, Problem{tables.Tag, t.Key, fmt.Sprintf("slug %q must be lower-case letters, digits and single hyphens (--fix-slugs)", t.Slug)})
			skip = true
		}
		if g := tagNameClash[t.Key]; g != nil && collided(&problems, tables.Tag, t.Key, "name", g, rules.KeepFirst) {
			skip = true
		}
		if g := tagSlugClash[t.Key]; g != nil && collided(&problems, tables.Tag, t.Key, "slug", g, rules.KeepFirst) {
			skip = true
		}
		if !skip {
			tags[t.Key] = true
			kept.Tags = append(kept.Tags, t)
		}
	}

	keys, names = nil, nil
	for i := range d.Articles {
		a := &d.Articles[i]
		a.Input.Input.Slug = fixSlug(a.Input.Input.Slug, rules)
		if c := a.Input.Input.CoverImage; rules.MediaURL != "" && c != "" && !strings.HasPrefix(c, "http://") && !strings.HasPrefix(c, "https://") {
			a.Input.Input.CoverImage = strings.TrimSuffix(rules.MediaURL, "/") + "/" + strings.TrimPrefix(c, "/")
		}
		keys, names = append(keys, a.Key), append(names, a.Input.Input.Slug)
	}
	slugClash = collisions(keys, names, lowerTrim)
	for _, a := range d.Articles {
		skip := false
		if a.Input.Input.Slug == "" {
			problems = append(problems, Problem{tables.Article, a.Key, "slug is empty"})
			skip = true
		} else if err := a.Input.Input.Validate(); err != nil {
			fieldProblems(&problems, tables.Article, a.Key, err)
			skip = true
		}
		if g := slugClash[a.Key]; g != nil && collided(&problems, tables.Article, a.Key, "slug", g, rules.KeepFirst) {
			skip = true
		}
		if !users[a.AuthorKey] {
			problems = append(problems, Problem{tables.Article, a.Key, fmt.Sprintf("author %s %s is missing or not imported", tables.User, a.AuthorKey)})
			skip = true
		}
		if a.CategoryKey != "" && !categories[a.CategoryKey] {
			problems = append(problems, Problem{tables.Article, a.Key, fmt.Sprintf("category %s %s is missing or not imported", tables.Category, a.CategoryKey)})
			skip = true
		}
		for _, tk := range a.TagKeys {
			if !tags[tk] {
				problems = append(problems, Problem{tables.Article, a.Key, fmt.Sprintf("tag %s %s is missing or not imported", tables.Tag, tk)})
				skip = true
			}
		}
		if !skip {
			kept.Articles = append(kept.Articles, a)
		}
	}
	return kept, problems, notices
}
