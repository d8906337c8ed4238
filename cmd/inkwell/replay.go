package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/term"

	"inkwell/eventstore"
	"inkwell/projections"
	"inkwell/readmodels/articles"
	"inkwell/readmodels/comments"
	"inkwell/readmodels/follows"
	"inkwell/readmodels/personal"
	"inkwell/readmodels/users"
)

// readModels returns every projection Inkwell serves, in the order they are
// started and replayed.
func readModels() []projections.Projection {
	return []projections.Projection{users.ReadModel{}, articles.ReadModel{}, personal.ReadModel{}, follows.ReadModel{}, comments.ReadModel{}}
}

// replayCommand rebuilds read models from the whole event log into new
// tables, in one pass over the log, and swaps them in (see
// projections.RebuildAll). It works whether or not a server runs on the
// same data directory; a running server keeps serving the old tables until
// the swap and then continues on the new ones.
func (a *app) replayCommand() *ffcli.Command {
	var only string
	var batch int
	return a.command(leaf{
		path:   "inkwell replay",
		usage:  "inkwell replay [--projection NAME] [flags]",
		help:   "rebuild the read models from the event log",
		groups: operationsGroups,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&only, "projection", "", "rebuild only this projection: "+strings.Join(projectionNames(), " or ")+" (default: all)")
			fs.IntVar(&batch, "batch-size", 10000, "events applied per transaction")
		},
		run: func(ctx context.Context, cfg Config) error {
			if batch < 1 {
				return usagef("replay: --batch-size must be positive, not %d", batch)
			}
			ps := readModels()
			if only != "" {
				p := readModelNamed(only)
				if p == nil {
					return notOneOf("replay --projection", "projection", only, projectionNames())
				}
				ps = []projections.Projection{p}
			}
			return replay(ctx, cfg, ps, batch, a.getenv, a.stdout, a.stderr)
		},
	})
}

// replayMemoryLimit is the Go memory a replay in batches of batch events
// collects garbage to stay within (unless GOGC or GOMEMLIMIT say
// otherwise), held being what the process held before the replay began
// (the embedded NATS server's state of the log, which grows with the
// log's aggregates): 192 MiB above it for a few batches of the default
// size, decoded, and their rows, and in proportion for larger batches. A
// limit that did not count what is held would have the collector run
// without end once the log's state neared it (see docs/performance.md).
func replayMemoryLimit(batch int, held int64) int64 {
	return held + replayBatchesMemory*max(1, int64(batch)/10000)
}

// replayBatchesMemory is the Go memory a replay in batches of the default
// size may use above what the process held before it began.
const replayBatchesMemory = 192 << 20

// heldMemory returns the Go memory the process holds after a collection:
// what the runtime counts against its memory limit.
func heldMemory() int64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(s[0].Value.Uint64() - s[1].Value.Uint64())
}

// replay rebuilds the read models ps in one pass over the log.
func replay(ctx context.Context, cfg Config, ps []projections.Projection, batch int, getenv func(string) string, stdout, stderr io.Writer) error {
	// A damaged SQLite file is set aside: the replay fills a new one.
	return withRebuildOperations(ctx, cfg, stderr, func(ops operations) error {
		return replayAll(ctx, ops, ps, batch, getenv, stdout, stderr)
	})
}

func replayAll(ctx context.Context, ops operations, ps []projections.Projection, batch int, getenv func(string) string, stdout, stderr io.Writer) error {
	store, db, log := ops.store, ops.db, ops.log
	if getenv("GOGC") == "" {
		// A replay allocates fast and briefly (decoded events, rows):
		// collecting less often buys throughput with memory it has.
		defer debug.SetGCPercent(debug.SetGCPercent(400))
		if getenv("GOMEMLIMIT") == "" {
			// But no more than a few batches need above what the
			// process holds already: five times the live heap would
			// grow with whatever the process holds besides.
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(replayMemoryLimit(batch, heldMemory())))
		}
	}
	// Every read model asked for, in one pass over the log.
	pass, err := rebuildShowing(ctx, db, store, ps, projections.RebuildOptions{BatchSize: batch, Logger: log}, stderr, log)
	for _, a := range pass.Losses {
		fmt.Fprintf(stdout, "the log lost the events at sequence %s, whose loss was accepted (by %s: %s): the read models go without them\n", a.Range(), a.By, a.Reason)
	}
	for _, res := range pass.Results {
		if res.Duration == 0 {
			continue // not swapped in
		}
		fmt.Fprintf(stdout, "%s: %s events in %.1fs (%s events/s); generation %d at log sequence %d\n",
			res.Projection, thousands(res.Events), res.Duration.Seconds(), thousands(uint64(rate(res.Events, res.Duration))), res.Generation, res.Checkpoint)
	}
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("replay interrupted; the live read models not replayed yet are unchanged: %w", ctx.Err())
		}
		return err
	}
	if len(ps) > 1 {
		fmt.Fprintf(stdout, "replayed %d read models in one pass over the log: %s events in %.1fs (%s events/s)\n",
			len(ps), thousands(pass.Events), pass.Duration.Seconds(), thousands(uint64(rate(pass.Events, pass.Duration))))
	}
	return nil
}

