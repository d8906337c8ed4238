package projections

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recordsTo is a slog handler that hands every record to a channel.
type recordsTo chan slog.Record

func (h recordsTo) Enabled(context.Context, slog.Level) bool { return true }
func (h recordsTo) Handle(_ context.Context, r slog.Record) error {
	h <- r
	return nil
}
func (h recordsTo) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordsTo) WithGroup(string) slog.Handler      { return h }

// attr returns the value of r's attribute key, as text.
func attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

// A checkpoint that fails is told, not only tried again: the database's
// write-ahead log grows until one succeeds.
func TestAFailedCheckpointIsLogged(t *testing.T) {
	x, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "gone.db"))
	if err != nil {
		t.Fatal(err)
	}
	x.Close() // every checkpoint fails: the database is closed
	lock := newWriterLock(time.Second)
	c := newCheckpointer(x, lock)
	logged := make(recordsTo, 10)
	c.log.Store(slog.New(logged))
	defer c.start().close()
	lock.written <- struct{}{}
	select {
	case r := <-logged:
		if r.Level != slog.LevelWarn || !strings.Contains(r.Message, "checkpoint of the SQLite write-ahead log failed") ||
			!strings.Contains(attr(r, "err"), "closed") || attr(r, "failed_in_a_row") != "1" {
			t.Fatalf("logged %s %q err=%q failed_in_a_row=%q, want a warning of the failed checkpoint", r.Level, r.Message, attr(r, "err"), attr(r, "failed_in_a_row"))
		}
	case <-time.After(time.Minute):
		t.Fatal("a failed checkpoint was not logged")
	}
}

// Checkpoints that keep failing are logged once a minute, not at each
// attempt, and the first success after them is logged too.
func TestCheckpointFailuresAreLoggedOnceAMinute(t *testing.T) {
	logged := make(recordsTo, 10)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &checkpointer{now: func() time.Time { return now }}
	failed := errors.New("disk I/O error")
	// A failure before the checkpointer has a log does not keep the next
	// one from being told.
	c.report(failed, 0)
	c.log.Store(slog.New(logged))
	steps := []struct {
		after time.Duration
		err   error
		want  string // the level and failures of the line logged, "" for none
	}{
		{0, failed, "WARN 2"},
		{0, nil, "INFO 2"},
		{0, failed, "WARN 1"},
		{time.Second, failed, ""},
		{checkpointWarnEvery - 2*time.Second, failed, ""},
		{2 * time.Second, failed, "WARN 4"},
		{time.Second, nil, "INFO 4"},
		{time.Second, nil, ""},
		{time.Second, failed, "WARN 1"},
	}
	for i, s := range steps {
		now = now.Add(s.after)
		c.report(s.err, 100)
		got := ""
		select {
		case r := <-logged:
			got = r.Level.String() + " " + attr(r, "failed_in_a_row") + attr(r, "failed_before")
		default:
		}
		if got != s.want {
			t.Fatalf("step %d (%v): logged %q, want %q", i, s.err, got, s.want)
		}
	}
}
