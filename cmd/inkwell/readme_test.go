package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"inkwell/api"
	"inkwell/auth"
	"inkwell/domain"
	"inkwell/testkit"
)

// The walkthrough is run as written (its shell blocks, in order: the
// README's, then those of docs/api.md, which go on from them) against a test
// server, with localhost:8000 and `go run ./cmd/inkwell` pointed at the
// test's server and a freshly built binary.
func TestReadmeWalkthrough(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			testkit.Skip(t, tool, "the README walkthrough runs its shell blocks with bash, curl and python3: install them")
		}
	}
	shellBlock := regexp.MustCompile("(?s)```sh\n(.*?)```")
	text := readDoc(t, "README.md")
	start := strings.Index(text, "\n## Walkthrough\n")
	if start < 0 {
		t.Fatal("README has no Walkthrough section")
	}
	walkthrough := text[start+1:]
	if end := strings.Index(walkthrough, "\n## "); end >= 0 {
		walkthrough = walkthrough[:end]
	}
	blocks := shellBlock.FindAllStringSubmatch(walkthrough, -1)
	if len(blocks) < 8 {
		t.Fatalf("only %d shell blocks in the README's walkthrough", len(blocks))
	}
	continued := shellBlock.FindAllStringSubmatch(readDoc(t, "docs/api.md"), -1)
	if len(continued) < 8 {
		t.Fatalf("only %d shell blocks in docs/api.md", len(continued))
	}
	blocks = append(blocks, continued...)

	bin := inkwellBinary(t)
	s := startServer(t)
	host := strings.TrimPrefix(s.URL, "http://")

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, b := range blocks {
		code := strings.ReplaceAll(b[1], "localhost:8000", host)
		code = strings.ReplaceAll(code, "go run ./cmd/inkwell", bin)
		// Each block's curl output is checked by the markers below.
		script.WriteString("echo '=== block " + string(rune('A'+i)) + "'\n" + code + "\necho\n")
	}
	cmd := exec.Command("bash", "-c", script.String())
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "INKWELL_DATA_DIR="+s.Config.DataDir)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatal("the walkthrough did not finish in 2 minutes")
	}
	if err != nil {
		t.Fatalf("walkthrough failed: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		`"token_type":"bearer"`,
		`"username":"johndoe"`,
		`Superuser "admin" created`,
		`"name":"Tutorials"`,
		`"title":"My Article","slug":"my-article"`,
		`"detail":"Authentication credentials were not provided."`,
		`"status":403`,
		`"title":"My Article, revised"`,
		`"type":"article.created"`,
		`Idempotency-Replayed: true`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("walkthrough output lacks %s", want)
		}
	}
	if strings.Contains(got, `"status":500`) || strings.Contains(got, `"status":422`) {
		t.Errorf("walkthrough hit an error:\n%s", got)
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
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
