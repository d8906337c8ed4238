package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/projections"
)

// projectionsCommand groups the commands on the read models: where each
// stands, and the way out for one stopped at an event it cannot apply.
func (a *app) projectionsCommand() *ffcli.Command {
	return a.group("inkwell projections", "inkwell projections status|skip [flags]",
		"status: where the read models stand; skip: let one go on past an event it cannot apply",
		a.projectionsStatusCommand(), a.projectionsSkipCommand())
}

func (a *app) projectionsStatusCommand() *ffcli.Command {
	return a.command(leaf{
		path:   "inkwell projections status",
		usage:  "inkwell projections status [flags]",
		help:   "where each read model stands: version, generation, checkpoint, lag, the event it cannot apply, its skips",
		groups: operationsGroups,
		run: func(ctx context.Context, cfg Config) error {
			return projectionsStatus(ctx, cfg, a.stdout, a.stderr)
		},
	})
}

func projectionsStatus(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	return withOperations(ctx, cfg, stderr, func(ops operations) error {
		return writeStatus(ctx, ops.store, ops.db, stdout)
	})
}

// writeStatus writes where each read model stands to stdout.
func writeStatus(ctx context.Context, store *eventstore.Store, db *projections.DB, stdout io.Writer) error {
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

func (a *app) projectionsSkipCommand() *ffcli.Command {
	var name, reason string
	var seq uint64
	var force bool
	return a.command(leaf{
		path:   "inkwell projections skip",
		usage:  "inkwell projections skip --projection NAME --reason TEXT [--seq N] [--force] [flags]",
		help:   "record in the log that a read model skips the event it cannot apply",
		long:   "Every instance and every rebuild honours the skip, for the read model's version.",
		groups: operationsGroups,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&name, "projection", "", "the read model: "+strings.Join(projectionNames(), " or "))
			fs.StringVar(&reason, "reason", "", "why the read model is better off without the event (recorded in the log)")
			fs.Uint64Var(&seq, "seq", 0, "the log sequence of the event to skip (default: the one the read model stopped at)")
			fs.BoolVar(&force, "force", false, "skip the event even though the read model did not stop at it")
		},
		run: func(ctx context.Context, cfg Config) error {
			if name == "" {
				return usagef("projections skip: --projection is required: %s", orList(projectionNames()))
			}
			p := readModelNamed(name)
			if p == nil {
				return notOneOf("projections skip --projection", "projection", name, projectionNames())
			}
			return projectionsSkip(ctx, cfg, p, seq, reason, force, a.stdout, a.stderr)
		},
	})
}

func projectionsSkip(ctx context.Context, cfg Config, p projections.Projection, seq uint64, reason string, force bool, stdout, stderr io.Writer) error {
	return withOperations(ctx, cfg, stderr, func(ops operations) error {
		return skip(ctx, ops.store, ops.db, p, seq, reason, force, stdout)
	})
}

// skip records that p skips the event at seq (0: the one it stopped at)
// and says so on stdout.
func skip(ctx context.Context, store *eventstore.Store, db *projections.DB, p projections.Projection, seq uint64, reason string, force bool, stdout io.Writer) error {
	name := p.Name()
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

// readModelNamed returns the read model named name, or nil if none is.
func readModelNamed(name string) projections.Projection {
	for _, p := range readModels() {
		if p.Name() == name {
			return p
		}
	}
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
