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

	"inkwell/eventstore"
)

// runEvents dispatches the "events" subcommands.
func runEvents(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "tail" {
		fmt.Fprintln(stderr, "Usage: inkwell events tail [--from SEQ] [--type TYPE[,TYPE]] [--no-follow]")
		return errUsage
	}
	return runEventsTail(ctx, args[1:], getenv, stdout, stderr)
}

// runEventsTail prints events of the log as JSON lines (the shape of
// eventstore.EventView, sensitive fields removed), following live appends.
func runEventsTail(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg := DefaultConfig()
	fs := flag.NewFlagSet("inkwell events tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.Uint64("from", 0, "first log sequence to print (default: only events appended from now on)")
	types := fs.String("type", "", "print only these event types (comma-separated, e.g. article.created,article.published)")
	noFollow := fs.Bool("no-follow", false, "stop at the end of the log instead of waiting for new events")
	if err := parseFlags(fs, &cfg, args, getenv); err != nil {
		return err
	}
	var want []string
	if *types != "" {
		want = strings.Split(*types, ",")
	}
	log := newLogger(cfg, stderr)
	el, store, err := openStore(ctx, cfg, log, false)
	if err != nil {
		return err
	}
	defer el.Close()
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	start := *from
	if start == 0 {
		start = head + 1
	}
	if *noFollow && start > head {
		return nil
	}
	cur, err := store.Follow(ctx, start)
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
		if *noFollow && rec.Seq >= head {
			return nil
		}
		if !*noFollow {
			// Following live: print each event as it comes.
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
}
