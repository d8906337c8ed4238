package main_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
	"inkwell/eventstore/eventstoretest"
	"inkwell/testkit"
)

// startLogged starts a server on the data directory dir whose warnings and
// errors go to the test's log and to the returned buffer.
func startLogged(t *testing.T, dir string) (*server, *testkit.Buffer) {
	t.Helper()
	return startServerLogs(t, slog.LevelWarn, func(c *main.Config) { c.DataDir = dir })
}

// startWithWriter starts a server as startLogged does, on a new data
// directory dir, and registers a user "writer": the first life of a server
// whose files a test then damages.
func startWithWriter(t *testing.T) (s *server, dir, token string) {
	t.Helper()
	dir = t.TempDir()
	s, _ = startLogged(t, dir)
	return s, dir, s.registerUser(t, "writer").AccessToken
}

// A byte flipped in the block of the log, Inkwell stopped: the stream's
// state is as it was, and the server skips the message. Started again,
// Inkwell finds the loss (its background read of the log), logs it at
// error level with what to do, and /readyz names it; inkwell events verify
// exits 1 naming it, and inkwell replay fails naming it and the ways out,
// instead of waiting for ever. Once the loss is accepted, /readyz answers
// 200, verify passes and replay goes on without the lost event, saying so.
func TestALostEventIsFoundAndItsLossAccepted(t *testing.T) {
	t.Parallel()
	s, dir, tok := startWithWriter(t)
	s.createArticle(t, tok, map[string]any{"title": "Kept before", "is_published": true})
	lost := s.createArticle(t, tok, map[string]any{"title": "Lost", "is_published": true})
	s.createArticle(t, tok, map[string]any{"title": "Kept after", "is_published": true})
	var lostSeq uint64
	var lostID string
	for _, rec := range eventstoretest.MustRead(t, s.Store, 1, s.Store.SubjectsOf("article")...) {
		if rec.Type == "article.created" && rec.Stream.ID == lost["id"] {
			lostSeq, lostID = rec.Seq, rec.ID
		}
	}
	if lostSeq == 0 {
		t.Fatal("the lost article's creation is not in the log")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	eventstoretest.FlipByte(t, filepath.Join(dir, "nats"), "INKWELL", lostID)

	s, logs := startLogged(t, dir)
	testkit.WaitFor(t, 2*time.Minute, "/readyz to name the lost event", func() bool {
		st, checks := s.readyz(t)
		return st == http.StatusServiceUnavailable && strings.Contains(checks["event_log_integrity"], fmt.Sprintf("lost the events at sequence %d", lostSeq)) &&
			strings.Contains(checks["event_log_integrity"], fmt.Sprintf("accept-loss --seq %d ", lostSeq))
	})
	if l := logs.String(); strings.Count(l, "THE EVENT LOG IS DAMAGED") != 1 || !strings.Contains(l, "level=ERROR") || !strings.Contains(l, "inkwell restore") {
		t.Fatalf("the damage is not logged once at error level with what to do:\n%s", l)
	}
	// The lost event is not the log's last: writing is harmless, and goes on.
	s.createArticle(t, tok, map[string]any{"title": "Written while damaged"})

	out, _, err := inkwell(t, dir, "events", "verify")
	if err == nil || !strings.Contains(out, fmt.Sprintf("lost the events at sequence %d", lostSeq)) || !strings.Contains(out, "What to do:") {
		t.Fatalf("events verify on the damaged log (%v):\n%s", err, out)
	}
	t.Logf("inkwell events verify:\n%s", out)
	out, _, err = inkwell(t, dir, "replay")
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("sequence %d", lostSeq)) ||
		!strings.Contains(err.Error(), "inkwell restore") || !strings.Contains(err.Error(), "accept-loss") {
		t.Fatalf("replay on the damaged log: %v\n%s", err, out)
	}

	if out, _, err := inkwell(t, dir, "events", "accept-loss", "--seq", fmt.Sprint(lostSeq)); err == nil {
		t.Fatalf("an acceptance without a reason: %s", out)
	}
	if out, _, err := inkwell(t, dir, "events", "accept-loss", "--seq", fmt.Sprint(lostSeq-1), "--reason", "x"); err == nil {
		t.Fatalf("an acceptance of an event the log holds: %s", out)
	}
	out, _, err = inkwell(t, dir, "events", "accept-loss", "--seq", fmt.Sprint(lostSeq), "--reason", "no backup holds it", "--by", "ops")
	if err != nil || !strings.Contains(out, "inkwell replay") {
		t.Fatalf("events accept-loss (%v):\n%s", err, out)
	}
	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200 once the loss is accepted", func() bool { st, _ := s.readyz(t); return st == http.StatusOK })
	if out, _, err := inkwell(t, dir, "events", "verify"); err != nil || !strings.Contains(out, fmt.Sprintf("accepted loss of %d (by ops", lostSeq)) {
		t.Fatalf("events verify after the acceptance (%v):\n%s", err, out)
	}
	out, _, err = inkwell(t, dir, "replay")
	if err != nil || !strings.Contains(out, fmt.Sprintf("lost the events at sequence %d, whose loss was accepted", lostSeq)) {
		t.Fatalf("replay after the acceptance (%v):\n%s", err, out)
	}
	// Rebuilt from the log, the read models no longer show the lost
	// article; the others are there.
	expect(t, s.request(t, "GET", "/api/articles/"+lost["id"].(string)+"/", tok, nil), http.StatusNotFound)
	if n := s.articleCount(t, tok); n != 3 {
		t.Fatalf("%d articles after the replay, want the 3 the log holds", n)
	}
}

