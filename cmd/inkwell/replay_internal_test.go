package main

import (
	"runtime"
	"testing"
	"time"

	"inkwell/projections"
)

func TestProgressLine(t *testing.T) {
	p := projections.RebuildProgress{Projection: "articles", Applied: 412000, Total: 1000000, Elapsed: 8 * time.Second}
	want := "articles [=========>              ] 412,000/1,000,000  41%  51,500 events/s  ETA 11s"
	if got := progressLine(p); got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	done := projections.RebuildProgress{Projection: "users", Applied: 1234, Total: 1234, Elapsed: time.Second}
	if got := progressLine(done); got != "users [========================] 1,234/1,234 100%  1,234 events/s  ETA 0s" {
		t.Fatalf("finished: %q", got)
	}
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q", n, got)
		}
	}
}

// The replay's memory limit stands above what the process holds when it
// begins (in a real replay, the embedded NATS server's state of the log),
// by a budget for its batches that grows with the batch size only.
func TestReplayMemoryLimitCountsWhatIsHeld(t *testing.T) {
	const live = 64 << 20
	held := make([]byte, live)
	for i := range held {
		held[i] = byte(i)
	}
	got := heldMemory()
	if got < live {
		t.Fatalf("heldMemory() = %d with %d bytes live", got, live)
	}
	runtime.KeepAlive(held)
	for batch, budget := range map[int]int64{1: replayBatchesMemory, 10000: replayBatchesMemory, 40000: 4 * replayBatchesMemory} {
		if limit := replayMemoryLimit(batch, got); limit != got+budget {
			t.Errorf("batch %d: limit %d, want %d held + %d", batch, limit, got, budget)
		}
	}
}
