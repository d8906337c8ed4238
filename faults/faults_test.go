//go:build heavy

package faults_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"inkwell/faults"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/comments"
	"inkwell/readmodels/follows"
	"inkwell/readmodels/users"
	"inkwell/testkit"
)

// The fault suite (built with -tags heavy, as .ci/run does) runs Inkwell as
// a process of its own under a load (four
// clients creating articles, commenting on them, favoriting them and
// following each other, each write sent with an Idempotency-Key and
// retried until acknowledged, and a client reading) and injects one fault per scenario: kill
// -9 of the server (three times, SQLite and PostgreSQL), a paused and a
// killed NATS server, PostgreSQL connections cut and frozen at a TCP proxy,
// a full disk under the embedded log. After each it checks that every
// acknowledged write is in the log and in the read models, that none is
// there twice, that each article's favorites_count, each follow and each
// feed are what the log says, that the read models equal a fresh rebuild
// from the log, that
// /readyz answers 200 within readyBound, and that no client saw a 500; and
// it prints a table of what happened (also written to
// artifacts/faults.md).

// readyBound is how long after the end of a fault /readyz may take to
// answer 200 again: a bound that only a broken system misses, even on a
// busy machine (the measured times are in the table).
const readyBound = 60 * time.Second

// workers is how many clients write at once.
const workers = 4

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		dir, err := os.MkdirTemp("", "inkwell-faults-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := buildBinaries(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
		code := testkit.Main(m, "inkwell/faults")
		os.RemoveAll(dir)
		results.print()
		os.Exit(code)
	}
	os.Exit(testkit.Main(m, "inkwell/faults"))
}

// row is one line of the table.
type row struct {
	fault                                   string
	attempted, acked, lost, dup, s500, s503 int
	noAnswer                                int
	// comments, favorites and follows are the acknowledged writes of each
	// kind (of acked; a favorite or follow taken back counts as one).
	comments, favorites, follows int
	stall, ready                 time.Duration
	// note says what else the scenario checked or measured (a takeover's
	// time, damage found, a restore's counts), in a few words.
	note string
}

// social is the row's comments, favorites and follows, "12 / 6 / 5".
func (r row) social() string { return fmt.Sprintf("%d / %d / %d", r.comments, r.favorites, r.follows) }

type table struct {
	mu   sync.Mutex
	rows []row
}

var results table

func (tb *table) add(r row) {
	tb.mu.Lock()
	tb.rows = append(tb.rows, r)
	tb.mu.Unlock()
}

// print writes the table to standard output and to artifacts/faults.md.
func (tb *table) print() {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.rows) == 0 {
		return
	}
	var b bytes.Buffer
	fmt.Fprintln(&b, "| fault | attempted | acknowledged | of them comments / favorites / follows | lost | duplicated | 500s | 503s | no answer | longest stall | time to ready | notes |")
	fmt.Fprintln(&b, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range tb.rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %s | %d | %d | %d | %d | %d | %.1f s | %.1f s | %s |\n", r.fault, r.attempted, r.acked, r.social(), r.lost, r.dup,
			r.s500, r.s503, r.noAnswer, r.stall.Seconds(), r.ready.Seconds(), r.note)
	}
	fmt.Printf("\nFAULT TABLE\n%s\n", b.String())
	if err := os.MkdirAll("../artifacts", 0o755); err == nil {
		_ = os.WriteFile("../artifacts/faults.md", b.Bytes(), 0o644)
	}
}

func TestFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: the fault suite takes minutes; it runs without -short (as .ci/run does)")
	}
	t.Run("kill-9 server SQLite", func(t *testing.T) { killServer(t, "kill -9 of the server ×3 (embedded log, SQLite)", false) })
	t.Run("kill-9 server PostgreSQL", func(t *testing.T) { killServer(t, "kill -9 of the server ×3 (embedded log, PostgreSQL)", true) })
	t.Run("NATS paused", func(t *testing.T) { externalNATS(t, "external NATS paused (SIGSTOP)", false) })
	t.Run("NATS killed", func(t *testing.T) { externalNATS(t, "external NATS killed (kill -9) and restarted", true) })
	t.Run("PostgreSQL cut", func(t *testing.T) { postgresProxy(t, "PostgreSQL connections cut ×3 (TCP proxy)", false) })
	t.Run("PostgreSQL frozen", func(t *testing.T) { postgresProxy(t, "PostgreSQL frozen (TCP proxy)", true) })
	t.Run("leader cut from NATS", func(t *testing.T) {
		leaderCutFromNATS(t, "the instance applying the read models cut off from NATS (its connection frozen)")
	})
	t.Run("leader paused", func(t *testing.T) {
		leaderPaused(t, "the instance applying the read models paused (SIGSTOP), its database sessions intact", false)
	})
	t.Run("leader paused, sessions ended", func(t *testing.T) {
		leaderPaused(t, "the instance applying the read models paused (SIGSTOP), the database sessions of its leases ended", true)
	})
	t.Run("disk full", func(t *testing.T) { diskFull(t, "full disk under the embedded log", "64MiB") })
	t.Run("disk full without reserve", func(t *testing.T) { diskFull(t, "full disk, no reserve (JetStream write error)", "0") })
	t.Run("backup under load", func(t *testing.T) { backupUnderLoad(t, "backup under the load, restored into an empty NATS") })
	t.Run("restore after erasure", func(t *testing.T) { restoreAfterErasure(t, "restore of a backup taken before an erasure") })
	t.Run("log byte flipped", func(t *testing.T) { damageLog(t, "a byte flipped in a block of the embedded log", flippedByte) })
	t.Run("log block truncated", func(t *testing.T) { damageLog(t, "a block of the embedded log cut short", truncatedBlock) })
	t.Run("log block truncated without index", func(t *testing.T) {
		damageLog(t, "a block of the embedded log cut short, its index lost", truncatedBlockNoIndex)
	})
	t.Run("read model damaged", func(t *testing.T) { damageReadModel(t, "the read-model file zeroed, then cut short") })
}

// serve starts an Inkwell process with env and waits until it is ready.
func serve(t *testing.T, env ...string) *inkwell {
	t.Helper()
	s := newInkwell(t, "inkwell", env...)
	s.startServing()
	s.waitReady(readyBound)
	return s
}

// serveUnderLoad starts an Inkwell process with env, waits until it is
// ready, and starts a load named name on it.
func serveUnderLoad(t *testing.T, name string, env ...string) (*inkwell, *load) {
	t.Helper()
	s := serve(t, env...)
	l := newLoad(t, name, s.url, workers)
	l.run()
	return s, l
}

// waitProgress waits until the load has n more writes acknowledged.
func waitProgress(t *testing.T, l *load, n int) {
	t.Helper()
	l.mu.Lock()
	target := l.ackedWrites + n
	l.mu.Unlock()
	testkit.WaitFor(t, 5*time.Minute, fmt.Sprintf("%d more acknowledged writes", n), func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.ackedWrites >= target
	})
}

// waitFailures waits until the load has met the fault (a 503 or a request
// without an answer) and the fault has lasted at least d.
func waitFailures(t *testing.T, l *load, d time.Duration) {
	t.Helper()
	l.mu.Lock()
	before := l.status503 + l.noAnswer
	l.mu.Unlock()
	start := time.Now()
	testkit.WaitFor(t, 5*time.Minute, "the load to meet the fault", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.status503+l.noAnswer > before && time.Since(start) >= d
	})
}

// killServer kills the server with SIGKILL three times under the load,
// restarting it each time on the same data directory.
func killServer(t *testing.T, fault string, postgres bool) {
	dir := t.TempDir()
	env := []string{"INKWELL_DATA_DIR=" + dir}
	live := filepath.Join(dir, "inkwell.db")
	if postgres {
		_, live = projectionstest.MustOpenPostgresURL(t)
		env = append(env, "INKWELL_DATABASE_URL="+live)
	}
	s, l := serveUnderLoad(t, "kill", env...)
	var ready time.Duration
	for round := 0; round < 3; round++ {
		waitProgress(t, l, 30)
		s.kill()
		killed := time.Now()
		s.startServing()
		s.waitReady(readyBound)
		ready = max(ready, time.Since(killed))
	}
	check(t, fault, s, l, live, postgres, ready)
}

// externalNATS pauses the NATS server (or kills it and starts it again)
// under the load.
func externalNATS(t *testing.T, fault string, kill bool) {
	nats := newNATS(t)
	nats.startServing()
	dir := t.TempDir()
	s, l := serveUnderLoad(t, "nats", "INKWELL_DATA_DIR="+dir, "INKWELL_NATS_URL="+nats.url)
	waitProgress(t, l, 30)
	if kill {
		nats.kill()
		waitFailures(t, l, 2*time.Second)
		nats.startServing()
	} else {
		nats.signal(syscall.SIGSTOP)
		waitFailures(t, l, 5*time.Second)
		nats.signal(syscall.SIGCONT)
	}
	ready := s.waitReady(readyBound)
	check(t, fault, s, l, filepath.Join(dir, "inkwell.db"), false, ready)
}

