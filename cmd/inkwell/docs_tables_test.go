package main_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"inkwell/api"
	"inkwell/auth"
	main "inkwell/cmd/inkwell"
	"inkwell/domain"
	"inkwell/metrics"
)

// The tables of the docs say what the code does: the settings, the
// metrics, the input limits.

// The table of settings in docs/configuration.md is true: it has a row for
// every variable `inkwell serve` reads (serve takes every setting), none
// for a variable it does not, and where the table gives a default as one
// literal, that is the flag's default.
func TestDocsConfigurationTable(t *testing.T) {
	t.Parallel()
	settings, help := serveSettings()
	defaults := map[string]string{}
	for _, st := range settings {
		defaults[st.variable] = st.def
	}
	if len(defaults) < 20 {
		t.Fatalf("only %d settings in inkwell serve -h:\n%s", len(defaults), help)
	}

	page := readDoc(t, "docs/configuration.md")
	row := regexp.MustCompile("^\\| `(INKWELL_[A-Z_]+)` \\| ([^|]*?) \\|")
	literal := regexp.MustCompile("^`([^`]+)`$")
	documented := map[string]bool{}
	for _, m := range matchLines(page, row) {
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

// The table of metrics (docs/operations.md, "Metrics and readiness") is
// true: it lists every metric of Inkwell's own, with its type and labels,
// and the server's /metrics exposes them so.
func TestDocsMetricsTable(t *testing.T) {
	t.Parallel()
	page := readDoc(t, "docs/operations.md")
	row := regexp.MustCompile("^\\| `(inkwell_[a-z_]+)` \\| (counter|gauge|histogram) \\| *([a-z_, ]*?) *\\|")
	documented := map[string]metrics.Info{}
	for _, m := range matchLines(page, row) {
		info := metrics.Info{Name: m[1], Type: m[2]}
		for _, l := range strings.Split(m[3], ",") {
			if l = strings.TrimSpace(l); l != "" {
				info.Labels = append(info.Labels, l)
			}
		}
		documented[info.Name] = info
	}
	catalog := metrics.New().Catalog()
	if len(documented) == 0 {
		t.Fatal("no table of metrics in docs/operations.md")
	}
	for _, c := range catalog {
		d, ok := documented[c.Name]
		switch {
		case !ok:
			t.Errorf("%s is not in the table of docs/operations.md", c.Name)
		case d.Type != c.Type || !slices.Equal(d.Labels, c.Labels):
			t.Errorf("docs/operations.md: %s is a %s with labels %v; the server's is a %s with labels %v", c.Name, d.Type, d.Labels, c.Type, c.Labels)
		}
		delete(documented, c.Name)
	}
	for name := range documented {
		t.Errorf("docs/operations.md lists %s, which the server does not have", name)
	}

	// The server exposes them with those types and labels.
	s := startServer(t)
	s.registerUser(t, "measured")
	body := string(expect(t, s.request(t, "GET", "/metrics", "", nil), 200).Body)
	byName := map[string]metrics.Info{}
	for _, c := range catalog {
		byName[c.Name] = c
	}
	typeLine := regexp.MustCompile(`^# TYPE (inkwell_[a-z_]+) (\w+)$`)
	sample := regexp.MustCompile(`^(inkwell_[a-z_]+?)(_bucket|_sum|_count)?(\{[^}]*\})? `)
	label := regexp.MustCompile(`([a-z_]+)="`)
	seen := 0
	for _, line := range strings.Split(body, "\n") {
		if m := typeLine.FindStringSubmatch(line); m != nil {
			seen++
			if c, ok := byName[m[1]]; !ok || c.Type != m[2] {
				t.Errorf("/metrics has %s of type %s; the catalog: %+v", m[1], m[2], c)
			}
			continue
		}
		m := sample.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		c, ok := byName[m[1]]
		if !ok {
			continue // a histogram's series, matched by its family above
		}
		var labels []string
		for _, l := range label.FindAllStringSubmatch(m[3], -1) {
			if l[1] != "le" {
				labels = append(labels, l[1])
			}
		}
		want := slices.Clone(c.Labels)
		slices.Sort(labels)
		slices.Sort(want)
		if !slices.Equal(labels, want) {
			t.Errorf("/metrics: %s has labels %v, want %v", line, labels, want)
		}
	}
	if seen < 10 {
		t.Fatalf("only %d of Inkwell's metrics in /metrics", seen)
	}
}

// The table of input limits (docs/security.md) says what the code enforces.
func TestDocsInputLimits(t *testing.T) {
	t.Parallel()
	page := readDoc(t, "docs/security.md")
	want := map[string]string{
		"`username`":                 strconv.Itoa(domain.MaxUsernameLen),
		"`email`":                    strconv.Itoa(domain.MaxEmailLen),
		"`password`, `new_password`": fmt.Sprintf("%d (and at least %d)", domain.MaxPasswordLen, domain.MinPasswordLen),
		"`first_name`, `last_name`":  strconv.Itoa(domain.MaxNameLen),
		"`bio`":                      strconv.Itoa(domain.MaxBioLen),
		"`avatar`, `cover_image`":    strconv.Itoa(domain.MaxURLLen),
		"`title`":                    strconv.Itoa(domain.MaxTitleLen),
		"`slug`":                     strconv.Itoa(domain.MaxSlugLen),
		"`content`":                  strconv.Itoa(domain.MaxContentLen),
		"`excerpt`":                  strconv.Itoa(domain.MaxExcerptLen),
		"`tags` (per article)":       strconv.Itoa(domain.MaxTags),
		"category `name`":            strconv.Itoa(domain.MaxCategoryNameLen),
		"category `description`":     strconv.Itoa(domain.MaxDescriptionLen),
		"tag `name`":                 strconv.Itoa(domain.MaxTagNameLen),
		"`page_size`, `limit`":       strconv.Itoa(api.MaxPageSize),
		"`cursor`":                   strconv.Itoa(api.MaxCursorLen),
		"request body":               fmt.Sprintf("%d MiB (413)", api.MaxBodyBytes>>20),
		"bearer token":               fmt.Sprintf("%d KiB (401)", auth.MaxTokenLen>>10),
	}
	got := map[string]string{}
	for _, line := range strings.Split(page, "\n") {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) != 4 {
			continue
		}
		if field := strings.TrimSpace(cells[1]); want[field] != "" {
			got[field] = strings.TrimSpace(cells[2])
		}
	}
	for field, limit := range want {
		if got[field] != limit {
			t.Errorf("docs/security.md: the limit of %s is %q, the code's %q", field, got[field], limit)
		}
	}
}

// matchLines returns the submatches of re in each line of text it matches:
// the rows of a table of the docs, the flags of a command's help.
func matchLines(text string, re *regexp.Regexp) [][]string {
	var matches [][]string
	for _, line := range strings.Split(text, "\n") {
		if m := re.FindStringSubmatch(line); m != nil {
			matches = append(matches, m)
		}
	}
	return matches
}

// setting is a setting of inkwell serve as its help lists it: a flag with
// its default and its variable.
type setting struct{ flag, def, variable string }

// serveSettings returns the settings inkwell serve -h lists, and the help.
func serveSettings() ([]setting, string) {
	var help bytes.Buffer
	_ = main.Run(context.Background(), []string{"serve", "-h"}, getenvOf(nil), nil, &help, &help)
	var settings []setting
	for _, m := range matchLines(help.String(), regexp.MustCompile(`^\s+-([a-z-]+) (\S+)\s.*\(\$(INKWELL_[A-Z_]+)\)$`)) {
		settings = append(settings, setting{flag: m[1], def: m[2], variable: m[3]})
	}
	return settings, help.String()
}