// rebuildShowing rebuilds ps from store into db in one pass over the log
// (see projections.RebuildAll), with opts, showing its progress on stderr.
func rebuildShowing(ctx context.Context, db *projections.DB, store *eventstore.Store, ps []projections.Projection, opts projections.RebuildOptions,
	stderr io.Writer, log *slog.Logger) (projections.RebuildPass, error) {
	tty := isTerminal(stderr)
	show := newProgressReporter(stderr, tty, log)
	opts.Progress = show.update
	if tty {
		// The progress bar says it all; log lines would break it.
		opts.Logger = nil
	}
	pass, err := projections.RebuildAll(ctx, db, store, ps, opts)
	show.finish()
	return pass, err
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressReporter shows a rebuild's progress: a bar redrawn in place on a
// terminal, a log line every few seconds otherwise.
type progressReporter struct {
	verb  string // what a log line says is going on (default "replaying")
	w     io.Writer
	tty   bool
	log   *slog.Logger
	every time.Duration
	last  time.Time
	drawn bool
	p     projections.RebuildProgress
}

func newProgressReporter(w io.Writer, tty bool, log *slog.Logger) *progressReporter {
	every := 5 * time.Second
	if tty {
		every = 150 * time.Millisecond
	}
	return &progressReporter{w: w, tty: tty, log: log, every: every, last: time.Now()}
}

func (r *progressReporter) update(p projections.RebuildProgress) {
	r.p = p
	if time.Since(r.last) < r.every {
		return
	}
	r.last = time.Now()
	r.draw()
}

func (r *progressReporter) draw() {
	p := r.p
	if r.tty {
		fmt.Fprint(r.w, "\r\033[K"+progressLine(p))
		r.drawn = true
		return
	}
	r.log.Info(cmp.Or(r.verb, "replaying"), "projection", p.Projection, "events", p.Applied, "of", p.Total,
		"events_per_s", uint64(rate(p.Applied, p.Elapsed)), "eta", eta(p).String())
}

// finish draws the bar's last state and ends its line.
func (r *progressReporter) finish() {
	if r.tty && r.p.Projection != "" {
		r.draw()
	}
	if r.drawn {
		fmt.Fprintln(r.w)
	}
}

// progressLine renders progress as one line of a terminal:
//
//	articles [=========>          ] 412,000/1,000,000  41%  52,310 events/s  ETA 11s
func progressLine(p projections.RebuildProgress) string {
	const width = 24
	frac := 1.0
	if p.Total > 0 {
		frac = float64(p.Applied) / float64(p.Total)
	}
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	return fmt.Sprintf("%s [%s] %s/%s %3d%%  %s events/s  ETA %s", p.Projection, bar,
		thousands(p.Applied), thousands(p.Total), int(frac*100), thousands(uint64(rate(p.Applied, p.Elapsed))), eta(p))
}

func rate(events uint64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(events) / d.Seconds()
}

// eta estimates the time left at the average rate so far.
func eta(p projections.RebuildProgress) time.Duration {
	r := rate(p.Applied, p.Elapsed)
	if r == 0 || p.Total <= p.Applied {
		return 0
	}
	return time.Duration(float64(p.Total-p.Applied) / r * float64(time.Second)).Round(time.Second)
}

// thousands formats n with comma separators: 1,234,567.
func thousands(n uint64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
