package articles

import (
	"strings"
	"time"
	"unicode"

	"inkwell/readmodels"
)

// TagRef is a tag as an article shows it.
type TagRef struct {
	ID     string `json:"id"`
	Number int64  `json:"number"`
	Name   string `json:"name"`
	Slug   string `json:"slug"`
}

type articleRow struct {
	ID          string     `db:"id"`
	Number      int64      `db:"number"`
	Title       string     `db:"title"`
	Slug        string     `db:"slug"`
	Content     string     `db:"content"`
	Excerpt     string     `db:"excerpt"`
	AuthorID    string     `db:"author_id"`
	CategoryID  *string    `db:"category_id"`
	Tags        string     `db:"tags"`
	CoverImage  string     `db:"cover_image"`
	IsPublished bool       `db:"is_published"`
	PublishedAt *time.Time `db:"published_at"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
	WordCount   int        `db:"word_count"`
	ReadingTime int        `db:"reading_time"`
	Version     uint64     `db:"version"`
	// FavoritesCount is how many users favor the article.
	FavoritesCount int64 `db:"favorites_count"`

	tagIDs  []string
	tagsSet bool // tagIDs changed in this batch
}

const articleColumns = "id, number, title, slug, content, excerpt, author_id, category_id, tags, cover_image, is_published, published_at, created_at, updated_at, word_count, reading_time, version, favorites_count"

var articleCols = strings.Split(articleColumns, ", ")

func (a *articleRow) values() []any {
	var pub *time.Time
	if a.PublishedAt != nil {
		t := readmodels.DBTime(*a.PublishedAt)
		pub = &t
	}
	return []any{a.ID, a.Number, a.Title, a.Slug, a.Content, a.Excerpt, a.AuthorID, a.CategoryID, a.Tags, a.CoverImage,
		a.IsPublished, pub, readmodels.DBTime(a.CreatedAt), readmodels.DBTime(a.UpdatedAt), a.WordCount, a.ReadingTime, a.Version, a.FavoritesCount}
}

// categoryRow is a row of categories as the projection writes it: the
// columns of Category, the category the API shows.
type categoryRow Category

const categoryColumns = "id, number, name, slug, description, created_at, updated_at, version"

func (c *categoryRow) values() []any {
	return []any{c.ID, c.Number, c.Name, c.Slug, c.Description, readmodels.DBTime(c.CreatedAt), readmodels.DBTime(c.UpdatedAt), c.Version}
}

type tagRow struct {
	ID        string    `db:"id"`
	Number    int64     `db:"number"`
	Name      string    `db:"name"`
	Slug      string    `db:"slug"`
	CreatedAt time.Time `db:"created_at"`
}

const tagColumns = "id, number, name, slug, created_at"

func (t *tagRow) values() []any {
	return []any{t.ID, t.Number, t.Name, t.Slug, readmodels.DBTime(t.CreatedAt)}
}

// WordCount counts the words of a text: its runs of non-space characters,
// as strings.Fields splits them (without building them).
func WordCount(s string) int {
	n, inWord := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			inWord = false
		} else if !inWord {
			inWord, n = true, n+1
		}
	}
	return n
}

// ReadingTime is the minutes a text takes to read at 200 words a minute,
// rounded up (0 for an empty text).
func ReadingTime(words int) int { return (words + 199) / 200 }
