//go:build heavy

package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"inkwell/auth"
	"inkwell/projections"
	"inkwell/projections/projectionstest"
	"inkwell/testkit"
)

// A backup is taken by `inkwell backup` while the load writes, then
// restored by `inkwell restore` into an empty NATS server of its own (a
// process, reached by INKWELL_NATS_URL) with a new data directory: the
// disaster where the machine of the log is lost. The restored log must be
// the original's up to the backup's last event, event for event; every
// write acknowledged before the backup began must be there; nothing the
// load did not write; the restored read models must equal the original's
// rows for what they hold, and a fresh rebuild of the restored log.
func backupUnderLoad(t *testing.T, fault string) {
	dir := t.TempDir()
	s, l := serveUnderLoad(t, "backup", "INKWELL_DATA_DIR="+dir)
	b := takeBackup(t, s, l)
	waitProgress(t, l, 30) // the load goes on after the backup
	l.finish()
	last := backupLastSeq(t, b.out)

	r, restoreTook, restoreOut := restoreInto(t, s, b.dir)
	t.Logf("backup:\n%s\nrestore:\n%s", b.out, restoreOut)
	row := checkRestored(t, fault, s, r, l, b.before, last, filepath.Join(dir, "inkwell.db"), filepath.Join(r.dataDir, "inkwell.db"), false)
	row.note = fmt.Sprintf("backup of %d events in %.1f s under the load, restored with its read models in %.1f s; %d of the %d acknowledged articles restored: the %d acknowledged before the backup began, and those the log held at its snapshot",
		last, b.took.Seconds(), restoreTook.Seconds(), row.restoredAcked, len(l.acked), len(b.before))
	results.add(row.row)
	r.stop()
	s.stop()
}

// A user is erased after a backup was taken under the load; the log's
// machine is then lost, and the backup restored into an empty NATS
// server beside the PostgreSQL database the instances shared (which holds
// the ledger of erasures). The person must not come back: the restore
// erases them again (their data key destroyed, their erasure recorded
// again, their article deleted), and the rest is as for a backup under
// the load.
func restoreAfterErasure(t *testing.T, fault string) {
	dir := t.TempDir()
	_, live := projectionstest.MustOpenPostgresURL(t)
	s := serve(t, "INKWELL_DATA_DIR="+dir, "INKWELL_DATABASE_URL="+live)
	l := newLoad(t, "erasure", s.url, workers)
	victim := newLoad(t, "victim", s.url, 1).workers[0]
	status, body := l.send("PATCH", "/api/auth/me/", victim.token, "", `{"bio": "the victim's own secret biography"}`)
	if status != 200 {
		t.Fatalf("the victim's bio: %d %s", status, body)
	}
	status, body = l.send("POST", "/api/articles/", victim.token, "", `{"title": "the victim writes", "content": "words", "is_published": true}`)
	if status != 201 {
		t.Fatalf("the victim's article: %d %s", status, body)
	}
	var article struct{ ID string }
	json.Unmarshal(body, &article)
	status, body = l.send("GET", "/api/auth/me/", victim.token, "", "")
	var me struct{ ID string }
	if err := json.Unmarshal(body, &me); err != nil || status != 200 {
		t.Fatalf("the victim: %d %s", status, body)
	}
	l.run()
	b := takeBackup(t, s, l)
	if status, body := l.send("DELETE", "/api/auth/me/", victim.token, "", fmt.Sprintf(`{"password": "password-%s"}`, victim.user)); status != 204 {
		t.Fatalf("erase the victim: %d %s", status, body)
	}
	db := projectionstest.MustOpenURL(t, live)
	testkit.WaitFor(t, time.Minute, "the ledger of erasures to name the victim", func() bool {
		es, err := db.Erasures(context.Background())
		return err == nil && len(es) == 1 && es[0].UserID == me.ID
	})
	waitProgress(t, l, 30)
	l.finish()
	s.stop()
	last := backupLastSeq(t, b.out)

	r, restoreTook, restoreOut := restoreInto(t, s, b.dir, "INKWELL_DATABASE_URL="+live)
	t.Logf("backup:\n%s\nrestore:\n%s", b.out, restoreOut)
	if !strings.Contains(string(restoreOut), "1 of them not erased in the backup: 1 erasure recorded again in the log, 1 data key destroyed") {
		t.Errorf("the restore did not erase the victim again:\n%s", restoreOut)
	}
	rl := &load{t: t, urls: []string{r.url}}
	if status, _ := rl.send("POST", "/api/auth/login/", "", "", fmt.Sprintf(`{"username": %q, "password": "password-%s"}`, victim.user, victim.user)); status != 401 {
		t.Errorf("the erased victim logs in to the restored server: %d", status)
	}
	if status, _ := rl.send("GET", "/api/articles/"+article.ID+"/", "", "", ""); status != 404 {
		t.Errorf("the erased victim's article on the restored server: %d", status)
	}
	var registration []byte
	for _, line := range lines(r.run("events", "tail", "--from", "1", "--no-follow", "--type", "user.registered")) {
		if bytes.Contains(line, []byte(me.ID)) {
			registration = line
		}
	}
	if !bytes.Contains(registration, []byte(`"username":"[erased]"`)) || bytes.Contains(registration, []byte(victim.user)) {
		t.Errorf("the victim's registration in the restored log reads %s", registration)
	}
	row := checkRestored(t, fault, s, r, l, b.before, last, "", live, true)
	row.note = fmt.Sprintf("a user erased after the backup (%.1f s, %d events): the restore (%.1f s) erased them again (key destroyed, erasure recorded again, article deleted; login 401, article 404, registration [erased]); %d of %d articles acknowledged before the backup began restored",
		b.took.Seconds(), last, restoreTook.Seconds(), len(b.before), len(b.before))
	results.add(row.row)
	r.stop()
}

