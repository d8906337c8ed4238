// The replay benchmark: `inkwell replay` of a log made through the API,
// beside a plain ordered read of the same log (the ceiling).

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"inkwell/eventstore"
)

var (
	replayMode = flag.Bool("replay", false, "measure inkwell replay instead of the endpoints: on the log of -replay-dir, or of a data set of -articles built through the API; "+
		"beside a plain ordered read of the same log, on SQLite and (with -database) PostgreSQL")
	replayDir = flag.String("replay-dir", "", "with -replay: a directory a run with -keep left (it holds data/), whose log is replayed rather than a new one (its SQLite read models are replayed in place)")
)

// replayResult is one dialect's `inkwell replay` of the log.
type replayResult struct {
	dialect      string
	events       uint64
	took         time.Duration
	eventsPerSec float64
	peakRSS      int64         // bytes, the replay process's
	cpu          time.Duration // the replay process's, user and system
}

// runReplay measures, on one log: how long the embedded log takes to open,
// the rate of a plain ordered read of the whole stream (nats.go, batches
// of 2,048), and `inkwell replay` of it on each dialect, with the replay
// process's peak resident memory.
func runReplay(ctx context.Context, c config) error {
	work := *replayDir
	if work == "" {
		var err error
		work, err = buildReplayLog(ctx, &c)
		if work != "" && !c.keep {
			defer os.RemoveAll(work)
		}
		if err != nil {
			return err
		}
	} else if c.binary == "" {
		var err error
		if c.binary, err = build(ctx, work); err != nil {
			return err
		}
	}
	data := filepath.Join(work, "data")
	raw, opened, err := readLog(ctx, data)
	if err != nil {
		return fmt.Errorf("read the log: %w", err)
	}
	var results []replayResult
	sqlite, err := replayOnce(ctx, c.binary, data, "", "SQLite")
	if err != nil {
		return err
	}
	results = append(results, sqlite)
	if c.database != "" {
		dbURL, drop, err := database(c)
		if err != nil {
			return err
		}
		pg, err := replayOnce(ctx, c.binary, data, dbURL, "PostgreSQL")
		drop()
		if err != nil {
			return err
		}
		results = append(results, pg)
	}
	fmt.Printf("\nthe log: %d events; the embedded log opened (the stream restored) in %s\n", raw.events, opened.Round(time.Millisecond))
	fmt.Printf("plain ordered read of the whole stream (nats.go, batches of 2,048): %.0f events/s\n\n", raw.eventsPerSec)
	fmt.Println("| dialect | events replayed | took | events/s | ratio to the ordered read | CPU of the replay | events per CPU second | peak RSS of the replay |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range results {
		fmt.Printf("| %s | %d | %.1f s | %.0f | %.2f | %.1f s | %.0f | %d MB |\n", r.dialect, r.events, r.took.Seconds(), r.eventsPerSec, r.eventsPerSec/raw.eventsPerSec,
			r.cpu.Seconds(), float64(r.events)/r.cpu.Seconds(), r.peakRSS>>20)
	}
	return nil
}

// buildReplayLog builds a data set of c.articles through the API on SQLite
// (the log is the same whatever the read models' database) and stops the
// server, returning the directory holding data/.
func buildReplayLog(ctx context.Context, c *config) (string, error) {
	work, err := os.MkdirTemp("", "inkwell-bench-")
	if err != nil {
		return "", err
	}
	if c.keep {
		fmt.Println("data directory:", work)
	}
	if c.binary == "" {
		if c.binary, err = build(ctx, work); err != nil {
			return work, err
		}
	}
	srv, err := start(ctx, c.binary, work, "")
	if err != nil {
		return work, err
	}
	defer srv.stop()
	began := time.Now()
	if _, err := seed(ctx, *c, srv); err != nil {
		return work, fmt.Errorf("build the data set: %w", err)
	}
	fmt.Printf("data set of %d articles built through the API in %s\n", c.articles, time.Since(began).Round(time.Second))
	return work, nil
}

// rawRead is a plain ordered read of the whole log.
type rawRead struct {
	events       uint64
	eventsPerSec float64
}

