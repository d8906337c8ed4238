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

func (*FavoriteAdded) turnsOn() bool { return true }

// FavoriteRemoved records that a user took a favorite back.
type FavoriteRemoved struct {
	UserID    string `json:"user_id"`
	ArticleID string `json:"article_id"`
}

// EventType implements Event.
func (*FavoriteRemoved) EventType() string { return "favorite.removed" }

func (*FavoriteRemoved) turnsOn() bool { return false }

// Favorite is the favorite aggregate: whether a user favors an article.
type Favorite struct{ pair }

// Add decides that actor favors article a (as loaded from its stream).
// Favoriting what one favors changes nothing (a nil event). Only an article
// the actor can see may be favored: a published one, or a draft of their
// own (staff see every draft); any other is not found.
func (f *Favorite) Add(actor Actor, a *Article, now time.Time) (Event, error) {
	return f.decide(actor, true, unseen(actor, a), &FavoriteAdded{UserID: actor.ID, ArticleID: a.ID(), AuthorID: a.AuthorID(), At: now.UTC()})
}

// Remove decides that actor no longer favors article a. Taking back what is
// not favored changes nothing (a nil event); a favorite can be taken back
// whatever became of its article, but an article the actor cannot see and
// does not favor is not found.
func (f *Favorite) Remove(actor Actor, a *Article) (Event, error) {
	return f.decide(actor, false, unseen(actor, a), &FavoriteRemoved{UserID: actor.ID, ArticleID: a.ID()})
}

// unseen refuses an article the actor cannot see as not found.
func unseen(actor Actor, a *Article) error {
	if !a.CanSee(actor) {
		return ErrArticleNotFound
	}
	return nil
}
