package main_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"inkwell/testkit"
)

// Every ```sh block of the README and of docs/ either runs here, as
// written, or is marked in the Markdown, on the line before its fence, by
// one of these HTML comments.
const (
	// markNotRun, followed by why, marks a block that cannot run on one
	// machine with Go (Docker, a cluster's hosts, a benchmark of many
	// minutes). It is still parsed by bash, and its inkwell commands and
	// flags are checked against the binary's help.
	markNotRun = "not run by the tests: "
	// markFollows marks a block that runs until stopped (a server, a
	// follower of the log): it runs for a few seconds, until it shows that it
	// works, and is then interrupted.
	markFollows = "run by the tests for a few seconds: it follows until stopped"
)

// docBlock is a ```sh block of a page.
type docBlock struct {
	page string // README.md or docs/<name>.md
	line int    // of its fence
	code string
	mark string // the HTML comment on the line before its fence, if any
}

func (b docBlock) String() string { return fmt.Sprintf("%s:%d", b.page, b.line) }

// docBlocks returns every ```sh block, in the order they run: the README's,
// then docs/api.md's (the walkthrough goes on there), then the other pages'
// in alphabetical order, and docs/personal-data.md's last: its erasure ends
// the walkthrough's account, and `events encrypt` wants the server stopped.
func docBlocks(t *testing.T) []docBlock {
	t.Helper()
	var pages []string
	for _, p := range docPages(t) {
		pages = append(pages, strings.TrimPrefix(p, "../../"))
	}
	rank := func(p string) string {
		switch p {
		case "README.md":
			return "0"
		case "docs/api.md":
			return "1"
		case "docs/personal-data.md":
			return "3"
		}
		return "2" + p
	}
	sort.Slice(pages, func(i, j int) bool { return rank(pages[i]) < rank(pages[j]) })

	fenceOpen := regexp.MustCompile("^( *)```(\\S*)")
	var blocks []docBlock
	for _, page := range pages {
		lines := strings.Split(readDoc(t, page), "\n")
		for i := 0; i < len(lines); i++ {
			m := fenceOpen.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			indent, lang := m[1], m[2]
			j := i + 1
			for j < len(lines) && strings.TrimSpace(lines[j]) != "```" {
				j++
			}
			switch lang {
			case "sh":
				var code []string
				for _, l := range lines[i+1 : j] {
					code = append(code, strings.TrimPrefix(l, indent))
				}
				b := docBlock{page: page, line: i + 1, code: strings.Join(code, "\n") + "\n"}
				if i > 0 {
					if prev := strings.TrimSpace(lines[i-1]); strings.HasPrefix(prev, "<!--") {
						b.mark = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(prev, "<!--"), "-->"))
					}
				}
				blocks = append(blocks, b)
			case "bash", "shell", "console", "zsh":
				t.Errorf("%s:%d: a ```%s block: write ```sh, which the tests run", page, i+1, lang)
			}
			i = j
		}
	}
	return blocks
}

// blockCheck is what the test expects of a block, beyond exiting 0 with no
// 5xx in its output.
type blockCheck struct {
	page, contains string // the block of page whose code holds contains
	want           []string
	// refused is the refusal of a block that only makes sense on a damaged
	// log or read model: on the walkthrough's healthy one it must exit
	// non-zero saying so.
	refused string
	// before is done before the block runs (what its page's prose says
	// to do first); it returns variables to set for the block alone.
	before func(r *docRun) []string
	// after checks what the block did.
	after func(r *docRun)
}

