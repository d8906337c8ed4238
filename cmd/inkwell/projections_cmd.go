package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/projections"
)

// runProjections runs "inkwell projections status" or "inkwell projections
// skip": where each read model stands, and the way out for one stopped at
// an event it cannot apply.
func runProjections(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "status" && args[0] != "skip") {
		fmt.Fprint(stderr, projectionsUsage)
		return errUsage
	}
	if args[0] == "status" {
		return runProjectionsStatus(ctx, args[1:], getenv, stdout, stderr)
	}
	return runProjectionsSkip(ctx, args[1:], getenv, stdout, stderr)
}

const projectionsUsage = `Usage:
  inkwell projections status
      where each read model stands: version, generation, checkpoint, lag,
      the event it cannot apply (if any), and the skips recorded for it
  inkwell projections skip --projection NAME --reason TEXT [--seq N] [--force]
      record in the event log that the read model skips the event it cannot
      apply (or event N); every instance and every rebuild honours it
`

// openOperations opens the event log and the read-model database for an
// operator's command.
func openOperations(ctx context.Context, cfg Config, stderr io.Writer) (*eventLog, *eventstore.Store, *projections.DB, error) {
	log := newLogger(cfg, stderr)
	el, store, err := openStore(ctx, cfg, log, false)
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := projections.Open(ctx, cfg.databaseURL())
	if err != nil {
		el.Close()
		return nil, nil, nil, err
	}
	if err := db.Migrate(ctx, log); err != nil {
		db.Close()
		el.Close()
		return nil, nil, nil, err
	}
	return el, store, db, nil
}

func runProjectionsStatus(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("inkwell projections status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if err := parseFlags(fs, &cfg, args, getenv); err != nil {
		return err
	}
	el, store, db, err := openOperations(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer el.Close()
	defer db.Close()
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	statuses, err := db.Statuses(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "event log: %d events\n", head)
	for _, st := range statuses {
		fmt.Fprintf(stdout, "\n%s: version %d, generation %d, checkpoint %d", st.Name, st.Version, st.Generation, st.Checkpoint)
		if st.LagAt != nil {
			fmt.Fprintf(stdout, ", %d events to go as of %s", st.Lag, st.LagAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintln(stdout)
		if e := st.Stuck(); e != nil {
			fmt.Fprintf(stdout, "  STOPPED at an event it cannot apply since %s:\n    %s\n", formatTime(st.StuckAt), e)
			fmt.Fprintf(stdout, "  To go on without it: inkwell projections skip --projection %s --reason \"why\"\n", st.Name)
		}
		skips, err := projections.Skips(ctx, store, st.Name)
		if err != nil {
			return err
		}
		for _, sk := range skips {
			fmt.Fprintf(stdout, "  skips event %d (%s of %s/%s, id %s) at version %d since %s: %s\n",
				sk.Seq, sk.Type, sk.Stream.Type, sk.Stream.ID, sk.EventID, sk.Version, sk.SkippedAt.UTC().Format(time.RFC3339), sk.Reason)
		}
	}
	return nil
}

func runProjectionsSkip(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("inkwell projections skip", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var name, reason string
	var seq uint64
	var force bool
	fs.StringVar(&name, "projection", "", "the read model: "+strings.Join(projectionNames(), " or "))
	fs.StringVar(&reason, "reason", "", "why the read model is better off without the event (recorded in the log)")
	fs.Uint64Var(&seq, "seq", 0, "the log sequence of the event to skip (default: the one the read model stopped at)")
	fs.BoolVar(&force, "force", false, "skip the event even though the read model did not stop at it")
	if err := parseFlags(fs, &cfg, args, getenv); err != nil {
		return err
	}
	var p projections.Projection
	for _, rm := range readModels() {
		if rm.Name() == name {
			p = rm
		}
	}
	if p == nil {
		return fmt.Errorf("projections skip: --projection must be one of %s", strings.Join(projectionNames(), ", "))
	}
	el, store, db, err := openOperations(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer el.Close()
	defer db.Close()
	statuses, err := db.Statuses(ctx)
	if err != nil {
		return err
	}
	var st projections.Status
	for _, s := range statuses {
		if s.Name == name {
			st = s
		}
	}
	stuck := st.Stuck() != nil
	switch {
	case seq == 0 && !stuck:
		return fmt.Errorf("projections skip: %s has not stopped at an event it cannot apply; give --seq to skip another", name)
	case seq == 0:
		seq = st.StuckSeq
	case (!stuck || seq != st.StuckSeq) && !force:
		where := "it has not stopped at any"
		if stuck {
			where = fmt.Sprintf("it stopped at event %d", st.StuckSeq)
		}
		return fmt.Errorf("projections skip: %s did not stop at event %d (%s); add --force to skip it anyway", name, seq, where)
	}
	applyErr := ""
	if stuck && seq == st.StuckSeq {
		applyErr = st.StuckError
	}
	sk, err := projections.Skip(ctx, store, p, seq, reason, applyErr, domain.Meta{CorrelationID: "inkwell projections skip"})
	if err != nil {
		if msg := domain.ErrorMessage(err); domain.ErrorCode(err) != domain.EINTERNAL {
			return fmt.Errorf("projections skip: %s", msg)
		}
		return err
	}
	fmt.Fprintf(stdout, "recorded: %s (version %d) skips event %d (%s of %s/%s, id %s)\n",
		sk.Projection, sk.Version, sk.Seq, sk.Type, sk.Stream.Type, sk.Stream.ID, sk.EventID)
	fmt.Fprintln(stdout, "A running server goes past it within seconds; replays and rebuilds skip it too.")
	return nil
}

func projectionNames() []string {
	var names []string
	for _, p := range readModels() {
		names = append(names, p.Name())
	}
	return names
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "(unknown)"
	}
	return t.UTC().Format(time.RFC3339)
}
