//go:build heavy

package faults_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"inkwell/eventstore/eventstoretest"
	"inkwell/testkit"
)

// Damage to the files of a stopped Inkwell, under the write load: a byte
// flipped in a block of the embedded log, a block cut short (with its
// index, or without it, when the log then ends before the read models), a
// read-model file zeroed and cut short. Inkwell is stopped (SIGTERM), the
// files damaged, and Inkwell started again; the scenario checks that the
// damage is noticed (at start-up, and on /readyz, with what to do), does
// what the operator is told (accept the loss and rebuild the read models,
// or restore the log from a backup), and that the system serves again with
// every acknowledged write that the damage did not take, read models equal
// to a fresh rebuild.

// logDamage names a damage of the embedded log.
type logDamage int

const (
	flippedByte logDamage = iota
	truncatedBlock
	truncatedBlockNoIndex
)

// damageLog runs a scenario of damage to the embedded log.
func damageLog(t *testing.T, fault string, damage logDamage) {
	dir := t.TempDir()
	s, l := serveUnderLoad(t, "damage", "INKWELL_DATA_DIR="+dir)
	waitProgress(t, l, 30)
	backup := filepath.Join(t.TempDir(), "backup")
	var beforeBackup map[string]string
	if damage == truncatedBlock {
		// The operator's backup, under the load.
		beforeBackup = ackedNow(l)
		s.run("backup", "--to", backup)
		waitProgress(t, l, 10)
	}

	s.stop()
	// An acknowledged write of the load: the middle one, or for a cut the
	// fifth from the end (the block loses it and what follows it).
	created := articlesCreated(t, s, l)
	victim := created[len(created)/2]
	if damage != flippedByte {
		victim = created[max(0, len(created)-5)]
	}
	storeDir := filepath.Join(dir, "nats")
	switch damage {
	case flippedByte:
		eventstoretest.FlipByte(t, storeDir, "INKWELL", victim.ID)
	default:
		eventstoretest.TruncateAt(t, storeDir, "INKWELL", victim.ID)
		if damage == truncatedBlockNoIndex {
			eventstoretest.RemoveIndex(t, storeDir, "INKWELL")
		}
	}
	restarted := time.Now()
	s.startServing()

	// Noticed: /readyz names the loss and says what to do, and the log
	// says it once at error level.
	var check string
	testkit.WaitFor(t, readyBound, "/readyz to report the damage", func() bool {
		st, checks := readyz(t, s.url)
		check = checks["event_log_integrity"]
		return st == 503 && strings.Contains(check, "accept-loss --seq ")
	})
	found := time.Since(restarted)
	if !strings.Contains(check, fmt.Sprintf("sequence %d", victim.Seq)) && damage == flippedByte {
		t.Errorf("/readyz does not name the damaged event %d: %s", victim.Seq, check)
	}
	if logged := serverLog(t, s); strings.Count(logged, "THE EVENT LOG IS DAMAGED") != 1 {
		t.Errorf("the damage is logged %d times at error level, want once", strings.Count(logged, "THE EVENT LOG IS DAMAGED"))
	}
	seqs := regexp.MustCompile(`accept-loss --seq ([0-9,-]+) `).FindStringSubmatch(check)[1]

	var note string
	switch damage {
	case truncatedBlock:
		// The operator restores the backup into an empty log, Inkwell
		// stopped: the writes acknowledged after it are lost with it.
		s.stop()
		if err := os.RemoveAll(storeDir); err != nil {
			t.Fatal(err)
		}
		s.run("restore", "--from", backup)
		s.startServing()
		lost := dropLost(t, s, l)
		after := ackedNow(l)
		for title := range beforeBackup {
			if _, ok := after[title]; !ok {
				t.Errorf("%q, acknowledged before the backup began, is not in the restored log", title)
			}
		}
		note = fmt.Sprintf("loss of %s found at start-up in %.1f s; the log restored from a backup taken under the load: %s after it lost with it",
			seqs, found.Seconds(), writes(lost))
	default:
		// The operator accepts the loss and rebuilds the read models.
		s.run("events", "accept-loss", "--seq", seqs, "--reason", "the fault suite's damage; no backup")
		s.run("replay")
		// What the damage took is not the system's loss: the load forgets
		// it, and the note says how much it was.
		lost := dropLost(t, s, l)
		note = fmt.Sprintf("loss of %s found %.1f s after start-up; accepted and replayed: %s lost with the damaged file", seqs, found.Seconds(), writes(lost))
		if damage == truncatedBlockNoIndex {
			note = fmt.Sprintf("log ended before the read models (writes refused, 503): %s; accepted and replayed: %s lost with the damaged file", seqs, writes(lost))
		}
	}
	ready := s.waitReady(readyBound)
	waitProgress(t, l, 20)
	l.finish()
	s.waitReady(readyBound)
	r := verify(t, fault, s, l, filepath.Join(dir, "inkwell.db"), false)
	r.ready, r.note = ready, note
	results.add(r)
	s.stop()
}

