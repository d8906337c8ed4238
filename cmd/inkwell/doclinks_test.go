package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// The documentation's pages: the README and every page of docs/.
func docPages(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"../../README.md"}, pages...)
}

var (
	fence    = regexp.MustCompile("(?ms)^ *```.*?^ *```")
	codeSpan = regexp.MustCompile("`[^`]*`")
	mdLink   = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]+)\)`)
	heading  = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#* *$`)
)

// withoutCode blanks fenced blocks (keeping their lines, so that line numbers
// stay) and code spans, where brackets are not links.
func withoutCode(text string) string {
	return codeSpan.ReplaceAllString(withoutFences(text), "``")
}

// withoutFences blanks fenced blocks, keeping their lines.
func withoutFences(text string) string {
	return fence.ReplaceAllStringFunc(text, func(s string) string { return strings.Repeat("\n", strings.Count(s, "\n")) })
}

// anchors returns the anchors GitHub gives a page's headings: lower case,
// punctuation dropped (letters, digits, spaces, hyphens and underscores
// kept; a code span's text stays, its backticks go), spaces as hyphens,
// and -1, -2, ... after a repeated one.
func anchors(text string) map[string]bool {
	got := map[string]bool{}
	seen := map[string]int{}
	for _, m := range heading.FindAllStringSubmatch(withoutFences(text), -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			got[slug+"-"+strconv.Itoa(n)] = true
		} else {
			got[slug] = true
		}
		seen[slug]++
	}
	return got
}

// Every relative link of the README and of docs/ leads to a file of the
// repository and, when it names an anchor, to a heading of that page.
func TestDocsLinksResolve(t *testing.T) {
	t.Parallel()
	pageAnchors := map[string]map[string]bool{}
	anchorsOf := func(path string) (map[string]bool, error) {
		if a, ok := pageAnchors[path]; ok {
			return a, nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		pageAnchors[path] = anchors(string(b))
		return pageAnchors[path], nil
	}
	links := 0
	for _, page := range docPages(t) {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		text := withoutCode(string(b))
		for _, loc := range mdLink.FindAllStringSubmatchIndex(text, -1) {
			target := text[loc[2]:loc[3]]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			links++
			where := filepath.Base(page) + ":" + strconv.Itoa(1+strings.Count(text[:loc[0]], "\n"))
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
				if _, err := os.Stat(path); err != nil {
					t.Errorf("%s: the link %s leads to no file", where, target)
					continue
				}
			}
			if anchor == "" {
				continue
			}
			if !strings.HasSuffix(path, ".md") {
				t.Errorf("%s: the link %s names an anchor of a file that is not a page", where, target)
				continue
			}
			a, err := anchorsOf(path)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if !a[anchor] {
				t.Errorf("%s: the link %s names no heading of %s", where, target, filepath.Base(path))
			}
		}
	}
	if links < 20 {
		t.Fatalf("only %d relative links in the README and docs/", links)
	}
}

// The README is a front door: a page (under 300 lines), from which every
// page of docs/ is one click away.
func TestReadmeIsAFrontDoor(t *testing.T) {
	t.Parallel()
	readme := readDoc(t, "README.md")
	if n := strings.Count(readme, "\n"); n >= 300 {
		t.Errorf("the README has %d lines: keep it a front door (under 300), and move a topic's manual into a page of docs/", n)
	}
	linked := map[string]bool{}
	for _, m := range mdLink.FindAllStringSubmatch(withoutCode(readme), -1) {
		file, _, _ := strings.Cut(m[1], "#")
		linked[file] = true
	}
	for _, page := range docPages(t)[1:] {
		if name := "docs/" + filepath.Base(page); !linked[name] {
			t.Errorf("the README does not link %s", name)
		}
	}
}

// readDoc returns the text of the repository's file name: README.md or a
// page of docs/.
func readDoc(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A heading's anchor is GitHub's: a code span's text is part of it.
func TestAnchorsAreGitHubs(t *testing.T) {
	t.Parallel()
	got := anchors("# Big logs: `inkwell replay`\n\n```sh\n# not a heading\n```\n## Memory, and logins\n## Memory, and logins\n")
	for _, want := range []string{"big-logs-inkwell-replay", "memory-and-logins", "memory-and-logins-1"} {
		if !got[want] {
			t.Errorf("no anchor %q among %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Errorf("a line of a fenced block became a heading: %v", got)
	}
}
