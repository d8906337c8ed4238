package main_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"inkwell/commands"
	"inkwell/domain"
)

// The export of a history longer than a page of each kind (500 sessions,
// articles, events) is whole, in order and valid (the harness checks it
// against the OpenAPI document): every session oldest first, every article
// still there (drafts and published ones read apart, merged) oldest first,
// every event the user caused up to the log's head, none twice.
func TestExportOfAHistoryOfManyPages(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	hal := s.registerUser(t, "hal")
	s.registerUser(t, "ida") // someone else, whose events are not hal's
	me := expect(t, s.request(t, "GET", "/api/auth/me/", hal.AccessToken, nil), http.StatusOK).Map(t)
	actor := domain.Actor{ID: me["id"].(string)}
	sessions := []string{}
	for i := range 520 {
		ses, err := s.Commands.Login.Handle(ctx, commands.Login{Username: "hal", Password: "password-hal", Client: fmt.Sprint("client ", i)})
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, ses.SessionID)
	}
	var articles []string
	for i := range 520 {
		res, err := s.Commands.CreateArticle.Handle(ctx, commands.CreateArticle{Actor: actor,
			Input: domain.ArticleInput{Title: fmt.Sprint("Article ", i), Content: "words", IsPublished: i%3 == 0}})
		if err != nil {
			t.Fatal(err)
		}
		articles = append(articles, res.ID)
	}
	if _, err := s.Commands.DeleteArticle.Handle(ctx, commands.DeleteArticle{Actor: actor, ID: articles[260]}); err != nil {
		t.Fatal(err)
	}
	articles = slices.Delete(articles, 260, 261)
	// Every event hal caused, from the log itself.
	var events []uint64
	for seq := uint64(1); seq <= s.head(t); seq++ {
		rec, err := s.Store.Get(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if rec.ActorID == actor.ID {
			events = append(events, seq)
		}
	}

	var ex struct {
		Sessions []struct {
			ID     string `json:"id"`
			Client string `json:"client"`
		} `json:"sessions"`
		Articles []struct {
			ID string `json:"id"`
		} `json:"articles"`
		Events []struct {
			Seq uint64 `json:"seq"`
		} `json:"events"`
	}
	expect(t, s.request(t, "GET", "/api/auth/me/export/", hal.AccessToken, nil), http.StatusOK).JSON(t, &ex)
	var gotSessions []string
	for _, ses := range ex.Sessions[1:] { // the first: the registration's
		gotSessions = append(gotSessions, ses.ID)
	}
	if len(ex.Sessions) != 521 || !slices.Equal(gotSessions, sessions) {
		t.Errorf("%d sessions exported, want the registration's and the %d logins' in order", len(ex.Sessions), len(sessions))
	}
	var gotArticles []string
	for _, a := range ex.Articles {
		gotArticles = append(gotArticles, a.ID)
	}
	if !slices.Equal(gotArticles, articles) {
		t.Errorf("%d articles exported, want the %d still there, oldest first", len(gotArticles), len(articles))
	}
	var gotEvents []uint64
	for _, e := range ex.Events {
		gotEvents = append(gotEvents, e.Seq)
	}
	if !slices.Equal(gotEvents, events) {
		t.Errorf("%d events exported, want the %d hal caused, in order", len(gotEvents), len(events))
	}
}
