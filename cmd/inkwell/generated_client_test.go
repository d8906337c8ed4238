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
	s := startServer(t)
	admin := s.createAdmin(t, "admin")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/goclient")); err != nil {
		t.Fatal(err)
	}
	doc := expect(t, s.request(t, "GET", "/api/openapi.json", "", nil), 200).Body
	if err := os.WriteFile(filepath.Join(dir, "openapi.json"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "client"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	goRun := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "go", append([]string{"run"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go run %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goRun(oapiCodegen, "-generate", "types,client", "-package", "client", "-o", "client/client.go", "openapi.json")
	if out := goRun("./walk", s.URL, admin.AccessToken); !strings.Contains(out, "walkthrough done") {
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
	s := startServer(t)
	admin := s.createAdmin(t, "admin")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/tsclient")); err != nil {
		t.Fatal(err)
	}
	doc := expect(t, s.request(t, "GET", "/api/openapi.json", "", nil), 200).Body
	if err := os.WriteFile(filepath.Join(dir, "openapi.json"), doc, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	run("node_modules/.bin/openapi-typescript", "openapi.json", "-o", "schema.d.ts")
	run("node_modules/.bin/tsc", "-p", ".")
	if out := run("node", "walk.js", s.URL, admin.AccessToken); !strings.Contains(out, "walkthrough done") {
		t.Fatalf("the walkthrough through the generated client:\n%s", out)
	}
}
