package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"

	"inkwell/domain"
	"inkwell/eventstore"
)

// eventsCommand groups the commands on the event log.
func (a *app) eventsCommand() *ffcli.Command {
	return a.group("inkwell events", "inkwell events tail|replicas|encrypt|verify|accept-loss [flags]",
		"tail: print the event log as JSON lines; replicas: the copies a NATS cluster keeps of it; encrypt: seal the personal data of a log written before Inkwell did; "+
			"verify: check the whole log for damage; accept-loss: record that the loss of events the log lost is accepted",
		a.eventsTailCommand(), a.eventsReplicasCommand(), a.eventsEncryptCommand(), a.eventsVerifyCommand(), a.eventsAcceptLossCommand())
}

// eventsReplicasCommand shows, or changes, how many copies of the log and
// of Inkwell's buckets a NATS cluster keeps.
func (a *app) eventsReplicasCommand() *ffcli.Command {
	var set int
	return a.command(leaf{
		path:   "inkwell events replicas",
		usage:  "inkwell events replicas [--set N] [flags]",
		help:   "show, or change, the replicas of the event stream and of Inkwell's buckets",
		long:   "Inkwell refuses to start when the stream's replicas differ from INKWELL_NATS_REPLICAS;\nthis changes them (JetStream copies the data while it goes on serving).",
		groups: eventLogGroups,
		flags: func(fs *flag.FlagSet) {
			fs.IntVar(&set, "set", 0, "the replicas to keep of each (1 to 5; 3 survives the loss of a node)")
		},
		run: func(ctx context.Context, cfg Config) error {
			if set < 0 || set > 5 {
				return usagef("events replicas: --set must be 1 to 5, not %d", set)
			}
			return eventsReplicas(ctx, cfg, set, a.stdout, a.stderr)
		},
	})
}

func eventsReplicas(ctx context.Context, cfg Config, set int, stdout, stderr io.Writer) error {
	el, err := openEventLog(ctx, cfg, newLogger(cfg, stderr), false)
	if err != nil {
		return err
	}
	defer el.Close()
	if set > 0 {
		changed, err := eventstore.ChangeReplicas(ctx, el.NC, cfg.NATSStream, set)
		for _, c := range changed {
			fmt.Fprintf(stdout, "%s: %d -> %d replicas\n", c.Name, c.Replicas, set)
		}
		if err != nil {
			return err
		}
	}
	streams, err := eventstore.Replicas(ctx, el.NC, cfg.NATSStream)
	if err != nil {
		return err
	}
	if len(streams) == 0 {
		return fmt.Errorf("no event stream %s on this NATS server", cfg.NATSStream)
	}
	for _, s := range streams {
		fmt.Fprintf(stdout, "%s\t%d\n", s.Name, s.Replicas)
	}
	return nil
}

// eventsTailCommand prints events of the log as JSON lines (the shape of
// eventstore.EventView, sensitive fields removed), following live appends.
func (a *app) eventsTailCommand() *ffcli.Command {
	var from uint64
	var types string
	var noFollow bool
	return a.command(leaf{
		path:   "inkwell events tail",
		usage:  "inkwell events tail [--from SEQ] [--type TYPE[,TYPE]] [--no-follow] [flags]",
		help:   "print the event log as JSON lines, following new events",
		groups: eventLogGroups,
		flags: func(fs *flag.FlagSet) {
			fs.Uint64Var(&from, "from", 0, "first log sequence to print (default: only events appended from now on)")
			fs.StringVar(&types, "type", "", "print only these event types (comma-separated, e.g. article.created,article.published)")
			fs.BoolVar(&noFollow, "no-follow", false, "stop at the end of the log instead of waiting for new events")
		},
		run: func(ctx context.Context, cfg Config) error {
			want, err := eventTypes(types)
			if err != nil {
				return err
			}
			return eventsTail(ctx, cfg, from, want, noFollow, a.stdout, a.stderr)
		},
	})
}

// eventTypes parses --type: event types, comma-separated, each one the
// catalogue knows; none for all.
func eventTypes(list string) ([]string, error) {
	known, want := domain.EventTypes(), []string(nil)
	for _, t := range strings.Split(list, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !slices.Contains(known, t) {
			return nil, notOneOf("events tail --type", "event type", t, known)
		}
		want = append(want, t)
	}
	return want, nil
}

// eventsTail prints the log from sequence from (0: from now on), of the
// types want (none: all).
func eventsTail(ctx context.Context, cfg Config, from uint64, want []string, noFollow bool, stdout, stderr io.Writer) error {
	return withStore(ctx, cfg, stderr, func(ops operations) error {
		head, err := ops.store.Head(ctx)
		if err != nil {
			return err
		}
		start := from
		if start == 0 {
			start = head + 1
		}
		if noFollow && start > head {
			return nil
		}
		cur, err := ops.store.Follow(ctx, start)
		if err != nil {
			return err
		}
		defer cur.Close()
		out := bufio.NewWriter(stdout)
		defer out.Flush()
		enc := json.NewEncoder(out)
		for {
			rec, err := cur.Next(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil // interrupted: a normal end
				}
				return err
			}
			if len(want) == 0 || slices.Contains(want, rec.Type) {
				v, err := eventstore.View(rec)
				if err != nil {
					return err
				}
				if err := enc.Encode(v); err != nil {
					return err
				}
			}
			if noFollow && rec.Seq >= head {
				return nil
			}
			if !noFollow {
				// Following live: print each event as it comes.
				if err := out.Flush(); err != nil {
					return err
				}
			}
		}
	})
}
