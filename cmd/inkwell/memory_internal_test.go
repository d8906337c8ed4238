package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"

	"inkwell/auth"
)

// The memory limit is the setting's, or half above the live heap where
// that is more; none once the server stops; and GOMEMLIMIT wins.
func TestKeepMemoryLimit(t *testing.T) {
	// Not parallel: the limit is the process's.
	was := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(was) })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Setenv("GOMEMLIMIT", "")

	ctx, cancel := context.WithCancel(context.Background())
	stopped := keepMemoryLimit(ctx, 1<<40, log)
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("the limit is %d, want the setting's %d", got, int64(1<<40))
	}
	cancel()
	<-stopped
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("once stopped, the limit is %d, want none", got)
	}

	// A live heap above the setting: the limit gives way to it.
	ballast := make([]byte, 64<<20)
	runtime.GC()
	ctx, cancel = context.WithCancel(context.Background())
	stopped = keepMemoryLimit(ctx, 16<<20, log)
	if got := debug.SetMemoryLimit(-1); got < int64(len(ballast))+int64(len(ballast))/liveHeadroom {
		t.Errorf("the limit is %d with a live heap over %d: want at least half above it", got, len(ballast))
	}
	runtime.KeepAlive(ballast)
	cancel()
	<-stopped

	// A heap that grew since the last collection (a start-up that
	// restored a big log): the first limit counts it, or the collector
	// would run again and again until the next adjustment.
	ballast = nil
	runtime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection measures the new heap
	grown := make([]byte, 96<<20)
	ctx, cancel = context.WithCancel(context.Background())
	stopped = keepMemoryLimit(ctx, 16<<20, log)
	if got, want := debug.SetMemoryLimit(-1), int64(len(grown))+int64(len(grown))/liveHeadroom; got < want {
		t.Errorf("the limit is %d with %d bytes allocated since the last collection: want at least %d", got, len(grown), want)
	}
	runtime.KeepAlive(grown)
	cancel()
	<-stopped

	// With GOMEMLIMIT set, or no limit set, the runtime's stays.
	for _, c := range []struct {
		gomemlimit string
		limit      int64
	}{{"1GiB", 100 << 20}, {"", 0}} {
		debug.SetMemoryLimit(math.MaxInt64 - 1)
		t.Setenv("GOMEMLIMIT", c.gomemlimit)
		ctx, cancel := context.WithCancel(context.Background())
		<-keepMemoryLimit(ctx, c.limit, log) // closed at once: nothing to keep
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64-1 {
			t.Errorf("GOMEMLIMIT=%q, the setting %d: the limit became %d", c.gomemlimit, c.limit, got)
		}
		cancel()
	}
}

// The limit leaves the heap room to grow by half on top of the runtime's
// other memory, which it counts against the limit too: with 30 MiB of it,
// a live heap of 60 MiB gets a limit of 120 MiB, not 90 (which would leave
// the heap no room and collect at every allocation).
func TestLimitLeavesTheHeapItsRoom(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ setting, heap, nonHeap, want int64 }{
		{80 << 20, 60 << 20, 30 << 20, 120 << 20},
		{80 << 20, 20 << 20, 10 << 20, 80 << 20}, // the setting, where it is more
		{16 << 20, 64 << 20, 0, 96 << 20},
	} {
		if got := limitFor(c.setting, c.heap, c.nonHeap); got != c.want {
			t.Errorf("limitFor(%d, %d, %d) = %d, want %d", c.setting, c.heap, c.nonHeap, got, c.want)
		}
	}

	// The runtime's other memory, from its metrics: mapped and not
	// released, less the free heap and the objects.
	if got := nonHeap(70, 130, 25, 5); got != 30 {
		t.Errorf("nonHeap of 70 in objects, 130 mapped, 25 released, 5 free = %d, want 30", got)
	}
	if got := nonHeap(70, 90, 25, 5); got != 0 {
		t.Errorf("nonHeap of figures that do not add up = %d, want 0", got)
	}
	if got := nonHeapOf([]metrics.Sample{{Name: "/no/such:bytes"}, {}, {}, {}}); got != 0 {
		t.Errorf("nonHeapOf unknown metrics = %d, want 0", got)
	}
	// And the process's own: some memory besides the heap (stacks at least).
	live := nonHeapSamples()
	metrics.Read(live)
	if got := nonHeapOf(live); got <= 0 {
		t.Errorf("nonHeap of this process = %d, want the stacks and the runtime's data at least", got)
	}
}

// The memory settings take sizes within their bounds, and say which.
func TestMemorySettings(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		hash, limit string
		bad         string // the setting the check refuses ("": none)
	}{
		{"7MiB", "100MiB", ""},
		{"19MiB", "0", ""},
		{"19456KiB", "1GiB", ""},
		{"46 MiB", "16MiB", ""},
		{"6MiB", "100MiB", "--hash-memory"},
		{"7340033", "100MiB", "--hash-memory"}, // not a whole KiB
		{"2GiB", "100MiB", "--hash-memory"},
		{"lots", "100MiB", "--hash-memory"},
		{"7MiB", "1MiB", "--memory-limit"},
		{"7MiB", "-5MiB", "--memory-limit"},
		{"7MiB", "plenty", "--memory-limit"},
	} {
		cfg := DefaultConfig()
		cfg.HashMemory, cfg.MemoryLimit = c.hash, c.limit
		err := cfg.check()
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("hash %q, limit %q: %v", c.hash, c.limit, err)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("hash %q, limit %q: got %v, want an error naming %s", c.hash, c.limit, err, c.bad)
		}
	}
	cfg := DefaultConfig()
	if n, err := cfg.hashMemory(); err != nil || n != auth.DefaultHashMemory {
		t.Errorf("the default hash memory is %d, %v; want auth.DefaultHashMemory", n, err)
	}
	if n, err := cfg.memoryLimit(); err != nil || n != 80<<20 {
		t.Errorf("the default memory limit is %d, %v; want 80 MiB", n, err)
	}
}
