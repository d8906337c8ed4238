package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/domain"
	"inkwell/eventstore"
	"inkwell/projections"
)

// eventsVerifyCommand checks the whole event log: what a server checks at
// start-up and in the background, on demand, with a report.
func (a *app) eventsVerifyCommand() *ffcli.Command {
	return a.command(leaf{
		path:  "inkwell events verify",
		usage: "inkwell events verify [flags]",
		help:  "check the whole event log: every message decodes, no sequence or aggregate version is missing, every read model's checkpoint is within the log",
		long: "It reads every message of the log (beside a running server, through its embedded log) and exits 1 when it finds damage,\n" +
			"saying what is lost and what to do: restore the log from a backup, or accept the loss (inkwell events accept-loss).",
		groups: operationsGroups,
		run: func(ctx context.Context, cfg Config) error {
			return eventsVerify(ctx, cfg, a.stdout, a.stderr)
		},
	})
}

// errLogDamaged is returned by inkwell events verify when it found damage.
var errLogDamaged = errors.New("the event log is damaged: see above for what is lost and what to do")

func eventsVerify(ctx context.Context, cfg Config, stdout, stderr io.Writer) error {
	return withStore(ctx, cfg, stderr, func(ops operations) error {
		// The checkpoints before the log: a read model never applies an event
		// the log does not hold yet.
		var statuses []projections.Status
		var dbErr error
		db, err := openDatabase(ctx, cfg.databaseURL(), ops.log)
		if err == nil {
			statuses, dbErr = db.Statuses(ctx)
			db.Close()
		} else {
			dbErr = err
		}
		tty := isTerminal(stderr)
		show := newProgressReporter(stderr, tty, ops.log)
		show.verb = "verifying"
		check, err := ops.store.Verify(ctx, eventstore.VerifyOptions{Progress: func(p eventstore.VerifyProgress) {
			show.update(projections.RebuildProgress{Projection: "events verify", Applied: p.Read, Total: p.Total, Elapsed: p.Elapsed})
		}})
		show.finish()
		if err != nil {
			return err
		}
		for _, st := range statuses {
			check.AddCheckpoint(st.Name, st.Checkpoint)
		}
		writeCheck(stdout, check, statuses)
		switch {
		case dbErr != nil && projections.DatabaseDamaged(dbErr):
			fmt.Fprintf(stdout, "\nDAMAGE: the read-model database is damaged (%v): inkwell serve and inkwell replay set it aside and fill a new one from the log\n", dbErr)
			return errLogDamaged
		case check.Damaged():
			return errLogDamaged
		case dbErr != nil:
			return fmt.Errorf("the log is whole, but the read models' checkpoints could not be read: %w", dbErr)
		}
		return nil
	})
}

// writeCheck writes the report of a check of the log.
func writeCheck(w io.Writer, c *eventstore.LogCheck, statuses []projections.Status) {
	fmt.Fprintf(w, "event log %s: sequences 1 to %s\n", c.Stream, thousands(c.Last))
	if c.Scanned {
		fmt.Fprintf(w, "read every message in %.1fs: %s events of %s aggregates\n", c.Duration.Seconds(), thousands(c.Read), thousands(uint64(c.Aggregates)))
	}
	for _, st := range statuses {
		fmt.Fprintf(w, "read model %s: checkpoint %d\n", st.Name, st.Checkpoint)
	}
	for _, a := range c.Losses {
		fmt.Fprintf(w, "accepted loss of %s (by %s, %s): %s\n", a.Range(), a.By, a.AcceptedAt.UTC().Format(time.RFC3339), a.Reason)
	}
	if !c.Damaged() {
		fmt.Fprintln(w, "\nno damage: every sequence holds an event (or a loss accepted), every event decodes, every aggregate's versions follow on, and every read model's checkpoint is within the log")
		return
	}
	fmt.Fprintln(w, "\nDAMAGE:")
	for _, p := range c.Problems() {
		fmt.Fprintf(w, "  - %s\n", p)
	}
	var explained []string
	for _, vg := range c.VersionGaps {
		if vg.In != nil {
			explained = append(explained, fmt.Sprintf("%s lost version %s", vg.Stream, domain.SeqRange(vg.Want, vg.Have-1)))
		}
	}
	if len(explained) > 0 {
		fmt.Fprintf(w, "  the lost events were of: %s\n", strings.Join(explained, ", "))
	}
	if adv := c.Advice(); adv != "" {
		fmt.Fprintf(w, "\nWhat to do: %s\n", adv)
	}
}