// backupTaken is a backup that `inkwell backup` took under a load.
type backupTaken struct {
	dir    string            // where it is
	before map[string]string // the writes acknowledged before it began
	out    []byte            // what the command wrote
	took   time.Duration
}

// takeBackup takes a backup of s with `inkwell backup` once l has made
// progress, while l goes on writing.
func takeBackup(t *testing.T, s *inkwell, l *load) backupTaken {
	t.Helper()
	waitProgress(t, l, 30)
	b := backupTaken{dir: filepath.Join(t.TempDir(), "backup"), before: ackedNow(l)}
	start := time.Now()
	b.out = s.run("backup", "--to", b.dir)
	b.took = time.Since(start)
	return b
}

// ackedNow returns the writes the load has had acknowledged so far.
func ackedNow(l *load) map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.acked)
}

// restored is an Inkwell server on a restored backup.
type restored struct {
	*inkwell
	dataDir string
	// ready is how long the server took to answer /readyz 200 once
	// started on the restored data.
	ready time.Duration
}

// restoreInto restores the backup taken of s into an empty NATS server of
// its own and a new data directory (with s's master key, as the operator
// copies it), configured further by env, and starts a server on it.
func restoreInto(t *testing.T, s *inkwell, backup string, env ...string) (*restored, time.Duration, []byte) {
	t.Helper()
	nats := newNATS(t)
	nats.startServing()
	data := t.TempDir()
	key, err := os.ReadFile(filepath.Join(envOf(s.env, "INKWELL_DATA_DIR"), auth.MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, auth.MasterKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	r := &restored{inkwell: newInkwell(t, "restored", append([]string{"INKWELL_DATA_DIR=" + data, "INKWELL_NATS_URL=" + nats.url}, env...)...), dataDir: data}
	start := time.Now()
	out := r.run("restore", "--from", backup)
	took := time.Since(start)
	started := time.Now()
	r.startServing()
	r.waitReady(readyBound)
	r.ready = time.Since(started)
	return r, took, out
}

func envOf(env []string, name string) string {
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, name+"="); ok {
			return v
		}
	}
	return ""
}

