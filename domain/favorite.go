package domain

import "time"

// A favorite is one user's mark on one article. Each (user, article) pair is
// an aggregate of its own, under an id made of the pair (FavoriteStream),
// so that favoriting twice, even by two racing requests, appends to one
// stream expecting its last event: one favorite, whatever happens. Nothing
// is loaded but the pair's own few events, however many favorites an
// article or a user has.

// AggregateFavorite is the aggregate type of favorites.
const AggregateFavorite = "favorite"

// FavoriteStream returns the stream of userID's favorite of articleID:
// "<user id>_<article id>".
func FavoriteStream(userID, articleID string) StreamID {
	return StreamID{Type: AggregateFavorite, ID: userID + "_" + articleID}
}

// FavoriteAdded records that a user favorited an article. AuthorID is the
// article's author at the time (for followers of the raw stream).
type FavoriteAdded struct {
	UserID    string    `json:"user_id"`
	ArticleID string    `json:"article_id"`
	AuthorID  string    `json:"author_id"`
	At        time.Time `json:"at"`
}

// EventType implements Event.
func (*FavoriteAdded) EventType() string { return "favorite.added" }

// FavoriteRemoved records that a user took a favorite back.
type FavoriteRemoved struct {
	UserID    string `json:"user_id"`
	ArticleID string `json:"article_id"`
}

// EventType implements Event.
func (*FavoriteRemoved) EventType() string { return "favorite.removed" }

// Favorite is the favorite aggregate: whether a user favors an article.
type Favorite struct {
	version uint64
	on      bool
}

// Apply folds one event into the favorite.
func (f *Favorite) Apply(r Record) {
	f.version = r.Version
	switch r.Event.(type) {
	case *FavoriteAdded:
		f.on = true
	case *FavoriteRemoved:
		f.on = false
	}
}

// On reports whether the user favors the article.
func (f *Favorite) On() bool { return f.on }

// Add decides that actor favors article a (as loaded from its stream).
// Favoriting what one favors changes nothing (a nil event). Only an article
// the actor can see may be favored: a published one, or a draft of their
// own (staff see every draft); any other is not found.
func (f *Favorite) Add(actor Actor, a *Article, now time.Time) (Event, error) {
	switch {
	case actor.IsAnonymous():
		return nil, ErrAuthRequired
	case !a.CanSee(actor):
		return nil, ErrArticleNotFound
	case f.on:
		return nil, nil
	}
	return &FavoriteAdded{UserID: actor.ID, ArticleID: a.ID(), AuthorID: a.AuthorID(), At: now.UTC()}, nil
}

// Remove decides that actor no longer favors article a. Taking back what is
// not favored changes nothing (a nil event); a favorite can be taken back
// whatever became of its article, but an article the actor cannot see and
// does not favor is not found.
func (f *Favorite) Remove(actor Actor, a *Article) (Event, error) {
	switch {
	case actor.IsAnonymous():
		return nil, ErrAuthRequired
	case f.on:
		return &FavoriteRemoved{UserID: actor.ID, ArticleID: a.ID()}, nil
	case !a.CanSee(actor):
		return nil, ErrArticleNotFound
	}
	return nil, nil
}