// postgresProxy cuts every PostgreSQL connection three times, or freezes
// them, at a TCP proxy between Inkwell and the database, under the load.
func postgresProxy(t *testing.T, fault string, freeze bool) {
	_, live := projectionstest.MustOpenPostgresURL(t)
	p, proxied := faults.ProxyURL(t, live)
	s, l := serveUnderLoad(t, "pg", "INKWELL_DATA_DIR="+t.TempDir(), "INKWELL_DATABASE_URL="+proxied)
	var ready time.Duration
	if freeze {
		waitProgress(t, l, 30)
		p.Freeze()
		frozen := time.Now()
		testkit.WaitFor(t, readyBound, "/readyz to report the frozen database", func() bool { return status(s.url+"/readyz") == 503 })
		<-time.After(time.Until(frozen.Add(5 * time.Second))) // the fault lasts 5 seconds
		p.Thaw()
		thawed := time.Now()
		s.waitReady(readyBound)
		ready = time.Since(thawed)
	} else {
		for round := 0; round < 3; round++ {
			waitProgress(t, l, 30)
			p.Cut()
			cut := time.Now()
			s.waitReady(readyBound)
			ready = max(ready, time.Since(cut))
		}
	}
	check(t, fault, s, l, live, true, ready)
}

// diskFull fills the filesystem of the data directory (a small tmpfs) under
// the load, then frees it.
func diskFull(t *testing.T, fault, reserve string) {
	dir := t.TempDir()
	unmount, err := faults.MountTmpfs(dir, "192m")
	if err != nil {
		testkit.Skip(t, "a tmpfs", fmt.Sprintf("run the suite as root (or with CAP_SYS_ADMIN), as .ci/run does (%v)", err))
	}
	t.Cleanup(func() { _ = unmount() })
	s, l := serveUnderLoad(t, "disk", "INKWELL_DATA_DIR="+dir, "INKWELL_MIN_FREE_DISK="+reserve)
	waitProgress(t, l, 30)
	leave := uint64(32 << 20) // below the 64MiB reserve
	if reserve == "0" {
		leave = 256 << 10 // the load fills the rest
	}
	filler, err := faults.FillDisk(dir, leave)
	if err != nil {
		t.Fatal(err)
	}
	waitFailures(t, l, 3*time.Second)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	ready := s.waitReady(readyBound)
	check(t, fault, s, l, filepath.Join(dir, "inkwell.db"), false, ready)
}

// check verifies the outcome of a scenario and adds its row to the table:
// every acknowledged write in the log and the read model, none twice, the
// read model equal to a fresh rebuild from the log, no 500 and no write
// left unacknowledged.
func check(t *testing.T, fault string, s *inkwell, l *load, live string, postgres bool, ready time.Duration) {
	t.Helper()
	waitProgress(t, l, 30)
	l.finish()
	s.waitReady(readyBound)
	r := verify(t, fault, s, l, live, postgres)
	r.ready = ready
	results.add(r)
	s.stop()
}

