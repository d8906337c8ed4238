package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/peterbourgon/ff/v3/ffcli"
)

// helpCommand is "inkwell help [command [subcommand]]": the list of
// commands, or one command's help, on stdout, as "go help build" prints
// build's.
func (a *app) helpCommand(root *ffcli.Command) *ffcli.Command {
	return &ffcli.Command{
		Name:       "help",
		ShortUsage: "inkwell help [command [subcommand]]",
		ShortHelp:  "print the list of commands, or a command's help and flags",
		FlagSet:    a.newFlagSet("inkwell help"),
		Exec: func(_ context.Context, args []string) error {
			c := root
			for _, name := range args {
				sub := subcommand(c, name)
				if sub == nil {
					return unknownCommand(c, name)
				}
				c = sub
			}
			fmt.Fprint(a.stdout, usage(c))
			return nil
		},
	}
}

// subcommand returns c's subcommand named name (in any case, as ffcli
// matches them), or nil.
func subcommand(c *ffcli.Command, name string) *ffcli.Command {
	for _, s := range c.Subcommands {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// unknownCommand is the usage error for a command parent does not have: it
// names the nearest ones, and where to find them all.
func unknownCommand(parent *ffcli.Command, name string) error {
	prefix := strings.TrimPrefix(strings.TrimPrefix(parent.FlagSet.Name(), "inkwell"), " ")
	if prefix != "" {
		prefix += " "
	}
	var names []string
	for _, s := range parent.Subcommands {
		names = append(names, s.Name)
	}
	msg := fmt.Sprintf("unknown command %q", prefix+name)
	if near := nearest(name, names); len(near) > 0 {
		for i := range near {
			near[i] = prefix + near[i]
		}
		msg += "; did you mean " + orList(near) + "?"
	}
	return usagef("%s\nRun %q for the list of commands.", msg, strings.TrimSuffix("inkwell help "+prefix, " "))
}

// notOneOf is the usage error for a flag given a name outside its fixed
// set: it names the value, the nearest valid ones and all of them.
// setting is the command and flag ("replay --projection"), what the kind
// of name ("projection").
func notOneOf(setting, what, value string, valid []string) error {
	msg := fmt.Sprintf("%s: no %s %q", setting, what, value)
	if near := nearest(value, valid); len(near) > 0 {
		msg += "; did you mean " + orList(near) + "?"
	}
	return usagef("%s (the %ss are %s)", msg, what, strings.Join(valid, ", "))
}

// nearest returns the candidates closest to name: those within an edit
// distance of a third of name's length (at least 1, at most 3), nearest
// first, and those name begins (a command cut short).
func nearest(name string, candidates []string) []string {
	name = strings.ToLower(name)
	limit := min(max(len(name)/3, 1), 3)
	type near struct {
		s string
		d int
	}
	var found []near
	for _, c := range candidates {
		d := editDistance(name, strings.ToLower(c))
		if d <= limit || (len(name) >= 2 && strings.HasPrefix(strings.ToLower(c), name)) {
			found = append(found, near{c, d})
		}
	}
	slices.SortStableFunc(found, func(a, b near) int { return cmp.Compare(a.d, b.d) })
	var out []string
	for _, f := range found {
		out = append(out, f.s)
	}
	return out
}

// editDistance is the optimal string alignment distance between a and b,
// in bytes: the insertions, deletions, substitutions and swaps of two
// neighbours that turn one into the other ("tial" is 1 from "tail").
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// orList joins names as "a", "a or b", "a, b or c".
func orList(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// usage is a command's help: ffcli's layout, with each flag shown as the
// flag package shows it: a bool flag by its name alone ("-no-follow", not
// "-no-follow=false"), its default said only when it is true.
func usage(c *ffcli.Command) string {
	var b strings.Builder
	if c.ShortHelp != "" {
		fmt.Fprintf(&b, "DESCRIPTION\n  %s\n\n", c.ShortHelp)
	}
	fmt.Fprintf(&b, "USAGE\n  %s\n\n", cmp.Or(c.ShortUsage, c.Name))
	if c.LongHelp != "" {
		fmt.Fprintf(&b, "%s\n\n", c.LongHelp)
	}
	if len(c.Subcommands) > 0 {
		fmt.Fprintf(&b, "SUBCOMMANDS\n")
		tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
		for _, s := range c.Subcommands {
			fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.ShortHelp)
		}
		tw.Flush()
		fmt.Fprintf(&b, "\n")
	}
	if c.FlagSet != nil {
		var lines []string
		c.FlagSet.VisitAll(func(f *flag.Flag) { lines = append(lines, flagLine(f)) })
		if len(lines) > 0 {
			fmt.Fprintf(&b, "FLAGS\n")
			tw := tabwriter.NewWriter(&b, 0, 2, 2, ' ', 0)
			for _, l := range lines {
				fmt.Fprintln(tw, l)
			}
			tw.Flush()
		}
	}
	return strings.TrimSpace(b.String()) + "\n"
}

// flagLine is one flag's line of the usage: "  -name value\tusage", value
// being the default, else the back-quoted name of the usage, else the
// flag package's guess ("string", "int").
func flagLine(f *flag.Flag) string {
	argname, text := flag.UnquoteUsage(f)
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		if f.DefValue != "false" {
			text += " (default " + f.DefValue + ")"
		}
		return fmt.Sprintf("  -%s\t%s", f.Name, text)
	}
	return fmt.Sprintf("  -%s %s\t%s", f.Name, cmp.Or(f.DefValue, argname, "..."), text)
}

// setUsage makes usage the help of c and of every command under it.
func setUsage(c *ffcli.Command) {
	c.UsageFunc = usage
	for _, s := range c.Subcommands {
		setUsage(s)
	}
}
