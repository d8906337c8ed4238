// Command inkwell is Inkwell's one binary: the API server and the tools that
// operate it.
//
//	inkwell [serve]          run the API server (the default)
//	inkwell createsuperuser  create an administrator account
//	inkwell import django    import the tutorial's Django database; import lookup: an old id's new one
//	inkwell migrate          apply the read-model database migrations
//	inkwell replay           rebuild the read models from the event log
//	inkwell backup           copy the event log and the buckets beside it, online
//	inkwell restore          restore a backup into an empty event log; rebuild the read models
//	inkwell events tail      print the event log as JSON lines
//	inkwell events replicas  show or change the copies a NATS cluster keeps of it
//	inkwell events verify    check the whole event log for damage
//	inkwell events accept-loss  record that the loss of events the log lost is accepted
//	inkwell projections      where the read models stand; skip an event
//	inkwell keys             list the shared signing keys; rotate them
//	inkwell probe            check a running server's readiness (for health checks)
//	inkwell version          print the build's version
//
// Run "inkwell help <command>" (or "inkwell <command> -h") for a command's
// flags. Help that was asked for goes to stdout with exit status 0; a
// command line that is wrong goes to stderr with exit status 2.
//
// The command tree, its help and its parsing are ff's (ffcli, from
// github.com/peterbourgon/ff/v3): it builds on the standard flag package,
// so flags keep Go's syntax (-addr and --addr alike) and each command has a
// flag.FlagSet of its own, with no dependency beyond it. Cobra would have
// brought pflag's syntax and a larger tree for nothing Inkwell needs. The
// configuration's environment variables are bound here (bindConfig): their
// names are Inkwell's documented ones, and command flags such as
// createsuperuser's --username must not be read from the environment, which
// ff's prefix binding would do.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/peterbourgon/ff/v3/ffcli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := Run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode reports err and returns the process's exit code, as Go's tools
// do: 0 for success (and for -h), 2 for a command line that is wrong, 1 for
// anything else.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		if !ue.reported {
			fmt.Fprintln(stderr, "inkwell:", err)
		}
		return 2
	}
	fmt.Fprintln(stderr, "inkwell:", err)
	return 1
}

// usageError is a command line that is wrong: exit status 2. reported is
// set when the flag package already printed the error and the usage.
type usageError struct {
	err      error
	reported bool
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{err: fmt.Errorf(format, args...)}
}

// app is what the commands share: the environment and the standard streams.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// flagOutput holds what the flag package prints while parsing: the
	// usage that -h asked for (for stdout) or an error and the usage (for
	// stderr).
	flagOutput bytes.Buffer
}

// Run parses args and runs the command they name: it is the whole program
// but for signals and the exit code. -h (and "inkwell help <command>")
// prints a command's usage to stdout and returns nil, as "go help build"
// does; a wrong command line prints to stderr and returns a usageError.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	var ne ffcli.NoExecError
	switch err := root.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		// Asked for: on stdout, so that it can be piped to grep or less.
		_, err := a.flagOutput.WriteTo(stdout)
		return err
	case errors.As(err, &ne):
		if rest := ne.Command.FlagSet.Args(); len(rest) > 0 {
			return unknownCommand(ne.Command, rest[0])
		}
		fmt.Fprint(stderr, usage(ne.Command))
		return usageError{err: fmt.Errorf("%s needs a subcommand", ne.Command.FlagSet.Name()), reported: true}
	case err != nil:
		// The flag package wrote the error and the usage.
		a.flagOutput.WriteTo(stderr)
		return usageError{err: err, reported: true}
	}
	return root.Run(ctx)
}

// newFlagSet returns the flag set of the command named name. What the flag
// package prints while parsing is held in a.flagOutput, for Run to send
// to stdout or stderr.
func (a *app) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(&a.flagOutput)
	return fs
}

