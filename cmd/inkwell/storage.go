package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// restartRoom is the least free space in which the guard restarts a
// JetStream that failed to write (when the reserve is smaller).
const restartRoom = 16 << 20

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
			if err == nil && free >= max(g.reserve, restartRoom) {
				g.restartJetStream(werr)
			} else {
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