var blockChecks = []blockCheck{
	{page: "README.md", contains: "createsuperuser", want: []string{`Superuser "admin" created`, `"name":"Tutorials"`}},
	{page: "docs/following-events.md", contains: "events tail", want: []string{`"type":"article.created"`}},
	{page: "docs/following-events.md", contains: "curl -N", want: []string{"event: article.created"}},
	{page: "docs/operations.md", contains: "projections skip", refused: "articles has not stopped at an event it cannot apply; give --seq to skip another"},
	{page: "docs/operations.md", contains: "accept-loss", refused: "the log ends at 40 and no read model has applied past 40: sequences 56 were never taken"},
	{page: "docs/operations.md", contains: "backup --to", want: []string{"backed up ", "the log's"}},
	{page: "docs/operations.md", contains: "restore --from", want: []string{"restored in"}, before: func(r *docRun) []string {
		// Steps 1 to 3 of the page: an empty event log (a new data
		// directory) and the master key of the Inkwell that took the backup.
		dir := r.t.TempDir()
		key, err := os.ReadFile(filepath.Join(r.s.Config.DataDir, "master.key"))
		if err != nil {
			r.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "master.key"), key, 0o600); err != nil {
			r.t.Fatal(err)
		}
		return []string{"INKWELL_DATA_DIR=" + dir}
	}},
	{page: "docs/rebuilding.md", contains: "replay", want: []string{"replayed 5 read models", "articles: "}},
	{page: "docs/security.md", contains: "logout", want: []string{`"status":401`}},
	{page: "docs/personal-data.md", contains: "/erase/", want: []string{`"status":404`}, after: func(r *docRun) {
		// Both accounts are gone: neither logs in any more.
		for user, password := range map[string]string{"johndoe": "secure_password_123", "janedoe": "jane_password_123"} {
			resp := r.s.request(r.t, "POST", "/api/auth/login/", "", map[string]string{"username": user, "password": password})
			if resp.Status != http.StatusUnauthorized {
				r.t.Errorf("after docs/personal-data.md's erasures, %s logs in: %d %s", user, resp.Status, resp.Body)
			}
		}
	}},
	{page: "docs/personal-data.md", contains: "events encrypt", want: []string{"nothing to rewrite"}, before: func(r *docRun) []string {
		// "Stop every instance, then:"
		if err := r.s.Close(); err != nil {
			r.t.Fatal(err)
		}
		return nil
	}},
}

// walkthroughWants are in the output of the walkthrough: the README's blocks
// and docs/api.md's.
var walkthroughWants = []string{
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
}

