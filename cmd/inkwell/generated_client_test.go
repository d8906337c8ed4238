//go:build heavy

package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"inkwell/testkit"
)

// oapiCodegen is the Go client generator the test runs, from the Go
// module proxy.
const oapiCodegen = "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2"

// A Go client generated from the document the server serves compiles and
// runs the README's walkthrough (register, log in, who am I, refresh, a
// category and a tag, an article created with them by number and slug,
// listed, read, changed and deleted) against a server.
func TestGeneratedGoClientRunsTheWalkthrough(t *testing.T) {
	t.Parallel()
	p := newClientProject(t, "testdata/goclient")
	if err := os.Mkdir(filepath.Join(p.dir, "client"), 0o755); err != nil {
		t.Fatal(err)
	}
	goRun := func(args ...string) string {
		t.Helper()
		return p.run(t, []string{"GOFLAGS=-mod=mod", "GOWORK=off"}, "go", append([]string{"run"}, args...)...)
	}
	goRun(oapiCodegen, "-generate", "types,client", "-package", "client", "-o", "client/client.go", "openapi.json")
	if out := goRun("./walk", p.url, p.token); !strings.Contains(out, "walkthrough done") {
		t.Fatalf("the walkthrough through the generated client:\n%s", out)
	}
}

// A TypeScript client made from the document the server serves (its types
// by openapi-typescript, its calls by openapi-fetch, the versions pinned in
// testdata/tsclient/package-lock.json) type-checks the README's requests
// under tsc's strict options, and runs the walkthrough against a server.
func TestGeneratedTypeScriptClientRunsTheWalkthrough(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			testkit.Skip(t, tool, "install Node.js and npm (apt-get install -y nodejs npm; .ci/run does)")
		}
	}
	p := newClientProject(t, "testdata/tsclient")
	p.run(t, nil, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	p.run(t, nil, "node_modules/.bin/openapi-typescript", "openapi.json", "-o", "schema.d.ts")
	p.run(t, nil, "node_modules/.bin/tsc", "-p", ".")
	if out := p.run(t, nil, "node", "walk.js", p.url, p.token); !strings.Contains(out, "walkthrough done") {
		t.Fatalf("the walkthrough through the generated client:\n%s", out)
	}
}

// clientProject is a client's project of testdata, copied into a temporary
// directory beside the OpenAPI document of the server it walks through.
type clientProject struct {
	dir   string
	url   string // the server's
	token string // an admin's access token
	ctx   context.Context
}

// newClientProject starts a server with an admin and copies the project at
// testdata into a temporary directory, with the document the server serves
// as openapi.json. Its commands have ten minutes in all.
func newClientProject(t *testing.T, testdata string) *clientProject {
	t.Helper()
	s := startServer(t)
	admin := s.createAdmin(t, "admin")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(testdata)); err != nil {
		t.Fatal(err)
	}
	doc := expect(t, s.request(t, "GET", "/api/openapi.json", "", nil), 200).Body
	if err := os.WriteFile(filepath.Join(dir, "openapi.json"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	t.Cleanup(cancel)
	return &clientProject{dir: dir, url: s.URL, token: admin.AccessToken, ctx: ctx}
}

// run runs name in the project's directory, with env added to the
// environment, and returns its output; it fails the test if name fails.
func (p *clientProject) run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(p.ctx, name, args...)
	cmd.Dir = p.dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
