package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/peterbourgon/ff/v3/ffcli"
	"golang.org/x/term"

	"inkwell/auth"
	"inkwell/commands"
	"inkwell/domain"
)

// createSuperuserCommand creates a superuser account. The password comes
// from $INKWELL_PASSWORD or, on a terminal, from a prompt that does not
// echo. It works whether or not a server runs on the same data directory.
func (a *app) createSuperuserCommand() *ffcli.Command {
	var username, email, first, last string
	return a.command(leaf{
		path:   "inkwell createsuperuser",
		usage:  "inkwell createsuperuser --username NAME --email EMAIL [flags]",
		help:   "create an administrator account",
		long:   "The password comes from $INKWELL_PASSWORD or, on a terminal, a prompt.\nIt works whether or not a server runs on the same data directory.",
		groups: eventLogGroups,
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&username, "username", "", "username of the new superuser (required)")
			fs.StringVar(&email, "email", "", "email of the new superuser (required)")
			fs.StringVar(&first, "first-name", "", "first name")
			fs.StringVar(&last, "last-name", "", "last name")
		},
		run: func(ctx context.Context, cfg Config) error {
			if username == "" || email == "" {
				return usagef("createsuperuser: --username and --email are required")
			}
			return createSuperuser(ctx, cfg, domain.NewUser{Username: username, Email: email, FirstName: first, LastName: last, Staff: true, Superuser: true},
				a.getenv, a.stdin, a.stdout, a.stderr)
		},
	})
}

// createSuperuser records the account nu with the password from
// $INKWELL_PASSWORD or a prompt.
func createSuperuser(ctx context.Context, cfg Config, nu domain.NewUser, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if err := nu.Validate(); err != nil {
		return describe(err)
	}

	password := getenv("INKWELL_PASSWORD")
	if password == "" {
		var err error
		if password, err = promptPassword(stdin, stderr); err != nil {
			return err
		}
	}
	if err := domain.ValidatePassword("password", password); err != nil {
		return describe(err)
	}

	return withStore(ctx, cfg, stderr, func(ops operations) error {
		cmds := commands.New(commands.Deps{Store: ops.store, Hasher: auth.NewHasher(cfg.passwordParams(), 0), Logger: ops.log})
		res, err := cmds.Register.Handle(ctx, commands.Register{
			User:     nu,
			Password: password,
			Meta:     domain.Meta{ActorID: domain.SystemActorID, CorrelationID: "createsuperuser"},
		})
		if err != nil {
			return describe(err)
		}
		fmt.Fprintf(stdout, "Superuser %q created (id %s).\n", nu.Username, res.ID)
		return nil
	})
}

// describe turns a domain error into a message for the terminal.
func describe(err error) error {
	if domain.ErrorCode(err) == domain.EINTERNAL {
		return err
	}
	fields := domain.ErrorFields(err)
	if len(fields) == 0 {
		return errors.New(domain.ErrorMessage(err))
	}
	var parts []string
	for k, v := range fields {
		parts = append(parts, k+" "+v)
	}
	return fmt.Errorf("%s (%s)", domain.ErrorMessage(err), strings.Join(parts, "; "))
}

// promptPassword asks for the password twice on a terminal without echo.
func promptPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("createsuperuser: set INKWELL_PASSWORD, or run on a terminal to be asked for the password")
	}
	read := func(prompt string) (string, error) {
		fmt.Fprint(stderr, prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	p1, err := read("Password: ")
	if err != nil {
		return "", err
	}
	p2, err := read("Password (again): ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("createsuperuser: the passwords do not match")
	}
	return p1, nil
}