// Every ```sh block of the README and of docs/ runs as written, in order,
// in one shell session (variables carry from block to block, as in a
// reader's terminal) against a test server: localhost:8000 is the test's
// server, `go run ./cmd/inkwell` a freshly built binary, INKWELL_DATA_DIR
// the server's data directory. A block marked as following runs for a few
// seconds; a block marked as not run is parsed and its inkwell command
// lines checked against the binary's help.
func TestDocumentedCommands(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "python3", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			testkit.Skip(t, tool, "the documented commands run with bash, curl, python3 and openssl: install them")
		}
	}
	blocks := docBlocks(t)
	walkthrough := 0
	for _, b := range blocks {
		if b.page == "README.md" || b.page == "docs/api.md" {
			walkthrough++
		}
	}
	if walkthrough < 16 {
		t.Fatalf("only %d shell blocks in the README and docs/api.md", walkthrough)
	}
	checks := map[string]blockCheck{}
	for _, c := range blockChecks {
		var found []docBlock
		for _, b := range blocks {
			if b.page == c.page && strings.Contains(b.code, c.contains) {
				found = append(found, b)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s: %d blocks hold %q, want one (blockChecks is out of date)", c.page, len(found), c.contains)
			continue
		}
		checks[found[0].String()] = c
		// The page says what the block prints on a healthy log.
		if c.refused != "" && !strings.Contains(strings.Join(strings.Fields(readDoc(t, c.page)), " "), c.refused) {
			t.Errorf("%s does not say what %s prints on a healthy log: %q", c.page, found[0], c.refused)
		}
	}

	r := newDocRun(t)
	var walked strings.Builder
	for _, b := range blocks {
		r.checkInvocations(b)
		c := checks[b.String()]
		var out string
		switch {
		case strings.HasPrefix(b.mark, markNotRun) && strings.TrimSpace(strings.TrimPrefix(b.mark, markNotRun)) != "":
			r.parse(b)
			if testing.Verbose() {
				t.Logf("%s (%s): parsed, its inkwell commands checked", b, b.mark)
			}
			continue
		case b.mark == markFollows:
			out = r.follow(b, c)
		case b.mark != "":
			t.Errorf("%s: the mark %q is neither %q nor %q followed by why", b, b.mark, markFollows, markNotRun)
			continue
		default:
			out = r.run(b, c)
		}
		if testing.Verbose() {
			t.Logf("%s (%s):\n%s", b, or(b.mark, "run"), out)
		}
		if b.page == "README.md" || b.page == "docs/api.md" {
			walked.WriteString(out)
			if strings.Contains(out, `"status":422`) {
				t.Errorf("%s answered 422:\n%s", b, out)
			}
		} else {
			r.checkStatuses(b, c, out)
		}
		if strings.Contains(out, `"status":500`) || strings.Contains(out, "Internal error") {
			t.Errorf("%s hit an internal error:\n%s", b, out)
		}
		for _, want := range c.want {
			if !strings.Contains(out, want) {
				t.Errorf("%s: its output lacks %s:\n%s", b, want, out)
			}
		}
		if c.after != nil {
			c.after(r)
		}
	}
	for _, want := range walkthroughWants {
		if !strings.Contains(walked.String(), want) {
			t.Errorf("the walkthrough's output lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("the walkthrough's output:\n%s", walked.String())
	}
}

// docRun is the shell session the blocks run in.
type docRun struct {
	t     *testing.T
	bin   string
	s     *server
	host  string
	dir   string   // the working directory
	state string   // the file holding the variables the blocks set
	base  string   // the file listing the shell's own variables
	env   []string // of every block
	help  map[string]string
}

func newDocRun(t *testing.T) *docRun {
	t.Helper()
	// Real hashing: the server's hashes and those of the commands the pages
	// run (createsuperuser) are of the same parameters, as for a newcomer,
	// so that a login rehashes nothing the pages do not show.
	s := startServerRealHashing(t)
	tmp := t.TempDir()
	r := &docRun{
		t:     t,
		bin:   inkwellBinary(t),
		s:     s,
		host:  strings.TrimPrefix(s.URL, "http://"),
		dir:   filepath.Join(tmp, "work"),
		state: filepath.Join(tmp, "state"),
		base:  filepath.Join(tmp, "base"),
		help:  map[string]string{},
	}
	home := filepath.Join(tmp, "home")
	for _, d := range []string{r.dir, home} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Settings of the developer's environment would change what the blocks
	// do: only the data directory is set, as the walkthrough's reader has it.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "INKWELL_") && !strings.HasPrefix(kv, "HOME=") {
			r.env = append(r.env, kv)
		}
	}
	r.env = append(r.env, "HOME="+home, "INKWELL_DATA_DIR="+s.Config.DataDir)
	if err := os.WriteFile(r.state, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-c", "compgen -v > "+shellQuote(r.base))
	cmd.Env = r.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash: %v: %s", err, out)
	}
	return r
}

// script is b's code as it runs here, after the variables of the blocks
// before it.
func (r *docRun) script(b docBlock) string {
	code := strings.ReplaceAll(b.code, "localhost:8000", r.host)
	code = regexp.MustCompile(`go run \./cmd/inkwell(\s)`).ReplaceAllString(code, shellQuote(r.bin)+"$1")
	return "set -euo pipefail\nsource " + shellQuote(r.state) + "\n" + code
}

// saveState keeps the variables a block set (those the shell did not start
// with) for the next blocks.
func (r *docRun) saveState() string {
	return fmt.Sprintf("\nfor v in $(compgen -v | grep -vxFf %s | grep -v '^BASH' || true); do declare -p \"$v\"; done > %s.new && mv %s.new %s\n",
		shellQuote(r.base), shellQuote(r.state), shellQuote(r.state), shellQuote(r.state))
}

