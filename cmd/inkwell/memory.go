package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/dustin/go-humanize"
)

// defaultMemoryLimit is INKWELL_MEMORY_LIMIT's default: the embedded
// default (SQLite, NATS in the process) holds its Go memory near it while
// the live heap leaves room (reads, logins before a write load), and the
// limit gives way past that (keepMemoryLimit; see docs/performance.md).
const defaultMemoryLimit = "80MiB"

// memoryLimit parses MemoryLimit: bytes, 0 for none.
func (c *Config) memoryLimit() (int64, error) {
	n, err := humanize.ParseBytes(c.MemoryLimit)
	if err != nil || n > 1<<50 {
		return 0, fmt.Errorf("%q is not a size such as 80MiB (0: none)", c.MemoryLimit)
	}
	if n != 0 && n < 16<<20 {
		return 0, fmt.Errorf("%q is less than 16MiB, which Inkwell needs to start (0: none)", c.MemoryLimit)
	}
	return int64(n), nil
}

// Go's garbage collector lets the heap grow to twice what was live at its
// last collection (GOGC=100) before it collects again. A soft memory limit
// makes it collect sooner when the process nears the limit; but a live heap
// at the limit would have it collect without end (up to half the CPU). So
// the limit Inkwell sets gives way to the live heap: it always leaves the
// heap room to grow half above what the last collection left live, so that
// a heap that needs more costs collections at most twice as often as
// GOGC's. The runtime counts against the limit all the memory it holds
// that is not heap objects (goroutine stacks, its own data, the unused
// parts of the heap's spans: 23 MB after inkwell-bench's writes),
// so that memory is added on top: without it, the heap was left no room
// at all after a write load, and every argon2id hash of a login brought a
// collection (see docs/performance.md).
const (
	liveHeadroom       = 2 // the limit is at least live + live/liveHeadroom
	memoryLimitRefresh = time.Second
)

// keepMemoryLimit holds the Go runtime's soft memory limit at limit bytes,
// or at the live heap's room (limitFor) where that is more, until ctx ends,
// then lifts it and closes the channel it returned. It leaves the runtime
// alone when limit is 0 or GOMEMLIMIT is set.
func keepMemoryLimit(ctx context.Context, limit int64, log *slog.Logger) <-chan struct{} {
	stopped := make(chan struct{})
	if limit <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		close(stopped)
		return stopped
	}
	sample := append([]metrics.Sample{{Name: "/gc/heap/live:bytes"}}, nonHeapSamples()...) // [1] is the heap's objects
	set, warned := int64(-1), false
	// adjust sets the limit for the live heap the last collection left;
	// the first time, for the heap's objects now where they are more (the
	// last collection may be long past: a start-up restoring a big log
	// grows the heap faster than the collector measures it).
	adjust := func(first bool) {
		metrics.Read(sample)
		want := limit
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live := int64(sample[0].Value.Uint64())
			heap := live
			if first && sample[1].Value.Kind() == metrics.KindUint64 {
				heap = max(heap, int64(sample[1].Value.Uint64()))
			}
			want = limitFor(limit, heap, nonHeapOf(sample[1:]))
			if live > limit && !warned {
				warned = true
				log.Warn("the live heap is past the memory limit (--memory-limit, $INKWELL_MEMORY_LIMIT): the limit gives way to it, and the garbage collector runs more often; raise the setting",
					"limit", humanize.IBytes(uint64(limit)), "live_heap", humanize.IBytes(uint64(live)))
			}
		}
		if want != set {
			debug.SetMemoryLimit(want)
			set = want
		}
	}
	adjust(true)
	go func() {
		defer close(stopped)
		t := time.NewTicker(memoryLimitRefresh)
		defer t.Stop()
		defer debug.SetMemoryLimit(math.MaxInt64) // none once the server stops
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				adjust(false)
			}
		}
	}()
	return stopped
}

// limitFor is the soft memory limit for the setting, a live heap of heap
// bytes and nonHeap bytes of the runtime's other memory: the setting, or
// where it is more, the other memory plus the heap and half of it.
func limitFor(setting, heap, nonHeap int64) int64 {
	return max(setting, nonHeap+heap+heap/liveHeadroom)
}

// nonHeap is what the runtime counts against its memory limit beside the
// heap's objects, by its own reckoning: what it has mapped and not
// released, less the free heap and the objects; 0 for figures that do not
// add up.
func nonHeap(objects, total, released, free uint64) int64 {
	if objects+released+free > total {
		return 0
	}
	return int64(total - released - free - objects)
}

// nonHeapSamples are the samples nonHeapOf reads, the heap's objects first.
func nonHeapSamples() []metrics.Sample {
	return []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
}

// nonHeapOf is nonHeap of nonHeapSamples read, or 0 if the runtime did not
// give them.
func nonHeapOf(s []metrics.Sample) int64 {
	for _, v := range s[:4] {
		if v.Value.Kind() != metrics.KindUint64 {
			return 0
		}
	}
	return nonHeap(s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64(), s[3].Value.Uint64())
}
