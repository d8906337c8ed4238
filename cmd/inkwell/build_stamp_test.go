package main_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// An image says which build runs: the Dockerfile's build stage stamps the
// build args VERSION and REVISION into the binary. The test runs that stage's
// go build command as the Dockerfile writes it (its flags, its environment,
// the build args given test values) and asks the binary its version.
func TestDockerfileBuildStampsVersionAndRevision(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary as the image does (a build of its own: -trimpath, CGO_ENABLED=0); run without -short")
	}
	stage := dockerfileBuildStage(t, "../../Dockerfile")
	args := map[string]string{}
	for name, def := range stage.args {
		args[name] = def
	}
	const version, revision = "v9.8.7-stamptest", "0123456789abcdef0123456789abcdef01234567"
	for name, value := range map[string]string{"VERSION": version, "REVISION": revision} {
		if _, ok := stage.args[name]; !ok {
			t.Errorf("the Dockerfile's build stage declares no ARG %s: a release build and docker-compose.yml cannot stamp it", name)
		}
		args[name] = value
	}

	words := stage.goBuild
	if words == nil {
		t.Fatal("the Dockerfile's build stage runs no go build")
	}
	var env, argv []string
	for i, w := range words {
		w = expandArgs(w, args)
		if len(argv) == 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(w) {
			env = append(env, w)
			continue
		}
		if i > 0 && words[i-1] == "-o" {
			w = filepath.Join(t.TempDir(), "inkwell")
		}
		argv = append(argv, w)
	}
	bin := ""
	for i, w := range argv {
		if w == "-o" && i+1 < len(argv) {
			bin = argv[i+1]
		}
	}
	if len(argv) < 2 || argv[0] != "go" || argv[1] != "build" || bin == "" {
		t.Fatalf("the build stage's command %q is not `go build ... -o PATH PACKAGE`", strings.Join(words, " "))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = "../.." // the Dockerfile's WORKDIR: the build context, the repository's root
	// The build context has no .git (.dockerignore): the go command finds no
	// VCS to stamp, whatever this checkout holds.
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-buildvcs=false"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(append(env, argv...), " "), err, out)
	}
	out, err := exec.CommandContext(ctx, bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("inkwell version: %v\n%s", err, out)
	}
	want := "inkwell " + version + " (revision " + revision + ", "
	if !bytes.HasPrefix(out, []byte(want)) {
		t.Errorf("the image's binary says %q, want it to begin %q", bytes.TrimSpace(out), want)
	}
}

// A release build is documented with the build args the Dockerfile reads.
func TestReleaseBuildIsDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/production-stack.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"--build-arg VERSION=", "--build-arg REVISION=", "-X main.stampedVersion=", "-X main.stampedRevision="} {
		if !bytes.Contains(b, []byte(arg)) {
			t.Errorf("docs/production-stack.md does not show a release build with %s", arg)
		}
	}
}

// buildStage is what the test needs of the Dockerfile's first stage: its
// ARGs (with their defaults) and the words of the go build command it runs.
type buildStage struct {
	args    map[string]string
	goBuild []string
}

// dockerfileBuildStage reads the first stage of the Dockerfile at path.
func dockerfileBuildStage(t *testing.T, path string) buildStage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Instructions: comments dropped, continuation lines joined.
	var instructions []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if s, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(line)
		if s := strings.TrimSpace(cur.String()); s != "" {
			instructions = append(instructions, s)
		}
		cur.Reset()
	}
	stage := buildStage{args: map[string]string{}}
	stages := 0
	for _, in := range instructions {
		keyword, rest, _ := strings.Cut(in, " ")
		switch strings.ToUpper(keyword) {
		case "FROM":
			stages++
		case "ARG":
			if stages == 1 {
				name, def, _ := strings.Cut(strings.TrimSpace(rest), "=")
				stage.args[name] = strings.Trim(def, `"`)
			}
		case "RUN":
			if stages != 1 {
				continue
			}
			words, balanced := splitShell(rest)
			if !balanced {
				t.Fatalf("unbalanced quote in %q", rest)
			}
			var cmd []string // the words of one command: "" (&&, ;, |) ends it
			for _, w := range append(words, "") {
				if w != "" {
					cmd = append(cmd, w)
					continue
				}
				for i := 0; i+1 < len(cmd); i++ {
					if cmd[i] == "go" && cmd[i+1] == "build" {
						stage.goBuild = cmd
					}
				}
				cmd = nil
			}
		}
	}
	if stages == 0 {
		t.Fatalf("%s has no FROM", path)
	}
	return stage
}

// expandArgs replaces $NAME and ${NAME} with the build args' values.
func expandArgs(s string, args map[string]string) string {
	return os.Expand(s, func(name string) string { return args[name] })
}
