package projections_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"inkwell/eventstore"
)

// BenchmarkVerify reads the rebuild benchmarks' log (a million events, the
// life of a blog, personal fields sealed; INKWELL_BENCH_EVENTS to change
// that) with Store.Verify, sequences and aggregate versions checked, and
// reports the messages read per second and the CPU time a read takes:
// "envelopes" as fast as the log delivers, "envelopes-paced" as a server
// reads in the background at start-up (at most 50,000 messages a second),
// "bodies" (every event decoded) as inkwell events verify does.
func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct {
		name string
		opts eventstore.VerifyOptions
	}{
		{"envelopes", eventstore.VerifyOptions{EnvelopesOnly: true}},
		{"envelopes-paced", eventstore.VerifyOptions{EnvelopesOnly: true, Rate: 50000}},
		{"bodies", eventstore.VerifyOptions{}},
	} {
		b.Run(c.name, func(b *testing.B) { benchVerify(b, c.opts) })
	}
}

func benchVerify(b *testing.B, opts eventstore.VerifyOptions) {
	store := mustBenchLog(b)
	ctx := context.Background()
	var took time.Duration
	cpu := cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		check, err := store.Verify(ctx, opts)
		if err != nil {
			b.Fatal(err)
		}
		if check.Damaged() || check.Read != uint64(benchLog.events) {
			b.Fatalf("verify read %d messages of %d: %q", check.Read, benchLog.events, check.Problems())
		}
		took += check.Duration
	}
	b.StopTimer()
	b.ReportMetric(float64(benchLog.events*b.N)/took.Seconds(), "events/s")
	// The process's CPU time, the embedded NATS server's included: what
	// the read takes from the requests served beside it.
	b.ReportMetric((cpuTime(b)-cpu).Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime returns the CPU time the process has used (user and system).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