// run runs b to its end and returns its output.
func (r *docRun) run(b docBlock, c blockCheck) string {
	t := r.t
	env := r.env
	if c.before != nil {
		env = append(append([]string{}, env...), c.before(r)...)
	}
	script := r.script(b)
	if c.refused == "" {
		script += r.saveState()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir, cmd.Env = r.dir, env
	// A block that does not end (a follower, a server) is stopped whole:
	// its commands hold its output open.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	outb, err := cmd.CombinedOutput()
	out := string(outb)
	switch {
	case ctx.Err() != nil:
		t.Errorf("%s did not end in a minute (if it follows until stopped, mark it %q):\n%s", b, markFollows, out)
	case c.refused != "":
		if err == nil || !strings.Contains(out, c.refused) {
			t.Errorf("%s: on a healthy log it must fail saying %q; it did not (%v):\n%s", b, c.refused, err, out)
		}
	case err != nil:
		t.Errorf("%s failed as written: %v\n%s", b, err, out)
	}
	return out
}

// follow runs b, which does not end by itself, until it shows that it
// works: a server answers /healthz (on a port and a data directory of its
// own), a follower prints what c wants. It then interrupts it.
func (r *docRun) follow(b docBlock, c blockCheck) string {
	t := r.t
	env := append([]string{}, r.env...)
	healthz := ""
	if r.startsServer(b) {
		addr := freeAddr(t)
		env = append(env, "INKWELL_ADDR="+addr, "INKWELL_DATA_DIR="+t.TempDir())
		healthz = "http://" + addr + "/healthz"
	} else if len(c.want) == 0 {
		t.Errorf("%s follows the log: blockCheck must say what it shows when it works", b)
	}
	var out testkit.Buffer
	cmd := exec.Command("bash", "-c", r.script(b))
	cmd.Dir, cmd.Env = r.dir, env
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	works := func() bool {
		if healthz != "" {
			resp, err := http.Get(healthz)
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		}
		for _, w := range c.want {
			if !strings.Contains(out.String(), w) {
				return false
			}
		}
		return true
	}
	start := time.Now()
	deadline := start.Add(2 * time.Minute)
	for !works() {
		select {
		case err := <-exited:
			t.Errorf("%s ended (%v) before it showed that it works:\n%s", b, err, out.String())
			return out.String()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			t.Errorf("%s did not show in 2 minutes that it works:\n%s", b, out.String())
			return out.String()
		}
	}
	// It works; it must still be following a moment later.
	select {
	case err := <-exited:
		t.Errorf("%s ended (%v): it is marked as following until stopped:\n%s", b, err, out.String())
		return out.String()
	case <-time.After(time.Until(start.Add(3 * time.Second))):
	}
	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		t.Errorf("%s did not stop within 30 s of an interrupt:\n%s", b, out.String())
	}
	return out.String()
}

// checkStatuses fails on an error answer (a problem's "status") that c
// does not expect, or expects fewer times.
func (r *docRun) checkStatuses(b docBlock, c blockCheck, out string) {
	status := regexp.MustCompile(`"status":[45]\d\d`)
	expected := map[string]int{}
	for _, w := range c.want {
		for _, m := range status.FindAllString(w, -1) {
			expected[m]++
		}
	}
	for _, m := range status.FindAllString(out, -1) {
		if expected[m] == 0 {
			r.t.Errorf("%s answered %s:\n%s", b, m, out)
		}
		expected[m]--
	}
}

// parse checks that bash can parse b, a block that is not run.
func (r *docRun) parse(b docBlock) {
	cmd := exec.Command("bash", "-n")
	cmd.Stdin = strings.NewReader(b.code)
	if out, err := cmd.CombinedOutput(); err != nil {
		r.t.Errorf("%s does not parse: %v\n%s", b, err, out)
	}
}

// invocation is one command line of Inkwell in a block: its command (such
// as "events tail"; "" for the server) and the flags it gives.
type invocation struct {
	command []string
	flags   []string
}

// invocations returns the lines of b that run `go run ./cmd/inkwell` or
// `inkwell`.
func invocations(code string) []invocation {
	code = strings.ReplaceAll(code, "\\\n", " ")
	var got []invocation
	for _, line := range strings.Split(code, "\n") {
		words, _ := splitShell(line)
		for i := 0; i < len(words); i++ {
			switch {
			case i+2 < len(words) && words[i] == "go" && words[i+1] == "run" && words[i+2] == "./cmd/inkwell":
				i += 3
			case words[i] == "inkwell":
				i++
			default:
				continue
			}
			var inv invocation
			for j := 0; i < len(words) && words[i] != ""; i, j = i+1, j+1 { // "": ; | & and the like
				if a := words[i]; strings.HasPrefix(a, "-") {
					name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
					inv.flags = append(inv.flags, name)
				} else if len(inv.flags) == 0 && j == len(inv.command) {
					inv.command = append(inv.command, a)
				}
			}
			got = append(got, inv)
		}
	}
	return got
}

