package main_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"inkwell/domain"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/comments"
	"inkwell/testkit"
)

// Comments through a real server: who adds, reads and deletes them, the
// answers to what is refused, Idempotency-Key, the cascade of a deleted and
// of an erased author, and a replay that rebuilds the same table.
func TestCommentsEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	admin := s.createAdmin(t, "admin")
	writer, reader, third := s.registerUser(t, "writer"), s.registerUser(t, "reader"), s.registerUser(t, "third")
	art := s.createArticle(t, writer.AccessToken, map[string]any{"title": "Commented", "content": "words", "is_published": true})
	draft := s.createArticle(t, writer.AccessToken, map[string]any{"title": "A draft", "content": "words"})
	base := "/api/articles/" + art["id"].(string) + "/comments/"
	add := func(tok tokens, path, body string, status int, headers ...string) response {
		t.Helper()
		return expect(t, s.request(t, "POST", path, tok.AccessToken, map[string]string{"body": body}, headers...), status)
	}

	// Added: 201, trimmed, where it lives, its author as articles show one.
	r := add(reader, base, "  First!  ", http.StatusCreated)
	c := r.Map(t)
	if c["body"] != "First!" || c["article_id"] != art["id"] || c["author"].(map[string]any)["username"] != "reader" {
		t.Fatalf("added %v", c)
	}
	first := c["id"].(string)
	if loc := r.Header.Get("Location"); loc != base+first+"/" {
		t.Fatalf("Location %q", loc)
	}
	expect(t, s.request(t, "GET", base+first+"/", "", nil), http.StatusOK)
	// The tutorial's path, by the article's number.
	add(writer, fmt.Sprintf("/api/article/%v/comments/", art["number"]), "Thanks", http.StatusCreated)
	list := expect(t, s.request(t, "GET", base, "", nil), http.StatusOK).Map(t)
	if items := list["items"].([]any); list["count"] != float64(2) || len(items) != 2 || items[0].(map[string]any)["body"] != "First!" {
		t.Fatalf("list %v", list)
	}
	page := expect(t, s.request(t, "GET", base+"?page_size=1", "", nil), http.StatusOK).Map(t)
	next := expect(t, s.request(t, "GET", base+"?page_size=1&cursor="+page["next"].(string), "", nil), http.StatusOK).Map(t)
	if b := next["items"].([]any)[0].(map[string]any)["body"]; b != "Thanks" || next["next"] != nil {
		t.Fatalf("the second page %v", next)
	}

	// Refused, writing nothing: a bad body (422 naming it), an article the
	// caller cannot see or that does not exist (404), no token (401).
	draftPath := "/api/articles/" + draft["id"].(string) + "/comments/"
	s.appendsNothing(t, "refused comments", func() {
		for _, body := range []string{"   ", strings.Repeat("x", 10001), "a\x07b"} {
			p := add(reader, base, body, http.StatusUnprocessableEntity).Map(t)
			if errs, _ := p["errors"].(map[string]any); errs["body"] == nil {
				t.Errorf("a bad body: %v does not name body", p)
			}
		}
		add(reader, draftPath, "x", http.StatusNotFound)
		add(reader, "/api/articles/no-such-article/comments/", "x", http.StatusNotFound)
		add(tokens{}, base, "x", http.StatusUnauthorized)
	})
	expect(t, s.request(t, "GET", draftPath, "", nil), http.StatusNotFound)
	expect(t, s.request(t, "GET", draftPath, reader.AccessToken, nil), http.StatusNotFound)
	add(writer, draftPath, "A note to self", http.StatusCreated)
	expect(t, s.request(t, "GET", draftPath, admin.AccessToken, nil), http.StatusOK)

	// Idempotency-Key: the retry gets the first answer, and one comment.
	key := "comment-" + first
	one := add(third, base, "Once", http.StatusCreated, "Idempotency-Key", key)
	again := add(third, base, "Once", http.StatusCreated, "Idempotency-Key", key)
	if again.Header.Get("Idempotency-Replayed") != "true" || again.Map(t)["id"] != one.Map(t)["id"] {
		t.Fatalf("the retry: %s %v", again.Body, again.Header)
	}

	// Deleted by the comment's author, the article's author, staff; not by
	// anyone else.
	for _, who := range []tokens{reader, writer, admin} {
		id := add(reader, base, "to delete", http.StatusCreated).Map(t)["id"].(string)
		s.appendsNothing(t, "another user's delete", func() {
			expect(t, s.request(t, "DELETE", base+id+"/", third.AccessToken, nil), http.StatusForbidden)
		})
		expect(t, s.request(t, "DELETE", base+id+"/", who.AccessToken, nil), http.StatusNoContent)
		expect(t, s.request(t, "GET", base+id+"/", "", nil), http.StatusNotFound)
		expect(t, s.request(t, "DELETE", base+id+"/", who.AccessToken, nil), http.StatusNotFound)
	}

	// The export holds the caller's comments.
	var export struct {
		Comments []struct{ Body string } `json:"comments"`
	}
	expect(t, s.request(t, "GET", "/api/auth/me/export/", reader.AccessToken, nil), http.StatusOK).JSON(t, &export)
	if len(export.Comments) != 1 || export.Comments[0].Body != "First!" {
		t.Fatalf("exported comments %+v", export.Comments)
	}

	// The replay rebuilds the same comments table.
	before := projectionstest.Snapshot(t, s.DB, comments.ReadModel{})
	if _, stderr, err := inkwell(t, s.Config.DataDir, "replay", "--projection", "comments"); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	projectionstest.SameRows(t, "after the replay", projectionstest.Snapshot(t, s.DB, comments.ReadModel{}), before)

	// The cascade: a deleted author's comments are deleted, an erased one's
	// too, and their bodies no longer read in the log.
	readerID, thirdID := s.userID(t, reader.AccessToken), s.userID(t, third.AccessToken)
	secret := add(third, base, "words only third wrote", http.StatusCreated).Map(t)["id"].(string)
	expect(t, s.request(t, "DELETE", "/api/users/"+readerID+"/", admin.AccessToken, nil), http.StatusNoContent)
	expect(t, s.request(t, "POST", "/api/users/"+thirdID+"/erase/", admin.AccessToken, nil), http.StatusNoContent)
	for _, id := range []string{first, secret} {
		expect(t, s.request(t, "GET", base+id+"/", "", nil), http.StatusNotFound)
		testkit.WaitFor(t, 10*time.Second, "the cascade deletes comment "+id, func() bool {
			recs, _, err := s.Store.Load(context.Background(), domain.CommentStream(id))
			if err != nil {
				t.Fatal(err)
			}
			_, deleted := recs[len(recs)-1].Event.(*domain.CommentDeleted)
			return deleted
		})
	}
	recs, _, err := s.Store.Load(context.Background(), domain.CommentStream(secret))
	if err != nil {
		t.Fatal(err)
	}
	if e := recs[0].Event.(*domain.CommentAdded); e.Body != domain.Erased || !recs[0].Erased {
		t.Fatalf("the erased author's comment reads %q in the log", e.Body)
	}
	list = expect(t, s.request(t, "GET", base, "", nil), http.StatusOK).Map(t)
	if list["count"] != float64(1) {
		t.Fatalf("after the cascade: %v", list)
	}
	var n int
	if err := s.DB.Get(&n, "SELECT COUNT(*) FROM comments WHERE body = 'words only third wrote' OR body = 'First!'"); err != nil || n != 0 {
		t.Fatalf("%d rows of the deleted and erased authors' bodies (%v)", n, err)
	}
}
