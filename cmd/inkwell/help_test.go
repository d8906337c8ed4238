package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Help behaves as Go users know it: "inkwell help <command>" prints that
// command's help as "go help build" does, and help that was asked for (-h,
// --help, help) goes to stdout with exit status 0, so that it can be piped;
// a command line that is wrong goes to stderr with exit status 2.
func TestHelpAsGoUsersKnowIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string // in stdout
	}{
		{[]string{"help"}, []string{"USAGE\n  inkwell [command] [flags]", "createsuperuser", `"inkwell help <command>"`}},
		{[]string{"-h"}, []string{"USAGE\n  inkwell [command] [flags]", "createsuperuser"}},
		{[]string{"help", "serve"}, []string{"USAGE\n  inkwell [serve] [flags]", "-nats-url", "-addr :8000"}},
		{[]string{"serve", "-h"}, []string{"USAGE\n  inkwell [serve] [flags]", "-nats-url"}},
		{[]string{"serve", "--help"}, []string{"-nats-url"}},
		{[]string{"help", "events"}, []string{"USAGE\n  inkwell events", "accept-loss"}},
		{[]string{"help", "events", "tail"}, []string{"USAGE\n  inkwell events tail", "-no-follow", "-from 0"}},
		{[]string{"events", "tail", "-h"}, []string{"USAGE\n  inkwell events tail", "-no-follow"}},
		{[]string{"help", "projections", "skip"}, []string{"-force", "-reason"}},
		{[]string{"help", "help"}, []string{"inkwell help [command [subcommand]]"}},
	} {
		stdout, stderr, code := runBinary(t, nil, tc.args...)
		if code != 0 || stderr != "" {
			t.Errorf("inkwell %s: exit %d, stderr %q (want 0 and nothing)", strings.Join(tc.args, " "), code, stderr)
		}
		checkOutput(t, tc.args, "stdout", stdout, tc.want)
	}

	// A bool flag is shown as the flag package shows one whose default is
	// false: its name alone, no "=false".
	for _, args := range [][]string{{"-h"}, {"help", "events", "tail"}, {"help", "projections", "skip"}} {
		stdout, _, _ := runBinary(t, nil, args...)
		if strings.Contains(stdout, "=false") {
			t.Errorf("inkwell %s shows a bool flag's default:\n%s", strings.Join(args, " "), stdout)
		}
	}
	if stdout, _, _ := runBinary(t, nil, "-h"); !strings.Contains(stdout, "  -version  ") {
		t.Errorf("inkwell -h does not show -version as a bool flag:\n%s", stdout)
	}

	// Wrong command lines: stderr, exit 2, nothing on stdout; an unknown
	// command names the nearest ones.
	for _, tc := range []struct {
		args []string
		want []string // in stderr
	}{
		{[]string{"serv"}, []string{`unknown command "serv"`, "did you mean serve?"}},
		{[]string{"relpay"}, []string{`unknown command "relpay"`, "did you mean replay?"}},
		{[]string{"nope"}, []string{`unknown command "nope"`, `"inkwell help"`}},
		{[]string{"events", "tial"}, []string{`unknown command "events tial"`, "did you mean events tail?"}},
		{[]string{"help", "serv"}, []string{`unknown command "serv"`, "did you mean serve?"}},
		{[]string{"help", "events", "verfy"}, []string{`unknown command "events verfy"`, "did you mean events verify?"}},
		{[]string{"serve", "--bogus"}, []string{"flag provided but not defined: -bogus", "-nats-url"}},
		{[]string{"events"}, []string{"tail"}},
	} {
		stdout, stderr, code := runBinary(t, nil, tc.args...)
		if code != 2 || stdout != "" {
			t.Errorf("inkwell %s: exit %d, stdout %q (want 2 and nothing)", strings.Join(tc.args, " "), code, stdout)
		}
		checkOutput(t, tc.args, "stderr", stderr, tc.want)
	}
}

// A flag that takes a name from a fixed set refuses any other before it
// does anything: a usage error (exit 2) naming the bad value and listing
// the valid ones, as replay --projection does.
func TestFixedSetFlagsRefuseOtherNames(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	for _, tc := range []struct {
		args []string
		want []string // in stderr
	}{
		{[]string{"events", "tail", "--type", "bogus", "--no-follow"},
			[]string{`--type`, `no event type "bogus"`, "article.created", "user.registered", "log.loss_accepted"}},
		{[]string{"events", "tail", "--type", "article.created,user.registerd", "--no-follow"},
			[]string{`no event type "user.registerd"`, "did you mean user.registered?"}},
		{[]string{"replay", "--projection", "nope"}, []string{`no projection "nope"`, "users", "articles", "personal"}},
		{[]string{"replay", "--projection", "user"}, []string{`no projection "user"`, "did you mean users?"}},
		{[]string{"projections", "skip", "--projection", "nope", "--reason", "x"}, []string{`no projection "nope"`, "users", "articles"}},
		{[]string{"projections", "skip", "--reason", "x"}, []string{"--projection", "users", "articles"}},
		{[]string{"probe", "--path", "/ready"}, []string{`"/ready"`, "did you mean /readyz?", "/healthz"}},
	} {
		_, stderr, code := runBinary(t, []string{"INKWELL_DATA_DIR=" + dir}, tc.args...)
		if code != 2 {
			t.Errorf("inkwell %s: exit %d, want 2 (%q)", strings.Join(tc.args, " "), code, stderr)
		}
		checkOutput(t, tc.args, "stderr", stderr, tc.want)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("a refused command line created the data directory %s", dir)
	}
	// The valid names still work.
	if stdout, stderr, code := runBinary(t, []string{"INKWELL_DATA_DIR=" + dir}, "events", "tail", "--type", "article.created, user.registered", "--from", "1", "--no-follow"); code != 0 {
		t.Errorf("events tail --type of known types: exit %d, %q %q", code, stdout, stderr)
	}
}

// checkOutput fails the test for each of want that out, what inkwell args
// wrote to stream, lacks.
func checkOutput(t *testing.T, args []string, stream, out string, want []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("inkwell %s: %s lacks %q:\n%s", strings.Join(args, " "), stream, w, out)
		}
	}
}
