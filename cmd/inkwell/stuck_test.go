package main_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
	"inkwell/commands"
	"inkwell/domain"
	"inkwell/testkit"
)

// A log that an earlier fault left broken (two live articles with one slug)
// stops the articles read model at the second. Nothing is silent and there
// is a way out that loses nothing of the log: /readyz names the event,
// `inkwell projections status` shows it, `inkwell projections skip` records
// a reviewable skip in the log, the read model goes on at once (with the
// writes made meanwhile), and `inkwell replay` succeeds.
func TestAStoppedReadModelHasAWayOut(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *main.Config) { c.ReadYourWritesTimeout = 200 * time.Millisecond })
	tok := s.registerUser(t, "writer").AccessToken
	// The short wait for read-your-writes is for the write made while the
	// read model is stopped; before that, on a busy machine, a write may
	// outlast it too (202), and the article is read once it shows.
	created := s.request(t, "POST", "/api/articles/", tok, map[string]any{"title": "Dup", "is_published": true})
	if created.Status != http.StatusCreated && created.Status != http.StatusAccepted {
		t.Fatalf("create: %d %s", created.Status, created.Body)
	}
	var first map[string]any
	testkit.WaitFor(t, 2*time.Minute, "the first article to show", func() bool {
		r := s.request(t, "GET", created.Header.Get("Location"), "", nil)
		if r.Status == http.StatusOK {
			first = r.Map(t)
		}
		return first != nil
	})

	// What an earlier version could leave: a second article with the same
	// slug, its claim given up after an unknown outcome.
	ctx := context.Background()
	id, _ := commands.NewUUID()
	recs, err := s.Store.Append(ctx, domain.ArticleStream(id), domain.Position{}, domain.Meta{},
		&domain.ArticleCreated{ArticleID: id, Title: "Dup", Slug: "dup", Content: "again", Excerpt: "again",
			AuthorID: first["author"].(map[string]any)["id"].(string), Tags: []string{}, CreatedAt: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	bad := recs[0]
	testkit.WaitFor(t, 2*time.Minute, "/readyz to name the event", func() bool {
		st, checks := s.readyz(t)
		return st == 503 && strings.Contains(checks["projection articles"], fmt.Sprintf("event %d", bad.Seq))
	})
	// Writes are still recorded; the read model cannot show them yet.
	during := s.request(t, "POST", "/api/articles/", tok, map[string]any{"title": "While stopped", "is_published": true})
	if during.Status != http.StatusAccepted {
		t.Fatalf("write while stopped: %d %s, want 202", during.Status, during.Body)
	}

	run := func(args ...string) (string, error) {
		stdout, stderr, err := inkwell(t, s.Config.DataDir, args...)
		return stdout + stderr, err
	}
	out, err := run("projections", "status")
	if err != nil || !strings.Contains(out, "STOPPED") || !strings.Contains(out, fmt.Sprint(bad.Seq)) || !strings.Contains(out, bad.ID) {
		t.Fatalf("projections status (%v):\n%s", err, out)
	}
	if out, err := run("projections", "skip", "--projection", "articles"); err == nil || !strings.Contains(err.Error(), "reason") {
		t.Fatalf("a skip without a reason: %v\n%s", err, out)
	}
	if out, err := run("projections", "skip", "--projection", "articles", "--seq", fmt.Sprint(bad.Seq+100), "--reason", "x"); err == nil {
		t.Fatalf("a skip of an event the read model did not stop at: %s", out)
	}
	out, err = run("projections", "skip", "--projection", "articles", "--reason", "second article with the slug dup, left by an earlier fault")
	if err != nil || !strings.Contains(out, fmt.Sprintf("skips event %d", bad.Seq)) {
		t.Fatalf("projections skip (%v):\n%s", err, out)
	}

	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200", func() bool { st, _ := s.readyz(t); return st == 200 })
	testkit.WaitFor(t, 2*time.Minute, "the write made while stopped to show", func() bool {
		return s.request(t, "GET", during.Header.Get("Location"), "", nil).Status == http.StatusOK
	})
	if got := expect(t, s.request(t, "GET", "/api/articles/dup/", "", nil), 200).Map(t); got["id"] != first["id"] {
		t.Fatalf("dup is %v, want the first article %v", got["id"], first["id"])
	}
	if out, err := run("replay"); err != nil {
		t.Fatalf("replay after the skip: %v\n%s", err, out)
	}
	out, _ = run("projections", "status")
	if !strings.Contains(out, fmt.Sprintf("skips event %d", bad.Seq)) || strings.Contains(out, "STOPPED") {
		t.Fatalf("projections status after the skip:\n%s", out)
	}
	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200 after the replay", func() bool { st, _ := s.readyz(t); return st == 200 })
}