// leaf describes a command that does work: its help, the configuration
// groups it reads, its own flags, and what it runs once its flags and
// variables are read and the configuration checked.
type leaf struct {
	path       string // "inkwell events tail": the flag set's name; the last word is the command's
	usage      string
	help, long string
	groups     []group
	// flags registers the command's own flags.
	flags func(fs *flag.FlagSet)
	// configFlags registers flags that bind fields of cfg, adding their
	// variables to env.
	configFlags func(fs *flag.FlagSet, cfg *Config, env envBindings)
	run         func(ctx context.Context, cfg Config) error
}

// command builds l's ffcli command.
func (a *app) command(l leaf) *ffcli.Command {
	cfg := DefaultConfig()
	fs := a.newFlagSet(l.path)
	env := bindConfig(fs, &cfg, l.groups...)
	if l.flags != nil {
		l.flags(fs)
	}
	if l.configFlags != nil {
		l.configFlags(fs, &cfg, env)
	}
	return &ffcli.Command{
		Name:       l.path[strings.LastIndexByte(l.path, ' ')+1:],
		ShortUsage: l.usage,
		ShortHelp:  l.help,
		LongHelp:   l.long,
		FlagSet:    fs,
		Exec: func(ctx context.Context, args []string) error {
			if err := a.settle(fs, env, &cfg, args); err != nil {
				return err
			}
			return l.run(ctx, cfg)
		},
	}
}

// group builds a command that only holds subcommands.
func (a *app) group(path, usage, help string, subs ...*ffcli.Command) *ffcli.Command {
	return &ffcli.Command{
		Name:        path[strings.LastIndexByte(path, ' ')+1:],
		ShortUsage:  usage,
		ShortHelp:   help,
		FlagSet:     a.newFlagSet(path),
		Subcommands: subs,
	}
}

// settle finishes a command's parsing: it refuses positional arguments,
// reads the configuration's variables for the flags not given, and checks
// the configuration.
func (a *app) settle(fs *flag.FlagSet, env envBindings, cfg *Config, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, only flags (see -h): %q", fs.Name(), args)
	}
	if err := env.applyEnv(fs, a.getenv); err != nil {
		return usageError{err: err}
	}
	if err := cfg.check(); err != nil {
		return usageError{err: err}
	}
	return nil
}

func (a *app) rootCommand() *ffcli.Command {
	fs := a.newFlagSet("inkwell")
	version := fs.Bool("version", false, "print the build's version and exit")
	serve := a.serveCommand()
	root := &ffcli.Command{
		Name:       "inkwell",
		ShortUsage: "inkwell [command] [flags]",
		LongHelp: "Inkwell is an event-sourced blog API. Without a command it serves the API\n" +
			"(\"inkwell serve\"). Run \"inkwell help <command>\" (or \"inkwell <command> -h\")\n" +
			"for a command's flags.",
		FlagSet: fs,
		Subcommands: []*ffcli.Command{
			serve,
			a.createSuperuserCommand(),
			a.importCommand(),
			a.migrateCommand(),
			a.replayCommand(),
			a.backupCommand(),
			a.restoreCommand(),
			a.eventsCommand(),
			a.projectionsCommand(),
			a.keysCommand(),
			a.probeCommand(),
			a.versionCommand(),
		},
	}
	root.Subcommands = append(root.Subcommands, a.helpCommand(root))
	root.Exec = func(ctx context.Context, args []string) error {
		if *version {
			fmt.Fprintln(a.stdout, versionLine())
			return nil
		}
		if len(args) > 0 {
			return unknownCommand(root, args[0])
		}
		return serve.ParseAndRun(ctx, nil)
	}
	setUsage(root)
	return root
}

func (a *app) versionCommand() *ffcli.Command {
	return a.command(leaf{
		path:  "inkwell version",
		usage: "inkwell version",
		help:  "print the build's version",
		run: func(context.Context, Config) error {
			fmt.Fprintln(a.stdout, versionLine())
			return nil
		},
	})
}
