package projections

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
)

// RebuildOptions tunes Rebuild and RebuildAll.
type RebuildOptions struct {
	// BatchSize is how many events of the log one batch reads (default
	// 10,000); each projection applies its events of a batch in one
	// transaction.
	BatchSize int
	// OnlyIfStale makes a rebuild leave alone a projection whose stored
	// tables already have its version: at start-up, another process may
	// have rebuilt it first.
	OnlyIfStale bool
	// Progress, if set, is called after every batch of the rebuild and
	// after the swaps, from the goroutine running it.
	Progress func(RebuildProgress)
	// Logger receives the rebuild's milestones (default: none).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// RebuildProgress tells how far a rebuild is.
type RebuildProgress struct {
	// Projection names the projections being rebuilt, joined with "+".
	Projection string
	// Generation is the generation being filled when one projection is
	// rebuilt (0 when several are).
	Generation int
	// Applied is how many events of the log the rebuild has applied, each
	// counted once however many of the projections read it.
	Applied uint64
	// Total is Applied plus at most the events that remain: the log's
	// messages from the checkpoint at the rebuild's last look (some may be
	// of aggregates no projection being rebuilt reads). It grows while the
	// log grows, and equals Applied once the rebuild is done.
	Total uint64
	// Checkpoint is the last log sequence applied to every projection.
	Checkpoint uint64
	// Elapsed is the time since the rebuild started.
	Elapsed time.Duration
}

// RebuildResult describes a finished rebuild.
type RebuildResult struct {
	Projection string
	// Generation is the generation now serving reads.
	Generation int
	// Events is how many events the new generation applied.
	Events uint64
	// Checkpoint is the projection's checkpoint after the swap.
	Checkpoint uint64
	// Duration is how long the rebuild took, waiting for its turn included.
	Duration time.Duration
	// Skipped is true when OnlyIfStale found nothing to do.
	Skipped bool
}

// RebuildPass describes a rebuild of several projections in one pass over
// the log.
type RebuildPass struct {
	// Results has one entry per projection, in the order given.
	Results []RebuildResult
	// Events is how many events of the log the pass applied, each counted
	// once however many of the projections read it.
	Events uint64
	// Duration is how long the pass took, waiting for its turn included.
	Duration time.Duration
	// Losses are the losses of the log an operator accepted: the pass went
	// past those sequences, and the read models rebuilt go without the
	// events they held.
	Losses []domain.LossAccepted
}

// ErrRebuildSuperseded is returned by a rebuild whose new generation was
// taken over by a rebuild of the same projection started later.
var ErrRebuildSuperseded = errors.New("another rebuild of the projection started since")

// catchUpRounds is how many rounds of catching up with the log a rebuild
// makes before it swaps even when the log keeps growing as fast.
const catchUpRounds = 5

// swapAttempts bounds how often Rebuild tries to swap before giving up:
// each attempt waits at most swapLockTimeout for readers.
const (
	swapAttempts    = 20
	swapLockTimeout = "500ms" // below PostgreSQL's deadlock_timeout (1s): the swap gives way, never a reader
)

// Rebuild rebuilds projection p from the start of the log into a new
// generation of tables and swaps it in. It is RebuildAll of p alone.
func Rebuild(ctx context.Context, db *DB, store *eventstore.Store, p Projection, opts RebuildOptions) (RebuildResult, error) {
	pass, err := RebuildAll(ctx, db, store, []Projection{p}, opts)
	if len(pass.Results) == 0 {
		return RebuildResult{Projection: p.Name()}, err
	}
	return pass.Results[0], err
}

// RebuildAll rebuilds projections ps from the start of the log, each into
// a new generation of its tables, in one pass over the log, and swaps each
// in.
//
// For each projection, the new generation N+1 is recorded in
// projection_rebuilds and filled through p.Apply, the code the live runner
// uses, while generation N keeps serving reads and its live runner (in this
// process or another) keeps applying new events to it. The log is read
// once, in batches of BatchSize events, each event decoded once; every
// projection applies its events of a batch in a transaction of its own
// that also stores its own checkpoint. Once the new generations have caught
// up with the log, each projection in turn is swapped in by one
// transaction that locks the projection's state row, applies the events
// its rebuild has not seen yet, points the views at generation N+1, stores
// the projection's version, generation and checkpoint, and drops
// generation N. Readers see the old rows until that transaction commits
// and the new ones after. A live runner re-reads the projection's state in
// every transaction, so it continues on the new generation after the swap.
//
// A rebuild that fails or is cancelled drops the new generations it has
// not swapped in yet and leaves their live ones as they were (those it
// swapped in stay: they are complete); one killed outright leaves its
// generations recorded in projection_rebuilds, and the next rebuild of each
// projection drops it first. On PostgreSQL, rebuilds of one projection
// take turns (a session advisory lock); on SQLite, a rebuild of a
// projection started while another runs makes the earlier one fail with
// ErrRebuildSuperseded.
func RebuildAll(ctx context.Context, db *DB, store *eventstore.Store, ps []Projection, opts RebuildOptions) (RebuildPass, error) {
	opts.setDefaults()
	pass := RebuildPass{Results: make([]RebuildResult, len(ps))}
	names := make([]string, len(ps))
	for i, p := range ps {
		if slices.Contains(names[:i], p.Name()) {
			return RebuildPass{}, fmt.Errorf("rebuild: projection %s given twice", p.Name())
		}
		names[i] = p.Name()
		pass.Results[i].Projection = p.Name()
	}
	start := opts.Now()
	var err error

	// In the order of their names, so that two processes never each hold
	// a lock the other waits for.
	for _, name := range slices.Sorted(slices.Values(names)) {
		release, err := lockRebuild(ctx, db, name, opts.Logger.With("projection", name))
		if err != nil {
			return pass, err
		}
		defer release()
	}
	r := &rebuildAll{store: store, opts: opts, start: start, name: strings.Join(names, "+"), tail: map[uint64]struct{}{}}
	defer func() {
		for _, rb := range r.rbs {
			if !rb.swapped {
				rb.abandon(context.WithoutCancel(ctx))
			}
		}
	}()
	if err := r.begin(ctx, db, ps, pass.Results); err != nil {
		return pass, err
	}
	if len(r.rbs) == 0 {
		pass.Duration = opts.Now().Sub(start)
		return pass, nil
	}
	// A log that lost events is rebuilt from only once an operator decided
	// (see checkLog); the read of the log stops at a loss the state does
	// not show.
	rebuilt := make([]Projection, len(r.rbs))
	for i, rb := range r.rbs {
		rebuilt[i] = rb.p
	}
	if err := checkLog(ctx, db, store, rebuilt); err != nil {
		return pass, err
	}
	if pass.Losses, err = r.losses(ctx); err != nil {
		return pass, err
	}
	discard, err := r.openConns(ctx, db)
	defer discard()
	if err != nil {
		return pass, err
	}
	if err := r.fill(ctx); err != nil {
		return pass, err
	}
	for _, rb := range r.rbs {
		if err := r.swap(ctx, rb); err != nil {
			return pass, err
		}
	}
	r.report(r.events)
	pass.Events, pass.Duration = r.events, opts.Now().Sub(start)
	return pass, nil
}

func (o *RebuildOptions) setDefaults() {
	if o.BatchSize <= 0 {
		o.BatchSize = 10000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// begin starts a new generation of each projection of ps (but those that
// opts.OnlyIfStale skips), recording each in results.
func (r *rebuildAll) begin(ctx context.Context, db *DB, ps []Projection, results []RebuildResult) error {
	for i, p := range ps {
		res := &results[i]
		log := r.opts.Logger.With("projection", p.Name())
		if r.opts.OnlyIfStale {
			st, err := db.State(ctx, p.Name())
			if err == nil && st.Version == p.Version() {
				res.Generation, res.Checkpoint, res.Skipped = st.Generation, st.Checkpoint, true
				continue
			} else if err != nil && !isNoRows(err) {
				return fmt.Errorf("rebuild %s: %w", p.Name(), err)
			}
		}
		skips, err := LoadSkips(ctx, r.store, p)
		if err != nil {
			return err
		}
		rb, err := startRebuild(ctx, db, p, r.opts.Now().UTC().Truncate(time.Microsecond), log)
		if err != nil {
			return err
		}
		rb.store, rb.opts, rb.log, rb.res, rb.skips = r.store, r.opts, log, res, skips
		res.Generation = rb.gen
		r.rbs = append(r.rbs, rb)
		log.Info("rebuilding projection", "generation", rb.gen, "version", p.Version())
	}
	if len(r.rbs) == 1 {
		r.gen = r.rbs[0].gen
	}
	return nil
}

// losses returns the losses of the log accepted so far, and says that the
// rebuild goes past them.
func (r *rebuildAll) losses(ctx context.Context) ([]domain.LossAccepted, error) {
	l, _, err := r.store.Losses(ctx)
	if err != nil {
		return nil, fmt.Errorf("rebuild %s: %w", r.name, err)
	}
	all := l.All()
	for _, a := range all {
		r.opts.Logger.Warn("the log lost events whose loss was accepted: the rebuilt read models go without them",
			"projections", r.name, "seq", a.Range(), "reason", a.Reason, "by", a.By, "accepted_at", a.AcceptedAt)
	}
	return all, nil
}

// openConns gives each rebuild its connection: on PostgreSQL one of its
// own, so that their batches apply beside each other (see applyLog);
// SQLite has one writer, which they share. discard gives them back.
func (r *rebuildAll) openConns(ctx context.Context, db *DB) (discard func(), err error) {
	var discards []func()
	discard = func() {
		for _, d := range discards {
			d()
		}
	}
	r.concurrent = db.Dialect == Postgres && len(r.rbs) > 1
	for i, rb := range r.rbs {
		if i > 0 && !r.concurrent {
			rb.conn = r.rbs[0].conn
			continue
		}
		conn, d, err := bulkConn(ctx, db)
		if err != nil {
			return discard, err
		}
		discards = append(discards, d)
		rb.conn = conn
	}
	return discard, nil
}

// fill fills the new generations, then catches up with the log until what
// is left fits in one batch, or until the rounds stop shrinking (the log
// grows as fast as the rebuild applies it): the swaps apply the rest.
func (r *rebuildAll) fill(ctx context.Context) error {
	for round, prev := 1, uint64(0); ; round++ {
		n, err := r.applyLog(ctx, r.rbs)
		if err != nil {
			return err
		}
		if round == 1 {
			for _, rb := range r.rbs {
				if err := rb.createIndexes(ctx); err != nil {
					return err
				}
			}
		}
		if n < uint64(r.opts.BatchSize) || (round > catchUpRounds && n >= prev) {
			return nil
		}
		prev = n
	}
}

// rebuildAll is a pass over the log rebuilding several projections.
type rebuildAll struct {
	store *eventstore.Store
	opts  RebuildOptions
	start time.Time
	name  string // for progress: the projections' names joined with "+"
	gen   int    // for progress: the generation, when there is one rebuild
	rbs   []*rebuild
	// concurrent is true when the rebuilds apply a batch at the same time,
	// each on a connection of its own.
	concurrent bool

	// checkpoint is the last log sequence the batches of every rebuild
	// went through; events counts the events of the log applied, each
	// once: those up to checkpoint, and those past it that one rebuild
	// applied alone (tail), catching up before its swap or in it.
	checkpoint uint64
	events     uint64
	tail       map[uint64]struct{}
}

// subjects returns the log subjects of the aggregates the rebuilds read.
func (r *rebuildAll) subjects(rbs []*rebuild) []string {
	var types []string
	for _, rb := range rbs {
		for _, t := range rb.p.AggregateTypes() {
			if !slices.Contains(types, t) {
				types = append(types, t)
			}
		}
	}
	return r.store.SubjectsOf(types...)
}

// applyLog applies the events the log holds past the checkpoints of rbs
// (every rebuild of the pass, or one catching up before its swap), one
// transaction per rebuild and batch, and returns how many events of the log
// it applied.
func (r *rebuildAll) applyLog(ctx context.Context, rbs []*rebuild) (uint64, error) {
	from := rbs[0].checkpoint
	for _, rb := range rbs {
		from = min(from, rb.checkpoint)
	}
	cur, err := r.store.Read(ctx, from+1, r.subjects(rbs)...)
	if err != nil {
		return 0, fmt.Errorf("rebuild %s: %w", r.name, err)
	}
	defer cur.Close()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var n uint64
	for b := range readBatches(rctx, cur, r.opts.BatchSize) {
		if b.err != nil {
			return n, fmt.Errorf("rebuild %s: read the log: %w", r.name, b.err)
		}
		if err := r.applyBatch(ctx, rbs, b.recs); err != nil {
			return n, err
		}
		n += uint64(len(b.recs))
		if len(rbs) == len(r.rbs) {
			r.events += uint64(len(b.recs))
			r.checkpoint = b.recs[len(b.recs)-1].Seq
		} else {
			r.count(b.recs)
		}
		r.report(r.events + cur.Remaining())
	}
	if err := ctx.Err(); err != nil {
		return n, err
	}
	return n, nil
}

// applyBatch applies one batch of the log to every rebuild of rbs, all at
// once when the pass is concurrent, and returns the first error.
func (r *rebuildAll) applyBatch(ctx context.Context, rbs []*rebuild, recs []domain.Record) error {
	if !r.concurrent || len(rbs) == 1 {
		for _, rb := range rbs {
			if err := rb.applyBatch(ctx, recs); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, len(rbs))
	var wg sync.WaitGroup
	for i, rb := range rbs {
		wg.Go(func() { errs[i] = rb.applyBatch(ctx, recs) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// count counts the events of recs past the pass's checkpoint not counted
// yet: those applied by one rebuild only, before or in its swap.
func (r *rebuildAll) count(recs []domain.Record) {
	for _, rec := range recs {
		if rec.Seq > r.checkpoint {
			if _, ok := r.tail[rec.Seq]; !ok {
				r.tail[rec.Seq] = struct{}{}
				r.events++
			}
		}
	}
}

// swap swaps rb's new generation in, giving way to readers that hold the
// views a few times, and catching up with the log in between.
func (r *rebuildAll) swap(ctx context.Context, rb *rebuild) error {
	for attempt := 1; ; attempt++ {
		applied, err := rb.swap(ctx)
		if err == nil {
			for _, seq := range applied {
				r.count([]domain.Record{{Seq: seq}})
			}
			break
		}
		if !errors.Is(err, errReadersBusy) || attempt == swapAttempts {
			return err
		}
		rb.log.Info("readers hold the views; retrying the swap", "attempt", attempt)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 50 * time.Millisecond):
		}
		if _, err := r.applyLog(ctx, []*rebuild{rb}); err != nil {
			return err
		}
	}
	rb.swapped = true
	rb.res.Events, rb.res.Checkpoint, rb.res.Duration = rb.applied, rb.checkpoint, r.opts.Now().Sub(r.start)
	rb.log.Info("rebuilt projection", "generation", rb.gen, "events", rb.res.Events, "checkpoint", rb.res.Checkpoint,
		"took", rb.res.Duration.Round(time.Millisecond))
	return nil
}

// report reports the pass's progress, total being the events applied and
// at most those that remain.
func (r *rebuildAll) report(total uint64) {
	if r.opts.Progress == nil {
		return
	}
	cp := r.checkpoint
	for _, rb := range r.rbs {
		if rb.swapped {
			cp = max(cp, rb.checkpoint)
		}
	}
	r.opts.Progress(RebuildProgress{
		Projection: r.name, Generation: r.gen, Applied: r.events, Total: max(total, r.events),
		Checkpoint: cp, Elapsed: r.opts.Now().Sub(r.start),
	})
}

// batchOrErr is one batch read from the log, or the error that ended it.
type batchOrErr struct {
	recs []domain.Record
	err  error
}

// readBatches reads cur to its end in batches of up to size events, on a
// goroutine of its own so that decoding the next batch overlaps applying
// this one. The channel closes after the last batch or an error.
func readBatches(ctx context.Context, cur *eventstore.Cursor, size int) <-chan batchOrErr {
	out := make(chan batchOrErr, 1)
	go func() {
		defer close(out)
		for {
			batch := make([]domain.Record, 0, min(uint64(size), cur.Remaining()))
			var err error
			for len(batch) < size {
				var rec domain.Record
				if rec, err = cur.Next(ctx); err != nil {
					break
				}
				batch = append(batch, rec)
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if len(batch) > 0 || err != nil {
				select {
				case out <- batchOrErr{recs: batch, err: err}:
				case <-ctx.Done():
					return
				}
			}
			if err != nil || len(batch) < size {
				return
			}
		}
	}()
	return out
}