// readLog opens the embedded log of the data directory data, as `inkwell
// serve` does, timing how long it takes, and reads every message of the
// stream in order with an ordered consumer fetching 2,048 at a time.
func readLog(ctx context.Context, data string) (rawRead, time.Duration, error) {
	// The data directory's lock, as Inkwell takes it: no server may run on
	// the log while this process opens it.
	lock, err := os.OpenFile(filepath.Join(data, "inkwell.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return rawRead{}, 0, err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return rawRead{}, 0, fmt.Errorf("lock %s (is Inkwell running on it?): %w", data, err)
	}
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	// The server's notices (at debug level) say what each stream's restore
	// took.
	var notices bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&notices, &slog.HandlerOptions{Level: slog.LevelDebug}))
	began := time.Now()
	ns, err := eventstore.StartEmbedded(eventstore.EmbeddedConfig{StoreDir: filepath.Join(data, "nats"), DontListen: true, Token: token, Logger: logger})
	if err != nil {
		return rawRead{}, 0, err
	}
	defer ns.Shutdown()
	nc, err := eventstore.ConnectEmbedded(ns, token)
	if err != nil {
		return rawRead{}, 0, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return rawRead{}, 0, err
	}
	stream, err := js.Stream(ctx, "INKWELL")
	if err != nil {
		return rawRead{}, 0, err
	}
	opened := time.Since(began)
	for _, line := range strings.Split(notices.String(), "\n") {
		if strings.Contains(line, "Restored") && strings.Contains(line, "INKWELL") {
			fmt.Println("embedded NATS:", line)
		}
	}
	state := stream.CachedInfo().State
	fmt.Printf("the stream: %d messages, %d subjects (one per aggregate), %d MiB\n", state.Msgs, state.NumSubjects, state.Bytes>>20)
	last := state.LastSeq
	if last == 0 {
		return rawRead{}, opened, errors.New("the log is empty")
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return rawRead{}, opened, err
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(2048))
	if err != nil {
		return rawRead{}, opened, err
	}
	defer it.Stop()
	var n uint64
	readBegan := time.Now()
	for {
		m, err := it.Next()
		if err != nil {
			return rawRead{}, opened, err
		}
		md, err := m.Metadata()
		if err != nil {
			return rawRead{}, opened, err
		}
		n++
		if md.Sequence.Stream >= last {
			break
		}
	}
	return rawRead{events: n, eventsPerSec: float64(n) / time.Since(readBegan).Seconds()}, opened, nil
}

// replayLine is the last line `inkwell replay` prints.
var replayLine = regexp.MustCompile(`replayed \d+ read models in one pass over the log: ([\d,]+) events in ([\d.]+)s`)

// replayOnce runs `inkwell replay` on the data directory data, on the
// database dbURL (SQLite in data when empty), and returns what it printed
// with the process's peak resident memory.
func replayOnce(ctx context.Context, binary, data, dbURL, dialect string) (replayResult, error) {
	cmd := exec.CommandContext(ctx, binary, "replay")
	cmd.Env = append(os.Environ(), "INKWELL_DATA_DIR="+data, "INKWELL_DATABASE_URL="+dbURL, "INKWELL_LOG_LEVEL=warn")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return replayResult{}, fmt.Errorf("inkwell replay on %s: %w", dialect, err)
	}
	peak := watchPeak(cmd.Process.Pid)
	err := cmd.Wait()
	hwm := peak()
	if err != nil {
		return replayResult{}, fmt.Errorf("inkwell replay on %s: %w: %s", dialect, err, errOut.String())
	}
	if hwm == 0 {
		return replayResult{}, fmt.Errorf("inkwell replay on %s: its peak resident memory could not be read from /proc/%d/status", dialect, cmd.Process.Pid)
	}
	res := replayResult{dialect: dialect, took: time.Since(began), peakRSS: int64(hwm) << 10}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		if m := replayLine.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.ParseUint(string(bytes.ReplaceAll([]byte(m[1]), []byte(","), nil)), 10, 64)
			secs, _ := strconv.ParseFloat(m[2], 64)
			res.events = n
			if secs > 0 {
				res.eventsPerSec = float64(n) / secs
			}
		}
	}
	if res.events == 0 {
		return res, fmt.Errorf("inkwell replay on %s printed no summary: %s", dialect, out.String())
	}
	return res, nil
}

// peakPoll is how often watchPeak reads a process's peak resident memory.
const peakPoll = 20 * time.Millisecond

// watchPeak reads the peak resident memory (VmHWM) of process pid until
// the function it returns is called (once the process has ended), which
// returns the last reading, in kB (0 if there was none). The peak that
// wait4 reports (rusage's maxrss) will not do: a child started by Go's
// os/exec (vfork, then exec) inherits its parent's peak, and the
// benchmark, which holds the log open itself, peaked above a replay of a
// million events (see docs/performance.md). VmHWM is the child's own
// memory's; what the child reaches in its last poll interval is missed.
func watchPeak(pid int) func() int {
	var hwm atomic.Int64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(peakPoll)
		defer t.Stop()
		for {
			if _, h, ok := procStatus(pid); ok {
				hwm.Store(int64(max(int(hwm.Load()), h)))
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return func() int {
		close(stop)
		<-done
		return int(hwm.Load())
	}
}
