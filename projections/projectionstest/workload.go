package projectionstest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"inkwell/domain"
)

// Mix weighs the kinds of events a workload makes. A kind whose
// precondition fails (no user to update, say) makes a registration or a
// creation instead.
type Mix struct {
	register, profile, roles, disable, deleteUser             int
	catCreate, catUpdate, catDelete, tagCreate                int
	artCreate, artUpdate, artPublish, artUnpublish, artDelete int
	// words is the length of an article's content, in words.
	words int
	// recent is the share of updates, publications and unpublications
	// (in percent) that go to one of the window newest articles; the others
	// go to any article.
	recent, window int
}

// RandomMix exercises every event kind, deletions included, on a small log.
var RandomMix = Mix{
	register: 8, profile: 5, roles: 3, disable: 2, deleteUser: 2,
	catCreate: 3, catUpdate: 3, catDelete: 2, tagCreate: 4,
	artCreate: 20, artUpdate: 25, artPublish: 10, artUnpublish: 4, artDelete: 4,
	words: 30,
}

// BlogMix has the proportions of a blog's life: 5% user events, 1%
// categories and tags, the rest articles, each created once, updated a few
// times and published, a few deleted.
var BlogMix = Mix{
	register: 40, profile: 7, roles: 2, disable: 0, deleteUser: 1,
	catCreate: 1, catUpdate: 1, catDelete: 0, tagCreate: 8,
	artCreate: 150, artUpdate: 600, artPublish: 150, artUnpublish: 10, artDelete: 30,
	words: 120,
	// Articles are mostly edited and published soon after they are written.
	recent: 90, window: 200,
}

// UniformBlogMix is BlogMix with edits spread evenly over every article ever
// written: the worst case for folding events in a batch.
var UniformBlogMix = func() Mix { m := BlogMix; m.recent = 0; return m }()

type genArticle struct {
	id, author string
	published  bool
	everPub    *time.Time
	revision   int
}

// Workload makes a random but valid history of a blog, as records with
// their streams, versions and times (not yet their log sequences).
type Workload struct {
	rng      *rand.Rand
	mix      Mix
	total    int
	clock    time.Time
	versions map[domain.StreamID]uint64

	users    []string
	articles []*genArticle
	cats     []string
	tags     []string
	n        map[string]int // ids given per aggregate type
	renames  int
}

func NewWorkload(seed uint64, m Mix) *Workload {
	total := 0
	for _, w := range []int{m.register, m.profile, m.roles, m.disable, m.deleteUser, m.catCreate, m.catUpdate, m.catDelete,
		m.tagCreate, m.artCreate, m.artUpdate, m.artPublish, m.artUnpublish, m.artDelete} {
		total += w
	}
	return &Workload{
		rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), mix: m, total: total,
		clock:    time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC),
		versions: map[domain.StreamID]uint64{}, n: map[string]int{},
	}
}

func (w *Workload) id(typ string) string {
	w.n[typ]++
	return fmt.Sprintf("0190%04x-0000-7000-8000-%012d", len(typ), w.n[typ])
}

var vocabulary = strings.Fields(`the a of and to in is it that for on with as was at by an be this from
	or are not have had but what all were when we there can your which their said if do will each about how
	up out them then she many some so these would other into has more her two like him see time could no make
	than first been its who now people my made over did down only way find use may water long little very after
	words called just where most know gopher postgres sqlite nats stream event projection rebuild`)

func (w *Workload) text(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(vocabulary[w.rng.IntN(len(vocabulary))])
	}
	return b.String()
}

func (w *Workload) record(s domain.StreamID, e domain.Event) domain.Record {
	w.versions[s]++
	// Nanoseconds too: the read models keep microseconds on both dialects.
	w.clock = w.clock.Add(time.Second + time.Duration(w.rng.IntN(1000000000)))
	return domain.Record{Type: e.EventType(), SchemaVersion: domain.SchemaVersionOf(e), Stream: s, Version: w.versions[s],
		OccurredAt: w.clock, ActorID: "system", Event: e}
}

func (w *Workload) pick(list []string) string { return list[w.rng.IntN(len(list))] }

func strPtr(s string) *string { return &s }