// A block cut short and its index lost, Inkwell stopped: the log ends
// before the read models' checkpoints. New events would take sequences the
// read models count as applied and never show, so writes are refused (503,
// saying why) from the start, and /readyz says what to do. Accepting the
// loss and rebuilding the read models lets writes through again, and they
// show.
func TestALogThatEndsBeforeTheReadModelsRefusesWrites(t *testing.T) {
	t.Parallel()
	s, dir, tok := startWithWriter(t)
	s.createArticle(t, tok, map[string]any{"title": "Kept", "is_published": true})
	before := s.head(t)
	lost := s.createArticle(t, tok, map[string]any{"title": "Lost at the end", "is_published": true})
	head := s.head(t)
	ctx := context.Background()
	rec, err := s.Store.Get(ctx, before+1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	eventstoretest.TruncateAt(t, filepath.Join(dir, "nats"), "INKWELL", rec.ID)
	eventstoretest.RemoveIndex(t, filepath.Join(dir, "nats"), "INKWELL")

	s, logs := startLogged(t, dir)
	if got := s.head(t); got != before {
		t.Fatalf("the damaged log ends at %d, want %d (the test's damage no longer does what it did)", got, before)
	}
	r := s.request(t, "POST", "/api/articles/", tok, map[string]any{"title": "Refused"})
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "lost events the read models had applied") {
		t.Fatalf("a write on a log behind its read models: %d %s", r.Status, r.Body)
	}
	st, checks := s.readyz(t)
	if st != http.StatusServiceUnavailable || !strings.Contains(checks["event_log_integrity"], fmt.Sprintf("accept-loss --seq %d-%d ", before+1, head)) {
		t.Fatalf("/readyz %d: %v", st, checks)
	}
	if !strings.Contains(logs.String(), "THE EVENT LOG IS DAMAGED") {
		t.Fatalf("the damage is not logged:\n%s", logs.String())
	}
	if out, _, err := inkwell(t, dir, "replay"); err == nil || !strings.Contains(err.Error(), "accept-loss") {
		t.Fatalf("replay before the loss is accepted: %v\n%s", err, out)
	}
	if out, _, err := inkwell(t, dir, "events", "accept-loss", "--seq", fmt.Sprintf("%d-%d", before+1, head), "--reason", "no backup"); err != nil {
		t.Fatalf("accept-loss: %v\n%s", err, out)
	}
	if out, _, err := inkwell(t, dir, "replay"); err != nil {
		t.Fatalf("replay after the acceptance: %v\n%s", err, out)
	}
	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200 after the rebuild", func() bool { st, _ := s.readyz(t); return st == http.StatusOK })
	expect(t, s.request(t, "GET", "/api/articles/"+lost["id"].(string)+"/", tok, nil), http.StatusNotFound)
	// Writes go through again, and the read models show them: the live
	// runners follow the log from where the rebuild left them.
	s.createArticle(t, tok, map[string]any{"title": "After", "is_published": true})
	if n := s.articleCount(t, tok); n != 2 {
		t.Fatalf("%d articles, want Kept and After", n)
	}
}

// A read-model file zeroed or cut short: serve sets it aside (keeping it),
// says so, and fills a new one from the log; so does replay, with no
// server running.
func TestADamagedReadModelFileIsSetAsideAndRebuilt(t *testing.T) {
	t.Parallel()
	for _, damage := range []string{"zeroed", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			t.Parallel()
			s, dir, tok := startWithWriter(t)
			a := s.createArticle(t, tok, map[string]any{"title": "Still here", "is_published": true})
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			damageFile(t, filepath.Join(dir, "inkwell.db"), damage)

			s, logs := startLogged(t, dir)
			set := setAside(t, dir)
			if len(set) != 1 || !strings.Contains(logs.String(), "the read-model database is damaged") || !strings.Contains(logs.String(), set[0]) {
				t.Fatalf("set aside %v; log:\n%s", set, logs.String())
			}
			testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200", func() bool { st, _ := s.readyz(t); return st == http.StatusOK })
			expect(t, s.request(t, "GET", "/api/articles/"+a["id"].(string)+"/", tok, nil), http.StatusOK)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			damageFile(t, filepath.Join(dir, "inkwell.db"), damage)
			out, stderr, err := inkwell(t, dir, "replay")
			if err != nil || !strings.Contains(stderr, "the read-model database is damaged") || !strings.Contains(out, "articles: 2 events") {
				t.Fatalf("replay on a damaged file (%v):\n%s\n%s", err, out, stderr)
			}
			if set := setAside(t, dir); len(set) != 2 {
				t.Fatalf("set aside %v, want the two damaged files kept", set)
			}
		})
	}
}

// damageFile zeroes the file at path, or cuts it to a third.
func damageFile(t *testing.T, path, how string) {
	t.Helper()
	// What the write-ahead log still holds would make up for the damage
	// (SQLite reads those pages from it): fold it into the file first, as
	// SQLite does when its last connection closes, so that the damage is
	// to the data itself, however the server's last close went.
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	switch how {
	case "zeroed":
		err = os.WriteFile(path, make([]byte, fi.Size()), 0o600)
	case "truncated":
		err = os.Truncate(path, fi.Size()/3)
	default:
		err = errors.New("no such damage: " + how)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// setAside lists the read-model files set aside in dir.
func setAside(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "inkwell.db.damaged-*[0-9]Z"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
