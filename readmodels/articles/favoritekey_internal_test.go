package articles

import (
	"testing"

	"inkwell/domain"
)

// The single-query read of an article finds the viewer's favorite by
// favoriteKeyPrefix and the article's id: that must be the favorite's key.
func TestFavoriteKeyIsThePrefixAndTheArticle(t *testing.T) {
	user, article := "0190d7a6-0000-7000-8000-000000000001", "0190d7a6-0000-7000-8000-000000000002"
	if got, want := favoriteKeyPrefix(user)+article, domain.FavoriteStream(user, article).ID; got != want {
		t.Fatalf("prefix and article %q, the favorite's key %q", got, want)
	}
}
