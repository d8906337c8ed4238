package main_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	main "inkwell/cmd/inkwell"
)

// The table of settings in docs/configuration.md is true: it has a row for
// every variable `inkwell serve` reads (serve takes every setting), none
// for a variable it does not, and where the table gives a default as one
// literal, that is the flag's default.
func TestDocsConfigurationTable(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	_ = main.Run(context.Background(), []string{"serve", "-h"}, func(string) string { return "" }, nil, &stdout, &stderr)
	flagLine := regexp.MustCompile(`^\s+-[a-z-]+ (\S+)\s.*\(\$(INKWELL_[A-Z_]+)\)$`)
	defaults := map[string]string{}
	for _, line := range strings.Split(stdout.String()+stderr.String(), "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			defaults[m[2]] = m[1]
		}
	}
	if len(defaults) < 20 {
		t.Fatalf("only %d settings in inkwell serve -h:\n%s%s", len(defaults), stdout.String(), stderr.String())
	}

	page := readDoc(t, "docs/configuration.md")
	row := regexp.MustCompile("^\\| `(INKWELL_[A-Z_]+)` \\| ([^|]*?) \\|")
	literal := regexp.MustCompile("^`([^`]+)`$")
	documented := map[string]bool{}
	for _, line := range strings.Split(page, "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		variable, cell := m[1], m[2]
		documented[variable] = true
		def, ok := defaults[variable]
		if !ok {
			t.Errorf("docs/configuration.md lists %s, which inkwell serve does not read", variable)
			continue
		}
		if l := literal.FindStringSubmatch(cell); l != nil && !sameDefault(l[1], def) {
			t.Errorf("docs/configuration.md: the default of %s is %s; inkwell serve -h says %s", variable, cell, def)
		}
	}
	for variable := range defaults {
		if !documented[variable] {
			t.Errorf("%s is not in the table of docs/configuration.md", variable)
		}
	}
}

// sameDefault compares a documented default with a flag's: durations by
// their value (15m is 15m0s).
func sameDefault(doc, flag string) bool {
	if doc == flag {
		return true
	}
	d, err1 := time.ParseDuration(doc)
	f, err2 := time.ParseDuration(flag)
	return err1 == nil && err2 == nil && d == f
}