// Next returns the records of one more step: one event, or a user's
// deletion followed by the deletion of their articles (the cascade).
func (w *Workload) Next() []domain.Record {
	r := w.rng.IntN(w.total)
	m := w.mix
	pick := func(weight int) bool {
		if r < weight {
			return true
		}
		r -= weight
		return false
	}
	switch {
	case pick(m.register) || len(w.users) == 0:
		return []domain.Record{w.register()}
	case pick(m.profile):
		ev := &domain.UserProfileUpdated{}
		if w.rng.IntN(2) == 0 {
			ev.FirstName = strPtr(w.text(1))
		}
		if w.rng.IntN(2) == 0 {
			ev.LastName = strPtr(w.text(1))
		}
		if w.rng.IntN(2) == 0 {
			ev.Bio = strPtr(w.text(8))
		}
		if w.rng.IntN(3) == 0 {
			ev.Avatar = strPtr("https://example.com/a/" + w.text(1) + ".png")
		}
		return []domain.Record{w.record(domain.UserStream(w.pick(w.users)), ev)}
	case pick(m.roles):
		su := w.rng.IntN(4) == 0
		return []domain.Record{w.record(domain.UserStream(w.pick(w.users)), &domain.UserRolesChanged{IsStaff: su || w.rng.IntN(2) == 0, IsSuperuser: su})}
	case pick(m.disable):
		u := domain.UserStream(w.pick(w.users))
		if w.rng.IntN(2) == 0 {
			return []domain.Record{w.record(u, &domain.UserDisabled{Reason: "test"})}
		}
		return []domain.Record{w.record(u, &domain.UserEnabled{})}
	case pick(m.deleteUser):
		i := w.rng.IntN(len(w.users))
		id := w.users[i]
		w.users = slices.Delete(w.users, i, i+1)
		// Half the accounts that go are erased: their personal data reads
		// domain.Erased in a rebuild (see appender.append).
		var gone domain.Event = &domain.UserDeleted{}
		if w.rng.IntN(2) == 0 {
			gone = &domain.UserErased{}
		}
		out := []domain.Record{w.record(domain.UserStream(id), gone)}
		w.articles = slices.DeleteFunc(w.articles, func(a *genArticle) bool {
			if a.author == id {
				out = append(out, w.record(domain.ArticleStream(a.id), &domain.ArticleDeleted{Reason: "author deleted"}))
				return true
			}
			return false
		})
		return out
	case pick(m.catCreate) || (len(w.cats) == 0 && r < m.catUpdate+m.catDelete):
		id := w.id("category")
		w.cats = append(w.cats, id)
		return []domain.Record{w.record(domain.CategoryStream(id), &domain.CategoryCreated{CategoryID: id,
			Name: "Category " + id[len(id)-5:], Slug: "cat-" + id, Description: w.text(6), CreatedAt: w.clock})}
	case pick(m.catUpdate):
		w.renames++
		ev := &domain.CategoryUpdated{Description: strPtr(w.text(5))}
		if w.rng.IntN(2) == 0 {
			ev.Name, ev.Slug = strPtr(fmt.Sprint("Renamed ", w.renames)), strPtr(fmt.Sprint("renamed-", w.renames))
		}
		return []domain.Record{w.record(domain.CategoryStream(w.pick(w.cats)), ev)}
	case pick(m.catDelete):
		i := w.rng.IntN(len(w.cats))
		id := w.cats[i]
		w.cats = slices.Delete(w.cats, i, i+1)
		return []domain.Record{w.record(domain.CategoryStream(id), &domain.CategoryDeleted{})}
	case pick(m.tagCreate) || len(w.tags) == 0:
		id := w.id("tag")
		w.tags = append(w.tags, id)
		return []domain.Record{w.record(domain.TagStream(id), &domain.TagCreated{TagID: id, Name: "Tag " + id, Slug: "tag-" + id, CreatedAt: w.clock})}
	case pick(m.artCreate) || len(w.articles) == 0:
		return []domain.Record{w.createArticle()}
	case pick(m.artUpdate):
		return []domain.Record{w.updateArticle(w.pickArticle())}
	case pick(m.artPublish):
		a := w.pickArticle()
		if a.everPub == nil {
			t := w.clock
			a.everPub = &t
		}
		a.published = true
		return []domain.Record{w.record(domain.ArticleStream(a.id), &domain.ArticlePublished{PublishedAt: *a.everPub})}
	case pick(m.artUnpublish):
		a := w.pickArticle()
		a.published = false
		return []domain.Record{w.record(domain.ArticleStream(a.id), &domain.ArticleUnpublished{})}
	default:
		i := w.rng.IntN(len(w.articles))
		a := w.articles[i]
		w.articles = slices.Delete(w.articles, i, i+1)
		return []domain.Record{w.record(domain.ArticleStream(a.id), &domain.ArticleDeleted{})}
	}
}

