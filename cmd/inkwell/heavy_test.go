//go:build heavy

package main_test

// The tests of this file take long (a full disk, a database down and back,
// a client cut off after the server's header timeout) and some need root:
// they run with -tags heavy, as .ci/run does.

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dustin/go-humanize"

	main "inkwell/cmd/inkwell"
	"inkwell/faults"
	"inkwell/projections/projectionstest"
	"inkwell/testkit"
)

func init() { heavyTests = true }

// With PostgreSQL refusing connections, or holding them without answering,
// reads answer a 503 naming the database in bounded time (never a 500, never
// a hang), /readyz says so, writes are recorded in the log (answered 202
// while the read model cannot show them), and everything recovers by itself
// when the database is back: the read model then holds those writes.
func TestDatabaseDownIsA503(t *testing.T) {
	t.Parallel()
	_, pgURL := projectionstest.MustOpenPostgresURL(t)
	p, proxied := faults.ProxyURL(t, pgURL)
	s := startServer(t, func(c *main.Config) { c.DatabaseURL = proxied; c.ReadYourWritesTimeout = time.Second })
	tok := s.registerUser(t, "writer").AccessToken
	before := s.createArticle(t, tok, map[string]any{"title": "Before", "is_published": true})

	var during response
	for round, fault := range []func(){func() { p.Refuse(true); p.Cut() }, p.Freeze} {
		name := []string{"refusing connections", "frozen"}[round]
		fault()
		timed(t, "list with the database "+name, func() {
			expectUnavailable(t, s.request(t, "GET", "/api/articles/", "", nil), "database")
		})
		timed(t, "one article with the database "+name, func() {
			expectUnavailable(t, s.request(t, "GET", "/api/articles/"+before["slug"].(string)+"/", "", nil), "database")
		})
		if st, checks := s.readyz(t); st != 503 || checks["database"] == "ok" {
			t.Fatalf("readyz %d %v with the database %s", st, checks, name)
		}
		timed(t, "create with the database "+name, func() {
			during = s.request(t, "POST", "/api/articles/", tok, map[string]any{"title": "During " + name, "is_published": true})
		})
		if during.Status != http.StatusAccepted {
			t.Fatalf("create with the database %s: %d %s, want 202 (recorded, not yet readable)", name, during.Status, during.Body)
		}
		p.Refuse(false)
		p.Thaw()
		testkit.WaitFor(t, 2*time.Minute, "reads to work again", func() bool {
			return s.request(t, "GET", "/api/articles/", "", nil).Status == 200
		})
		testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200", func() bool { st, _ := s.readyz(t); return st == 200 })
		testkit.WaitFor(t, 2*time.Minute, "the write made meanwhile to show", func() bool {
			return s.request(t, "GET", during.Header.Get("Location"), "", nil).Status == 200
		})
	}
}

// mountTmpfs mounts a small tmpfs at a new directory, unmounted when the
// test ends, or skips the test saying why.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	unmount, err := faults.MountTmpfs(dir, size)
	if err != nil {
		testkit.Skip(t, "a tmpfs", fmt.Sprintf("run the tests as root (or with CAP_SYS_ADMIN), as .ci/run does (%v)", err))
	}
	t.Cleanup(func() {
		if err := unmount(); err != nil {
			t.Error(err)
		}
	})
	return dir
}

