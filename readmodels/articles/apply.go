package articles

import (
	"inkwell/domain"
	"inkwell/readmodels"
)

// apply folds one event into the batch's rows.
func (b *articlesBatch) apply(r domain.Record) error {
	switch r.Stream.Type {
	case domain.AggregateUser:
		// A deleted user's name leaves the read model (for good on an
		// erasure), and so do their favorites; the cascade deletes their
		// articles.
		if gone, _ := b.authors.Apply(r); gone {
			b.removeFavoritesOfUser(r.Stream.ID)
		}
	case domain.AggregateCategory:
		b.applyCategory(r)
	case domain.AggregateTag:
		if e, ok := r.Event.(*domain.TagCreated); ok {
			b.tags[r.Stream.ID] = &tagRow{ID: r.Stream.ID, Number: b.next("tag"), Name: e.Name, Slug: e.Slug, CreatedAt: e.CreatedAt}
			b.dirtyTags.Add(r.Stream.ID)
			b.counted[CountTags]++
		}
	case domain.AggregateArticle:
		b.applyArticle(r)
	case domain.AggregateFavorite:
		b.applyFavorite(r)
	}
	return nil
}

// next takes the next number of counter ("article", "category" or "tag").
func (b *articlesBatch) next(counter string) int64 {
	b.counters[counter]++
	b.countersChanged = true
	return b.counters[counter]
}

func (b *articlesBatch) applyCategory(r domain.Record) {
	id := r.Stream.ID
	switch e := r.Event.(type) {
	case *domain.CategoryCreated:
		b.categories[id] = &categoryRow{ID: id, Number: b.next("category"), Name: e.Name, Slug: e.Slug,
			Description: e.Description, CreatedAt: e.CreatedAt, UpdatedAt: e.CreatedAt, Version: r.Version}
		b.dirtyCategories.Add(id)
		b.counted[CountCategories]++
	case *domain.CategoryUpdated:
		c := b.categories[id]
		if c == nil {
			return
		}
		readmodels.SetIf(&c.Name, e.Name)
		readmodels.SetIf(&c.Slug, e.Slug)
		readmodels.SetIf(&c.Description, e.Description)
		c.UpdatedAt, c.Version = r.OccurredAt, r.Version
		b.dirtyCategories.Add(id)
	case *domain.CategoryDeleted:
		b.counted[CountCategories]--
		delete(b.categories, id)
		b.deletedCategories[id] = true
		for _, a := range b.articles {
			if a.CategoryID != nil && *a.CategoryID == id {
				a.CategoryID = nil
				b.dirtyArticles.Add(a.ID)
			}
		}
	}
}

func (b *articlesBatch) applyArticle(r domain.Record) {
	id := r.Stream.ID
	if r.Erased {
		// The author was erased: the article's text reads Erased, and the
		// erasure's cascade deletes the article. Its row is not made (nor
		// changed): it would show nothing of its author's, and the
		// slugs of several such articles would meet. Its number is taken
		// all the same, so that every later article keeps the number a
		// live read model gave it.
		if _, ok := r.Event.(*domain.ArticleCreated); ok {
			b.next("article")
		}
		return
	}
	switch e := r.Event.(type) {
	case *domain.ArticleCreated:
		a := &articleRow{ID: id, Number: b.next("article"), Title: e.Title, Slug: e.Slug, Content: e.Content,
			Excerpt: e.Excerpt, AuthorID: e.AuthorID, CoverImage: e.CoverImage, IsPublished: e.IsPublished,
			PublishedAt: e.PublishedAt, CreatedAt: e.CreatedAt, UpdatedAt: e.CreatedAt}
		if e.CategoryID != "" {
			c := e.CategoryID
			a.CategoryID = &c
		}
		a.tagIDs, a.tagsSet = append([]string(nil), e.Tags...), true
		b.articles[id] = a
		delete(b.deletedArticles, id)
		b.touchArticle(a, r, true)
	case *domain.ArticleUpdated:
		if a := b.articles[id]; a != nil {
			a.update(e)
			a.UpdatedAt = r.OccurredAt
			b.touchArticle(a, r, e.Content != nil)
		}
	case *domain.ArticlePublished:
		if a := b.articles[id]; a != nil {
			t := e.PublishedAt
			a.IsPublished, a.PublishedAt, a.UpdatedAt = true, &t, r.OccurredAt
			b.touchArticle(a, r, false)
		}
	case *domain.ArticleUnpublished:
		if a := b.articles[id]; a != nil {
			a.IsPublished, a.UpdatedAt = false, r.OccurredAt
			b.touchArticle(a, r, false)
		}
	case *domain.ArticleDeleted:
		if b.articles[id] != nil {
			delete(b.articles, id)
			b.deletedArticles[id] = true
			b.dropFavoritesOfArticle(id)
		}
	}
}

// update applies the fields an article.updated event changes.
func (a *articleRow) update(e *domain.ArticleUpdated) {
	readmodels.SetIf(&a.Title, e.Title)
	readmodels.SetIf(&a.Slug, e.Slug)
	readmodels.SetIf(&a.Content, e.Content)
	readmodels.SetIf(&a.Excerpt, e.Excerpt)
	readmodels.SetIf(&a.CoverImage, e.CoverImage)
	readmodels.SetIf(&a.IsPublished, e.IsPublished)
	if e.PublishedAt != nil {
		t := *e.PublishedAt
		a.PublishedAt = &t
	}
	if e.CategoryID != nil {
		if *e.CategoryID == "" {
			a.CategoryID = nil
		} else {
			c := *e.CategoryID
			a.CategoryID = &c
		}
	}
	if e.Tags != nil {
		a.tagIDs, a.tagsSet = append([]string(nil), *e.Tags...), true
	}
}

// touchArticle marks an article changed by an event, and recomputes its
// derived columns when its content changed.
func (b *articlesBatch) touchArticle(a *articleRow, r domain.Record, contentChanged bool) {
	a.Version = r.Version
	b.publishFavorites(a)
	if contentChanged {
		a.WordCount = WordCount(a.Content)
		a.ReadingTime = ReadingTime(a.WordCount)
	}
	b.dirtyArticles.Add(a.ID)
}
