// Command inkwell is Inkwell's one binary: the API server and the tools that
// operate it.
//
//	inkwell [serve]          run the API server (the default)
//	inkwell createsuperuser  create an administrator account
//	inkwell migrate          apply the read-model database migrations
//	inkwell replay           rebuild the read models from the event log
//	inkwell events tail      print the event log as JSON lines
//	inkwell projections      where the read models stand; skip an event
//
// Run "inkwell <command> -h" for a command's flags.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "inkwell:", err)
		}
		os.Exit(1)
	}
}

// errUsage is returned after the usage text was printed.
var errUsage = errors.New("usage")

// Run dispatches to a subcommand: it is the whole program but for signals
// and the exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		m := NewMain()
		m.Stdout, m.Stderr = stdout, stderr
		if err := m.ParseFlags(args, getenv); err != nil {
			return err
		}
		if err := m.Run(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		return m.Close()
	case "createsuperuser":
		return runCreateSuperuser(ctx, args, getenv, stdin, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args, getenv, stdout, stderr)
	case "replay":
		return runReplay(ctx, args, getenv, stdout, stderr)
	case "events":
		return runEvents(ctx, args, getenv, stdout, stderr)
	case "projections":
		return runProjections(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	default:
		fmt.Fprintf(stderr, "inkwell: unknown command %q\n\n%s\n", cmd, usage)
		return errUsage
	}
}

const usage = `Usage: inkwell [command] [flags]

Commands:
  serve            run the API server (the default)
  createsuperuser  create an administrator account
  migrate          apply the read-model database migrations
  replay           rebuild the read models from the event log
  events tail      print the event log as JSON lines, following new events
  projections      status: where the read models stand; skip: let one go on
                   past an event it cannot apply

Run "inkwell <command> -h" for a command's flags.`
