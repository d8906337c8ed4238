package domain

import (
	"strings"
	"unicode/utf8"
)

// What a new article and an article's change carry, and the checks of it.

// Article limits.
const (
	MaxTitleLen   = 200
	MaxExcerptLen = 300
	MaxContentLen = 200000
	MaxTags       = 20
)

// ArticleInput is the content of a new article. CategoryID and Tags are the
// ids of a live category and live tags: the command handler resolves what
// the caller named them by and checks them against the log before the
// article decides.
type ArticleInput struct {
	Title       string
	Content     string
	Excerpt     string // "" to make one from the content
	CategoryID  string
	Tags        []string
	CoverImage  string
	IsPublished bool
	Slug        string // "" to make one from the title
}

// Validate checks an article's fields: those of the change that would set
// them all.
func (in ArticleInput) Validate() error {
	return ArticleChanges{Title: &in.Title, Slug: unlessEmpty(in.Slug), Content: &in.Content,
		Excerpt: &in.Excerpt, Tags: &in.Tags, CoverImage: &in.CoverImage}.Validate()
}

// Excerpt makes an excerpt from content: its text with whitespace collapsed,
// cut at a word boundary to at most 300 characters (with "..." when cut).
func Excerpt(content string) string {
	text := strings.Join(strings.Fields(content), " ")
	if utf8.RuneCountInString(text) <= MaxExcerptLen {
		return text
	}
	runes := []rune(text)[:MaxExcerptLen-3]
	cut := string(runes)
	if i := strings.LastIndexByte(cut, ' '); i > MaxExcerptLen/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,.;:") + "..."
}

// ArticleChanges is a partial update: nil fields stay as they are. An empty
// Excerpt goes back to an excerpt made from the content; an empty
// CategoryID removes the category.
type ArticleChanges struct {
	Title       *string
	Slug        *string
	Content     *string
	Excerpt     *string
	CategoryID  *string
	Tags        *[]string
	CoverImage  *string
	IsPublished *bool
}

// Validate checks the fields an update sets.
func (c ArticleChanges) Validate() error {
	p := Problems{}
	checkName(p, "title", c.Title, MaxTitleLen)
	checkText(p, "content", c.Content, MaxContentLen, true)
	checkText(p, "excerpt", c.Excerpt, MaxExcerptLen, true)
	checkURL(p, "cover_image", c.CoverImage)
	checkSlug(p, "slug", c.Slug)
	if c.Tags != nil && len(*c.Tags) > MaxTags {
		p.Add("tags", "at most "+itoa(MaxTags)+" tags")
	}
	return p.Err()
}