// pickArticle picks an article to change (see mix.recent).
func (w *Workload) pickArticle() *genArticle {
	n := len(w.articles)
	if w.rng.IntN(100) < w.mix.recent && n > w.mix.window {
		return w.articles[n-1-w.rng.IntN(w.mix.window)]
	}
	return w.articles[w.rng.IntN(n)]
}

func (w *Workload) register() domain.Record {
	id := w.id("user")
	w.users = append(w.users, id)
	name := "user" + id[len(id)-7:]
	return w.record(domain.UserStream(id), &domain.UserRegistered{UserID: id, Username: name, Email: name + "@example.com",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", FirstName: w.text(1), LastName: w.text(1),
		IsActive: true, DateJoined: w.clock})
}

func (w *Workload) someTags() []string {
	out := []string{}
	for i, n := 0, w.rng.IntN(4); i < n; i++ {
		if t := w.pick(w.tags); !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

func (w *Workload) createArticle() domain.Record {
	id := w.id("article")
	a := &genArticle{id: id, author: w.pick(w.users)}
	w.articles = append(w.articles, a)
	content := w.text(w.mix.words/2 + w.rng.IntN(w.mix.words+1))
	ev := &domain.ArticleCreated{ArticleID: id, Title: "Article " + id, Slug: "article-" + id, Content: content,
		Excerpt: domain.Excerpt(content), ExcerptAuto: true, AuthorID: a.author, CreatedAt: w.clock}
	if len(w.cats) > 0 && w.rng.IntN(3) > 0 {
		ev.CategoryID = w.pick(w.cats)
	}
	if len(w.tags) > 0 {
		ev.Tags = w.someTags()
	} else {
		ev.Tags = []string{}
	}
	if w.rng.IntN(5) == 0 {
		t := w.clock
		ev.IsPublished, ev.PublishedAt, a.published, a.everPub = true, &t, true, &t
	}
	return w.record(domain.ArticleStream(id), ev)
}

func (w *Workload) updateArticle(a *genArticle) domain.Record {
	a.revision++
	ev := &domain.ArticleUpdated{AuthorID: a.author}
	if w.rng.IntN(3) == 0 {
		ev.Title = strPtr(fmt.Sprintf("Article %s, revision %d", a.id, a.revision))
		ev.Slug = strPtr(fmt.Sprintf("article-%s-r%d", a.id, a.revision))
	}
	if w.rng.IntN(2) == 0 {
		content := w.text(w.mix.words/2 + w.rng.IntN(w.mix.words+1))
		ev.Content, ev.Excerpt = &content, strPtr(domain.Excerpt(content))
	}
	if w.rng.IntN(5) == 0 {
		c := ""
		if len(w.cats) > 0 && w.rng.IntN(4) > 0 {
			c = w.pick(w.cats)
		}
		ev.CategoryID = &c
	}
	if w.rng.IntN(4) == 0 {
		tags := w.someTags()
		ev.Tags = &tags
	}
	if w.rng.IntN(6) == 0 {
		ev.CoverImage = strPtr("https://example.com/c/" + w.text(1) + ".jpg")
	}
	return w.record(domain.ArticleStream(a.id), ev)
}

// RandomHistory returns n events (or a few more: a step may make several)
// of a random history of the given seed (RandomMix), with sequences and
// ids, for a projection's Apply without an event store.
func RandomHistory(seed uint64, n int) []domain.Record {
	w := NewWorkload(seed, RandomMix)
	var recs []domain.Record
	for len(recs) < n {
		for _, r := range w.Next() {
			r.Seq = uint64(len(recs) + 1)
			r.ID = fmt.Sprint("ev", r.Seq)
			recs = append(recs, r)
		}
	}
	return recs
}