// damageReadModel zeroes the read-model file of a stopped Inkwell, then
// cuts it short, under the load; each time Inkwell sets it aside and fills
// a new one from the log.
func damageReadModel(t *testing.T, fault string) {
	dir := t.TempDir()
	s, l := serveUnderLoad(t, "readmodel", "INKWELL_DATA_DIR="+dir)
	var ready time.Duration
	file := filepath.Join(dir, "inkwell.db")
	for _, damage := range []string{"zeroed", "truncated"} {
		waitProgress(t, l, 30)
		s.stop()
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if damage == "zeroed" {
			err = os.WriteFile(file, make([]byte, fi.Size()), 0o600)
		} else {
			err = os.Truncate(file, fi.Size()/3)
		}
		if err != nil {
			t.Fatal(err)
		}
		restarted := time.Now()
		s.startServing()
		s.waitReady(readyBound)
		ready = max(ready, time.Since(restarted))
	}
	set, err := filepath.Glob(file + ".damaged-*Z")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(serverLog(t, s), "the read-model database is damaged"); len(set) != 2 || n != 2 {
		t.Errorf("set aside %v, said so %d times; want both damaged files kept and said", set, n)
	}
	waitProgress(t, l, 20)
	l.finish()
	s.waitReady(readyBound)
	r := verify(t, fault, s, l, file, false)
	r.ready = ready
	r.note = fmt.Sprintf("both set aside (kept) and refilled from the log; ready %.1f s after start at most", ready.Seconds())
	results.add(r)
	s.stop()
}

// created is an article.created event of the log.
type created struct {
	Seq     uint64
	ID      string
	Article string
	Title   string
}

// articlesCreated lists the article.created events of the log that are
// acknowledged writes of l, in log order (the server stopped: the command
// runs the embedded log itself).
func articlesCreated(t *testing.T, s *inkwell, l *load) []created {
	t.Helper()
	l.mu.Lock()
	acked := map[string]bool{}
	for _, id := range l.acked {
		acked[id] = true
	}
	l.mu.Unlock()
	var out []created
	for _, line := range lines(s.run("events", "tail", "--from", "1", "--no-follow", "--type", "article.created")) {
		var ev struct {
			Seq       uint64
			ID        string
			Aggregate struct{ ID string }
			Data      struct{ Title string }
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			t.Fatal(err)
		}
		if acked[ev.Aggregate.ID] {
			out = append(out, created{Seq: ev.Seq, ID: ev.ID, Article: ev.Aggregate.ID, Title: ev.Data.Title})
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d acknowledged articles in the log", len(out))
	}
	return out
}

// dropLost removes from the load's acknowledged writes those the log no
// longer holds (the damage took them, and the operator accepted it): the
// articles, and the comments, favorites and follows (a comment goes with
// its article); it returns how many.
func dropLost(t *testing.T, s *inkwell, l *load) int {
	t.Helper()
	// Those acknowledged before the log is read: a write acknowledged
	// since is in the log, past where the read ended.
	l.mu.Lock()
	before, ackedBefore := maps.Clone(l.acked), l.ackedWrites
	l.mu.Unlock()
	g := readLog(t, s)
	l.mu.Lock()
	n := 0
	for title, id := range before {
		if !g.articles[id] {
			delete(l.acked, title)
			n++
		}
	}
	l.mu.Unlock()
	// The comments, favorites and follows it took with them.
	return n + l.forgetSocialLost(g, ackedBefore)
}

// writes says "1 acknowledged write", "5 acknowledged writes".
func writes(n int) string {
	if n == 1 {
		return "1 acknowledged write"
	}
	return fmt.Sprintf("%d acknowledged writes", n)
}

// readyz returns the status of /readyz and its checks.
func readyz(t *testing.T, url string) (int, map[string]string) {
	t.Helper()
	resp, err := probe.Get(url + "/readyz")
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body struct{ Checks map[string]string }
	_ = json.Unmarshal(b, &body)
	return resp.StatusCode, body.Checks
}

// serverLog returns what the server process logged so far.
func serverLog(t *testing.T, s *inkwell) string {
	t.Helper()
	b, err := os.ReadFile(s.log)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