// backupLastSeq reads the log's last sequence from inkwell backup's
// output.
func backupLastSeq(t *testing.T, out []byte) uint64 {
	t.Helper()
	m := regexp.MustCompile(`the log's [0-9,]+ events, sequences [0-9,]+ to ([0-9,]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("inkwell backup said:\n%s", out)
	}
	var n uint64
	fmt.Sscan(strings.ReplaceAll(string(m[1]), ",", ""), &n)
	return n
}

// restoredRow is a row of the table and what it counted.
type restoredRow struct {
	row
	restoredAcked int
}

// checkRestored checks a server r restored from a backup of s's log taken
// at its sequence last, while the load l wrote: r's log is s's up to
// last, event for event; every write acknowledged before the backup began
// (before) is in r's log and read model, once; r holds no article the
// load did not write; r's read models equal a fresh rebuild of its log,
// and the original's rows of what r holds (when origDB is given).
func checkRestored(t *testing.T, fault string, s *inkwell, r *restored, l *load, before map[string]string, last uint64, origDB, restoredDB string, postgres bool) restoredRow {
	t.Helper()
	out := restoredRow{row: row{fault: fault, attempted: l.attempted, acked: l.ackedWrites, s500: l.status500, s503: l.status503, noAnswer: l.noAnswer,
		stall: l.stall, ready: r.ready, comments: l.social.nComments, favorites: l.social.nFavorites, follows: l.social.nFollows}}

	// The log, event for event (as inkwell events tail prints them).
	origLines := lines(s.run("events", "tail", "--from", "1", "--no-follow"))
	restLines := lines(r.run("events", "tail", "--from", "1", "--no-follow"))
	if uint64(len(origLines)) < last || uint64(len(restLines)) < last || !reflect.DeepEqual(restLines[:last], origLines[:last]) {
		t.Fatalf("the restored log's first %d events are not the original's (restored %d events, original %d)", last, len(restLines), len(origLines))
	}

	// The load's writes in the restored log and read model.
	created := map[string][]string{}
	for _, line := range restLines {
		var ev struct {
			Type      string
			Aggregate struct{ ID string } `json:"aggregate"`
			Data      struct{ Title string }
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == "article.created" {
			created[ev.Data.Title] = append(created[ev.Data.Title], ev.Aggregate.ID)
		}
	}
	rl := &load{t: t, name: l.name, urls: []string{r.url}, workers: l.workers}
	shown := readModelArticles(t, rl)
	for title, id := range before {
		if !slices.Contains(created[title], id) || shown[id].Title != title {
			out.lost++
			t.Errorf("%q (%s), acknowledged before the backup began: in the restored log %v, in its read model %v", title, id, created[title], shown[id].Title == title)
		}
	}
	for title, ids := range created {
		if len(ids) > 1 {
			out.dup += len(ids) - 1
			t.Errorf("%q is in the restored log %d times", title, len(ids))
		}
		if strings.HasPrefix(title, l.name+" ") {
			if id, ok := l.acked[title]; ok && id == ids[0] {
				out.restoredAcked++
			}
		}
	}

	// The read models: a fresh rebuild of the restored log gives them,
	// and the original's rows of what they hold are theirs.
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	if postgres {
		_, fresh = projectionstest.MustOpenPostgresURL(t)
	}
	r.run("replay", "--database-url", fresh)
	open := func(url string) *projections.DB { return projectionstest.MustOpenURL(t, url) }
	rest := snapshot(t, open(restoredDB))
	projectionstest.SameRows(t, "the restored read models, against a fresh rebuild of the restored log", rest, snapshot(t, open(fresh)))
	if origDB != "" {
		orig := snapshot(t, open(origDB))
		for _, table := range []string{"users", "articles"} {
			byID := map[any]map[string]any{}
			for _, row := range orig[table] {
				byID[row["id"]] = row
			}
			for _, row := range rest[table] {
				// Favorites taken and taken back after the backup change
				// an article's count in the original, not in the backup.
				restRow, origRow := maps.Clone(row), maps.Clone(byID[row["id"]])
				delete(restRow, "favorites_count")
				delete(origRow, "favorites_count")
				if !reflect.DeepEqual(restRow, origRow) {
					t.Errorf("the restored %s row %v differs from the original's %v", table, row, byID[row["id"]])
				}
			}
		}
	}
	if l.status500 > 0 || len(l.unexpected) > 0 {
		t.Errorf("%d answers were 500; unexpected answers: %v", l.status500, l.unexpected)
	}
	return out
}