// eventsAcceptLossCommand records an operator's acceptance of the loss of
// events the log once held.
func (a *app) eventsAcceptLossCommand() *ffcli.Command {
	var seqs, reason, by string
	return a.command(leaf{
		path:  "inkwell events accept-loss",
		usage: "inkwell events accept-loss --seq N[-M][,...] --reason TEXT [--by NAME] [flags]",
		help:  "record in the log that the loss of events it once held is accepted: readers and rebuilds go past them",
		long: "Only sequences the log lost can be given: missing from it, or past its end where a read model applied them\n" +
			"(inkwell events verify names them). The acceptance is an event of the log (log.loss_accepted), honoured by\n" +
			"every instance and every rebuild. Then rebuild the read models from the log: inkwell replay.",
		groups: operationsGroups,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&seqs, "seq", "", "the lost sequences: 9, 14-15, or a list of them (9,14-15)")
			fs.StringVar(&reason, "reason", "", "why the loss is accepted rather than the log restored (recorded in the log)")
			fs.StringVar(&by, "by", "", "who accepts it (default: the user and host running the command)")
		},
		run: func(ctx context.Context, cfg Config) error {
			ranges, err := parseSeqRanges(seqs)
			if err != nil {
				return usagef("events accept-loss: --seq: %v", err)
			}
			if by == "" {
				by = whoRuns()
			}
			return eventsAcceptLoss(ctx, cfg, ranges, reason, by, a.stdout, a.stderr)
		},
	})
}

func eventsAcceptLoss(ctx context.Context, cfg Config, ranges [][2]uint64, reason, by string, stdout, stderr io.Writer) error {
	return withOperations(ctx, cfg, stderr, func(ops operations) error {
		statuses, err := ops.db.Statuses(ctx)
		if err != nil {
			return err
		}
		var highest uint64
		for _, st := range statuses {
			highest = max(highest, st.Checkpoint)
		}
		head, err := ops.store.Head(ctx)
		if err != nil {
			return err
		}
		behind := false
		for _, r := range ranges {
			if r[1] > head && r[1] > highest {
				return fmt.Errorf("events accept-loss: the log ends at %d and no read model has applied past %d: sequences %s were never taken",
					head, max(head, highest), domain.SeqRange(max(r[0], head+1), r[1]))
			}
			behind = behind || r[1] > head
		}
		for _, r := range ranges {
			a, err := ops.store.AcceptLoss(ctx, domain.LossAccepted{First: r[0], Last: r[1], Reason: reason, By: by},
				domain.Meta{CorrelationID: "inkwell events accept-loss"})
			if err != nil {
				if msg := domain.ErrorMessage(err); domain.ErrorCode(err) != domain.EINTERNAL {
					return fmt.Errorf("events accept-loss: %s", msg)
				}
				return fmt.Errorf("events accept-loss: %w", err)
			}
			fmt.Fprintf(stdout, "recorded: the loss of the events at sequence %s is accepted (by %s: %s)\n", a.Range(), a.By, a.Reason)
		}
		fmt.Fprintln(stdout, "Every instance stops reporting it within seconds; readers and rebuilds go past it.")
		if behind {
			fmt.Fprintln(stdout, "The read models have applied events past the log's end: writes stay refused until they are rebuilt from the log. Run now: inkwell replay")
		} else {
			fmt.Fprintln(stdout, "The read models still show what the lost events did: rebuild them from the log (inkwell replay; the server keeps serving meanwhile).")
		}
		return nil
	})
}

// parseSeqRanges parses "9", "14-15" or "9,14-15".
func parseSeqRanges(s string) ([][2]uint64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("is required: the lost sequences, as inkwell events verify names them")
	}
	var out [][2]uint64
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		first, err := strconv.ParseUint(lo, 10, 64)
		if err != nil || first == 0 {
			return nil, fmt.Errorf("%q is not a log sequence (from 1) or a range of them (9-12)", part)
		}
		last := first
		if isRange {
			if last, err = strconv.ParseUint(hi, 10, 64); err != nil || last < first {
				return nil, fmt.Errorf("%q is not a range of log sequences (9-12)", part)
			}
		}
		out = append(out, [2]uint64{first, last})
	}
	return out, nil
}

// whoRuns names the user and host running the command.
func whoRuns() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}