// verify checks the outcome of a finished load on the server s (whose
// read-model database is live) and returns its row: every acknowledged
// write is in the log once and in the read models (an article in the list
// of its author's, a comment in its article's, each article's
// favorites_count the favorites in the log, each follow in the profile and
// the feed), the read models equal a fresh rebuild from the log, and no
// client saw a 500 or gave up.
func verify(t *testing.T, fault string, s *inkwell, l *load, live string, postgres bool) row {
	t.Helper()
	start := time.Now()
	r := row{fault: fault, attempted: l.attempted, acked: l.ackedWrites, s500: l.status500, s503: l.status503,
		noAnswer: l.noAnswer, stall: l.stall, comments: l.social.nComments, favorites: l.social.nFavorites, follows: l.social.nFollows}

	g := readLog(t, s)
	for title, ids := range g.created {
		if len(ids) > 1 && strings.HasPrefix(title, l.name+" ") {
			r.dup += len(ids) - 1
			t.Errorf("%q was created %d times: %v", title, len(ids), ids)
		}
	}
	lost, dup := l.socialInLog(t, g)
	r.lost, r.dup = r.lost+lost, r.dup+dup

	// The read model: each worker's articles, once it shows every
	// acknowledged write (a 202 is acknowledged before the read model
	// shows it), or after a minute.
	var shown map[string]shownArticle // id → the article
	testkit.WaitFor(t, 5*time.Minute, "the read model", func() bool {
		shown = readModelArticles(t, l)
		for _, id := range l.acked {
			if _, ok := shown[id]; !ok {
				return time.Since(start) > time.Minute
			}
		}
		return true
	})
	for title, id := range l.acked {
		if !slices.Contains(g.created[title], id) || shown[id].Title != title {
			r.lost++
			t.Errorf("acknowledged %q (%s): in the log %v, in the read model %v", title, id, g.created[title], shown[id].Title == title)
		}
	}
	// The comments, favorites and follows, likewise.
	var problems []string
	var checked string
	testkit.WaitFor(t, 5*time.Minute, "the read models of comments, favorites and follows", func() bool {
		problems, checked = l.socialInReadModels(t, g, shown)
		return len(problems) == 0 || time.Since(start) > 2*time.Minute
	})
	for _, p := range problems {
		t.Errorf("the read models after the fault: %s", p)
	}
	t.Logf("%s: compared %s with the log", fault, checked)

	// The read models equal a fresh rebuild from the log.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	if postgres {
		_, fresh = projectionstest.MustOpenPostgresURL(t)
	}
	s.run("replay", "--database-url", fresh)
	projectionstest.SameRows(t, "the read models after the fault, against a fresh rebuild",
		snapshot(t, projectionstest.MustOpenURL(t, live)), snapshot(t, projectionstest.MustOpenURL(t, fresh)))

	if l.status500 > 0 || len(l.unexpected) > 0 {
		t.Errorf("%d answers were 500; unexpected answers: %v", l.status500, l.unexpected)
	}
	if l.giveUps > 0 {
		t.Errorf("%d writes were never acknowledged", l.giveUps)
	}
	if r.lost > 0 || r.dup > 0 {
		t.Errorf("%d acknowledged writes lost, %d duplicated", r.lost, r.dup)
	}
	t.Logf("%s: %d attempted, %d acknowledged (%d comments, %d favorites, %d follows), %d lost, %d duplicated, %d 500s, %d 503s, %d without an answer, longest stall %v",
		fault, r.attempted, r.acked, r.comments, r.favorites, r.follows, r.lost, r.dup, r.s500, r.s503, r.noAnswer, r.stall.Round(time.Millisecond))
	return r
}

// comparedReadModels are the read models the suite compares with a fresh
// rebuild: every one whose rows follow from the log alone.
func comparedReadModels() []projections.Projection {
	return []projections.Projection{users.ReadModel{}, articles.ReadModel{}, comments.ReadModel{}, follows.ReadModel{}}
}

// snapshot returns the rows of the compared read models in db, each
// table's rows in the order of all their values (projectionstest.Snapshot
// orders by the first two columns only, which do not set the order of the
// rows of a feed, whose key is three columns).
func snapshot(t *testing.T, db *projections.DB) projectionstest.Rows {
	t.Helper()
	rows := projectionstest.Snapshot(t, db, comparedReadModels()...)
	for _, list := range rows {
		slices.SortStableFunc(list, func(a, b map[string]any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
	}
	return rows
}

// shownArticle is an article of the load as the articles read model shows
// it.
type shownArticle struct {
	Title     string
	Author    string // the username
	Favorites int
}

// readModelArticles returns every article of the load's workers that the
// read model shows, by id.
func readModelArticles(t *testing.T, l *load) map[string]shownArticle {
	t.Helper()
	shown := map[string]shownArticle{}
	for _, w := range l.workers {
		// By cursor: a page by number skips at most api.MaxOffset articles.
		for cursor := ""; ; {
			status, body := l.send("GET", fmt.Sprintf("/api/articles/?author=%s&page_size=100%s", w.user, cursor), w.token, "", "")
			if status != 200 {
				t.Fatalf("list %s's articles: %d %s", w.user, status, body)
			}
			var list struct {
				Items []struct {
					ID, Title      string
					FavoritesCount int `json:"favorites_count"`
				} `json:"items"`
				Next *string `json:"next"`
			}
			if err := json.Unmarshal(body, &list); err != nil {
				t.Fatal(err)
			}
			for _, a := range list.Items {
				shown[a.ID] = shownArticle{Title: a.Title, Author: w.user, Favorites: a.FavoritesCount}
			}
			if list.Next == nil {
				break
			}
			cursor = "&cursor=" + *list.Next // base64url: nothing to escape
		}
	}
	return shown
}
