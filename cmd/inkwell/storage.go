package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/nats-io/nats-server/v2/server"

	"inkwell/eventstore"
)

// storageObserver records the disk and the log (metrics).
type storageObserver interface {
	SetDisk(free, size uint64)
	SetEventLog(bytes uint64, writable bool)
}

// storageGuard watches the disk under the data directory and the event log's
// ability to store, every second:
//
//   - it exports the free space and the log's size, and warns (once per
//     crossing) when the free space falls below four times the reserve or a
//     tenth of the disk;
//   - with the embedded log, it refuses writes while the free space is below
//     the reserve (a full disk would make JetStream fail every write until
//     restarted, and may cost it the events it acknowledged but had not
//     flushed yet), and when JetStream reports a write error anyway (the
//     disk filled faster than a second), it restarts JetStream in this
//     process once there is room again: writes resume without a restart of
//     Inkwell.
//
// Its verdict is the event log's writable check (Store.SetWritableCheck),
// which /readyz reports.
type storageGuard struct {
	dir      string
	reserve  uint64
	embedded *server.Server // nil with an external NATS server
	storeDir string         // the embedded server's store directory
	store    *eventstore.Store
	obs      storageObserver
	log      *slog.Logger
	// restarted, if set, is called after JetStream restarted.
	restarted func()

	mu       sync.Mutex
	err      error // why the embedded log cannot take writes now, or nil
	lowSpace bool  // warned about low space, until it recovers
}

// guardInterval is how often the guard looks.
const guardInterval = time.Second

// restartMargin is the room a restarted JetStream needs beyond the
// acknowledged events it still holds in memory: for the small files it
// writes as it stops and starts (each stream's and consumer's state) and
// for the key-value buckets' last writes, whose unwritten bytes cannot be
// told apart from the records they have deleted (see unflushed).
const restartMargin = 1 << 20

func (g *storageGuard) run(ctx context.Context) {
	t := time.NewTicker(guardInterval)
	defer t.Stop()
	for {
		g.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// writable is the event log's writable check.
func (g *storageGuard) writable() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

func (g *storageGuard) check(ctx context.Context) {
	free, size, err := diskSpace(g.dir)
	if err != nil {
		g.log.Warn("read the free space of the data directory", "dir", g.dir, "err", err)
	} else {
		g.obs.SetDisk(free, size)
		g.warnLowSpace(free, size)
	}
	var reason error
	if g.embedded != nil {
		if err == nil && free < g.reserve {
			reason = fmt.Errorf("%s free under the data directory %s, below the reserve of %s (INKWELL_MIN_FREE_DISK)",
				humanize.IBytes(free), g.dir, humanize.IBytes(g.reserve))
		}
		if werr := embeddedWriteError(g.embedded); werr != nil {
			room := g.restartRoom()
			switch {
			case err == nil && free >= room:
				g.restartJetStream(werr)
			case err == nil:
				reason = errors.Join(reason, fmt.Errorf("%w; it takes writes again once %s are free under the data directory %s "+
					"(now %s): the acknowledged events it has not written yet, and room for its files, or the reserve (INKWELL_MIN_FREE_DISK) if larger; "+
					"free that much and writes resume within a second", werr, humanize.IBytes(room), g.dir, humanize.IBytes(free)))
			default:
				reason = errors.Join(reason, werr)
			}
		}
	}
	g.mu.Lock()
	was := g.err
	g.err = reason
	g.mu.Unlock()
	switch {
	case reason != nil && was == nil:
		g.log.Error("the event log cannot take writes: they are refused (503) until it can", "reason", reason)
	case reason == nil && was != nil:
		g.log.Info("the event log takes writes again")
	}
	ictx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if info, err := g.store.Info(ictx); err == nil {
		g.obs.SetEventLog(info.State.Bytes, reason == nil && g.store.Writable() == nil)
	}
}

// warnLowSpace logs once when the free space falls below four times the
// reserve or a tenth of the disk, and once when it is back above.
func (g *storageGuard) warnLowSpace(free, size uint64) {
	low := free < 4*g.reserve || free < size/10
	g.mu.Lock()
	changed := low != g.lowSpace
	g.lowSpace = low
	g.mu.Unlock()
	switch {
	case changed && low:
		g.log.Warn("little free space under the data directory: make room before the event log refuses writes",
			"dir", g.dir, "free", humanize.IBytes(free), "size", humanize.IBytes(size), "reserve", humanize.IBytes(g.reserve))
	case changed:
		g.log.Info("free space under the data directory is back above the warning threshold", "free", humanize.IBytes(free))
	}
}

// restartRoom is the least free space in which the guard restarts a
// JetStream that failed to write: the acknowledged events it holds in
// memory and has not written yet (it writes them as it stops: restarting
// it with less room would lose them) and restartMargin, or the reserve if
// that is larger (writes are refused below it anyway).
func (g *storageGuard) restartRoom() uint64 {
	return max(g.reserve, unflushed(g.embedded, g.storeDir)+restartMargin)
}

// unflushed returns how many bytes of stored messages the embedded server
// holds that are not in its files yet: for each stream, the bytes its state
// counts less those of its message blocks on disk (a message's record in a
// block is exactly what the state counts for it). A stream whose blocks
// still hold deleted records (a key-value bucket) may hide unwritten bytes
// behind them; restartMargin covers those, which are a few small records.
func unflushed(ns *server.Server, storeDir string) uint64 {
	info, err := ns.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
	if err != nil {
		return 0
	}
	var total uint64
	for _, acc := range info.AccountDetails {
		for _, st := range acc.Streams {
			var onDisk uint64
			blocks, _ := filepath.Glob(filepath.Join(storeDir, "jetstream", acc.Name, "streams", st.Name, "msgs", "*.blk"))
			for _, b := range blocks {
				if fi, err := os.Stat(b); err == nil {
					onDisk += uint64(fi.Size())
				}
			}
			if st.State.Bytes > onDisk {
				total += st.State.Bytes - onDisk
			}
		}
	}
	return total
}

// restartJetStream restarts the embedded server's JetStream, which keeps
// failing every write after one failed (werr) until it reloads its streams
// from disk. Nothing acknowledged is lost: acknowledged events still in
// memory are written when it shuts down, now that there is room.
func (g *storageGuard) restartJetStream(werr error) {
	g.log.Warn("restarting the embedded JetStream after a write error, now that there is room", "err", werr)
	if err := g.embedded.ShutdownJetStream(); err != nil {
		g.log.Error("stop JetStream", "err", err)
		return
	}
	if err := g.embedded.EnableJetStream(&server.JetStreamConfig{StoreDir: g.storeDir, MaxStore: eventstore.EmbeddedMaxStore}); err != nil {
		g.log.Error("start JetStream again", "err", err)
		return
	}
	g.store.ForgetStoreRefusal()
	if g.restarted != nil {
		g.restarted()
	}
	g.log.Info("the embedded JetStream restarted")
}

// embeddedWriteError returns the write error JetStream reports for a stream
// or consumer of the embedded server, if any.
func embeddedWriteError(ns *server.Server) error {
	h := ns.Healthz(&server.HealthzOptions{Details: true})
	var errs []string
	for _, e := range h.Errors {
		if strings.Contains(e.Error, "write error") {
			errs = append(errs, e.Error)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "; "))
}

// diskSpace returns the bytes available to unprivileged users and the size
// of the filesystem holding dir.
func diskSpace(dir string) (free, size uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return st.Bavail * uint64(st.Bsize), st.Blocks * uint64(st.Bsize), nil
}