// fill fills the disk under dir but for leave bytes (see faults.FillDisk).
func fill(t *testing.T, dir string, leave uint64) string {
	t.Helper()
	path, err := faults.FillDisk(dir, leave)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// A full disk under the embedded log: below the reserve, writes are refused
// at once with a 503 naming the log and /readyz says why; once there is
// room, writes resume without a restart.
func TestFullDiskRefusesWritesAndRecovers(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "64m")
	s := startServer(t, func(c *main.Config) { c.DataDir = dir; c.MinFreeDisk = "16MiB" })
	tok := s.registerUser(t, "writer").AccessToken
	s.createArticle(t, tok, map[string]any{"title": "Before"})

	filler := fill(t, dir, 8<<20)
	testkit.WaitFor(t, 2*time.Minute, "/readyz to report the log not writable", func() bool {
		st, checks := s.readyz(t)
		return st == 503 && strings.Contains(checks["event_log"], "reserve")
	})
	s.appendsNothing(t, "a write on a full disk", func() {
		timed(t, "create on a full disk", func() {
			expectUnavailable(t, s.request(t, "POST", "/api/articles/", tok, map[string]any{"title": "During"}), "event_log")
		})
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200", func() bool { st, _ := s.readyz(t); return st == 200 })
	s.createArticle(t, tok, map[string]any{"title": "After"})
}

// Without a reserve the disk fills for real: JetStream fails a write and
// then every write until it reloads its store. Nothing acknowledged is
// lost, no write is answered 500, and once there is room the guard restarts
// the embedded JetStream: writes resume without a restart of Inkwell.
func TestFullDiskWithoutReserveRecovers(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, "64m")
	s := startServer(t, func(c *main.Config) { c.DataDir = dir; c.MinFreeDisk = "0" })
	tok := s.registerUser(t, "writer").AccessToken

	// Leave a little room: the writes below fill it, some acknowledged
	// while JetStream still holds them in memory.
	filler := fill(t, dir, 256<<10)
	var acked []string
	for i := 0; ; i++ {
		r := s.request(t, "POST", "/api/articles/", tok, map[string]any{"title": fmt.Sprint("Filling ", i)})
		if r.Status == 201 || r.Status == 202 {
			acked = append(acked, r.Map(t)["id"].(string))
			continue
		}
		expectUnavailable(t, r, "event_log")
		break
	}
	// /readyz says how much room JetStream needs to take writes again
	// (what it holds in memory, and a margin), and that much is enough.
	var need uint64
	var said string
	testkit.WaitFor(t, 2*time.Minute, "/readyz to report the log not writable, and the room it needs", func() bool {
		st, checks := s.readyz(t)
		said = checks["event_log"]
		m := roomNeeded.FindStringSubmatch(said)
		if st != 503 || m == nil {
			return false
		}
		n, err := humanize.ParseBytes(m[1])
		need = n
		return err == nil
	})
	t.Logf("/readyz: %s", said)
	if need >= 16<<20 {
		t.Fatalf("JetStream asks for %s to take writes again: more than what it holds unwritten and its files need", humanize.IBytes(need))
	}
	// That room, and a little for the read model's own file (SQLite, on
	// the same disk), is made; not all of the filler is removed.
	if err := free(filler, dir, need+(1<<20)); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 2*time.Minute, "writes to work again", func() bool {
		return s.request(t, "POST", "/api/articles/", tok, map[string]any{"title": "After"}).Status == 201
	})
	testkit.WaitFor(t, 2*time.Minute, "/readyz to answer 200", func() bool { st, _ := s.readyz(t); return st == 200 })
	for _, id := range acked {
		testkit.WaitFor(t, 2*time.Minute, "acknowledged article "+id+" to show", func() bool {
			return s.request(t, "GET", "/api/articles/"+id+"/", tok, nil).Status == 200
		})
	}
	t.Logf("%d writes acknowledged before the disk was full, all present", len(acked))
}

// roomNeeded finds the room /readyz says the embedded JetStream needs to
// take writes again.
var roomNeeded = regexp.MustCompile(`once ([0-9.]+ [KMGT]?i?B) are free`)

// free shrinks filler, a file filling the disk under dir, until at least
// room bytes are free there.
func free(filler, dir string, room uint64) error {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return err
	}
	have := st.Bavail * uint64(st.Bsize)
	if have >= room {
		return nil
	}
	fi, err := os.Stat(filler)
	if err != nil {
		return err
	}
	return os.Truncate(filler, max(0, fi.Size()-int64(room-have)))
}

// Slow clients are timed out: a request whose headers never end is cut off.
func TestSlowHeadersTimeOut(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /api/articles/ HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	// The server gives a client 10s to send its headers; this test's own
	// deadline is only a backstop.
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
	start := time.Now()
	buf := make([]byte, 512)
	for {
		_, err := conn.Read(buf)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the server held a client that never finished its headers for %v", time.Since(start))
		}
		if err != nil {
			break // the server closed the connection
		}
	}
	t.Logf("the server closed the connection after %v", time.Since(start).Round(time.Millisecond))
}
