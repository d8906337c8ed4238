package main

import (
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
