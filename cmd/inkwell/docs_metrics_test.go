package main_test

import (
	"bufio"
	"regexp"
	"slices"
	"strings"
	"testing"

	"inkwell/metrics"
)

// The table of metrics (docs/operations.md, "Metrics and readiness") is
// true: it lists every metric of Inkwell's own, with its type and labels,
// and the server's /metrics exposes them so.
func TestDocsMetricsTable(t *testing.T) {
	t.Parallel()
	page := readDoc(t, "docs/operations.md")
	row := regexp.MustCompile("^\\| `(inkwell_[a-z_]+)` \\| (counter|gauge|histogram) \\| *([a-z_, ]*?) *\\|")
	documented := map[string]metrics.Info{}
	sc := bufio.NewScanner(strings.NewReader(page))
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
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