// splitShell splits a line of shell of the simple kind (words separated by
// blanks, quoted with '...' or "...") into words (quotes removed), with ""
// for each of ; | & ( ) and a # comment ending it. balanced is false when
// a quote is left open.
func splitShell(line string) (words []string, balanced bool) {
	var w strings.Builder
	inWord := false
	var quote rune
	flush := func() {
		if inWord {
			words = append(words, w.String())
			w.Reset()
			inWord = false
		}
	}
	for _, c := range line {
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(c)
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == ' ' || c == '\t':
			flush()
		case c == ';' || c == '|' || c == '&' || c == '(' || c == ')':
			flush()
			words = append(words, "")
		case c == '#' && !inWord:
			return words, true
		default:
			w.WriteRune(c)
			inWord = true
		}
	}
	flush()
	return words, quote == 0
}

// startsServer reports whether b runs the server: Inkwell without a
// command, or `serve`.
func (r *docRun) startsServer(b docBlock) bool {
	for _, inv := range invocations(b.code) {
		if len(inv.command) == 0 || inv.command[0] == "serve" {
			return true
		}
	}
	return false
}

// checkInvocations checks every Inkwell command line of b against the
// built binary: the command exists and takes every flag given.
func (r *docRun) checkInvocations(b docBlock) {
	for _, inv := range invocations(b.code) {
		key := strings.Join(inv.command, " ")
		help, ok := r.help[key]
		if !ok {
			cmd := exec.Command(r.bin, append(append([]string{}, inv.command...), "-h")...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				r.t.Fatal(err)
			}
			if err != nil {
				r.t.Errorf("%s: inkwell %s is no command: %s", b, key, out)
				r.help[key] = ""
				continue
			}
			help = string(out)
			r.help[key] = help
		}
		if help == "" {
			continue
		}
		for _, f := range inv.flags {
			if f == "h" || f == "help" {
				continue
			}
			if !regexp.MustCompile(`(?m)^\s+--?` + regexp.QuoteMeta(f) + `(\s|$)`).MatchString(help) {
				r.t.Errorf("%s: inkwell %s has no flag -%s", b, key, f)
			}
		}
	}
}

// shellQuote quotes s for a shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// or returns s, or else if s is empty.
func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

// The Inkwell command lines of a block are found wherever a page writes
// them: after `go run ./cmd/inkwell`, or `inkwell` in a container.
func TestDocInvocations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code string
		want string
	}{
		{"go run ./cmd/inkwell events tail --from 1 --no-follow     # the whole log, then exit", "[events tail] [from no-follow]"},
		{"docker compose exec -e INKWELL_PASSWORD=x inkwell-1 \\\n  inkwell createsuperuser --username admin --email a@example.com", "[createsuperuser] [username email]"},
		{"INKWELL_JWT_PRIVATE_KEY_PATH=private_key.pem go run ./cmd/inkwell", "[] []"},
		{"go run ./cmd/inkwell-bench -h", ""},
		{"inkwell serve --addr :8001 --data-dir /var/lib/inkwell-1 # and :8002 with /var/lib/inkwell-2 ...", "[serve] [addr data-dir]"},
		{`go run ./cmd/inkwell backup --to "$HOME/inkwell-backups/$(date +%F)" && go run ./cmd/inkwell replay`, "[backup] [to]; [replay] []"},
		{"go run ./cmd/inkwell projections skip --seq=5 --force | tee log", "[projections skip] [seq force]"},
	} {
		var got []string
		for _, inv := range invocations(tc.code) {
			got = append(got, fmt.Sprint(inv.command, inv.flags))
		}
		if strings.Join(got, "; ") != tc.want {
			t.Errorf("invocations(%q) = %q, want %q", tc.code, got, tc.want)
		}
	}
}
