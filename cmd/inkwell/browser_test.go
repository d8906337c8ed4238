package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"inkwell/testkit"
)

// chromiumPath finds a Chromium (or Chrome) binary: $INKWELL_CHROMIUM, or
// one on the PATH.
func chromiumPath() string {
	if p := os.Getenv("INKWELL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// artifactsDir is where tests leave files for people to look at:
// $INKWELL_ARTIFACTS_DIR, or artifacts/ at the top of the repository.
func artifactsDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("INKWELL_ARTIFACTS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserLog collects what the page did that the test checks afterwards,
// and tells watchProgress when it does something.
type browserLog struct {
	mu       sync.Mutex
	requests []*network.Request
	problems []string // exceptions, and console and browser-log errors
	progress chan struct{}
}

// poke records progress.
func (b *browserLog) poke() {
	select {
	case b.progress <- struct{}{}:
	default:
	}
}

// watchProgress cancels ctx (with a cause saying so) once no progress came
// for stall.
func watchProgress(ctx context.Context, progress <-chan struct{}, stall time.Duration, cancel context.CancelCauseFunc) {
	t := time.NewTimer(stall)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-progress:
			t.Reset(stall)
		case <-t.C:
			cancel(fmt.Errorf("the page made no progress (no network traffic, no step done) for %v", stall))
			return
		}
	}
}

func (b *browserLog) listen(ev any) {
	switch ev.(type) {
	case *network.EventRequestWillBeSent, *network.EventResponseReceived, *network.EventLoadingFinished:
		b.poke()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, ev.Request)
	case *runtime.EventExceptionThrown:
		b.problems = append(b.problems, "exception: "+ev.ExceptionDetails.Text+" "+exceptionDescription(ev.ExceptionDetails))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError {
			var args []string
			for _, a := range ev.Args {
				args = append(args, a.Description+string(a.Value))
			}
			b.problems = append(b.problems, "console.error: "+strings.Join(args, " "))
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Source == log.EntrySourceSecurity {
			b.problems = append(b.problems, fmt.Sprintf("%s %s: %s %s", ev.Entry.Source, ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
		}
	}
}

// insertText focuses a field and types text into it as one input event, as
// a paste does: key by key, a token of some 700 characters takes seconds.
func insertText(sel chromedp.CSS, text string) chromedp.Action[chromedp.Void] {
	focus := chromedp.Focus(sel)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := focus(ctx, t); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return chromedp.Void{}, err
	}
}

func exceptionDescription(d *runtime.ExceptionDetails) string {
	if d.Exception != nil {
		return d.Exception.Description
	}
	return ""
}

// Swagger UI, as a person uses it: open /api/docs in headless Chromium,
// click Authorize and give it an access token, then run GET /api/auth/me/
// with "Try it out" and Execute. The page shows the user; the request
// carried the token; the page loaded nothing from elsewhere and broke no
// rule of its Content-Security-Policy. A screenshot is left in the
// artifacts directory.
func TestSwaggerUIAuthorizeAndTryItOut(t *testing.T) {
	t.Parallel()
	exe := chromiumPath()
	if exe == "" {
		testkit.Skip(t, "Chromium", "install it (apt-get install -y chromium) or set INKWELL_CHROMIUM to a Chromium or Chrome binary")
	}
	s := startServer(t)
	const username = "swaggeruser"
	tk := s.registerUser(t, username)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // the tests run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1400),
	)
	defer cancelAlloc()
	// The browser lives as long as ctx. The steps run under progress: they
	// fail when the page does nothing (no network traffic, no step done)
	// for stallLimit, not after a fixed time a busy machine may need, so
	// that a failed step still leaves the browser up for a screenshot.
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	const stallLimit = time.Minute
	bctx, bcancel := context.WithTimeout(ctx, 10*time.Minute) // a backstop only
	defer bcancel()
	wctx, stalled := context.WithCancelCause(bctx)
	defer stalled(nil)
	seen := browserLog{progress: make(chan struct{}, 1)}
	go watchProgress(wctx, seen.progress, stallLimit, stalled)

	start := time.Now()
	if err := chromedp.Listen(ctx, seen.listen); err != nil {
		t.Fatalf("start Chromium (%s): %v", exe, err)
	}
	t.Logf("start Chromium: %v", time.Since(start).Round(time.Millisecond))
	// shot saves a PNG of the whole page, or of the element sel.
	shot := func(name, sel string) {
		sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
		defer scancel()
		take := chromedp.FullScreenshot(100)
		if sel != "" {
			take = chromedp.Screenshot(chromedp.CSS(sel))
		}
		buf, err := chromedp.Run(sctx, take)
		if err != nil {
			t.Logf("screenshot: %v", err)
			return
		}
		path := filepath.Join(artifactsDir(t), name)
		if err := os.WriteFile(path, buf, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		start := time.Now()
		if err := chromedp.Do(wctx, actions...); err != nil {
			shot("swagger-ui-failure.png", "")
			t.Fatalf("%s: %v (%v)", what, err, context.Cause(wctx))
		}
		seen.poke()
		t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
	}
	// rctx bounds the reads between steps.
	rctx := wctx
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	me := "#operations-Auth-getMe"

	step("open /api/docs",
		chromedp.Navigate(s.URL+"/api/docs"),
		chromedp.WaitVisible(css(".swagger-ui .auth-wrapper button.authorize")),
	)
	step("authorize with the access token",
		chromedp.Click(css(".auth-wrapper button.authorize")),
		chromedp.WaitVisible(css("#auth-bearer-value")),
		insertText(css("#auth-bearer-value"), tk.AccessToken),
		chromedp.Click(css(`.modal-ux button[aria-label="Apply credentials"]`)),
		// Authorized: the dialog now offers to log out, and is closed.
		chromedp.WaitVisible(css(`.modal-ux button[aria-label="Remove authorization"]`)),
		chromedp.Click(css(".modal-ux button.btn-done")),
		chromedp.WaitNotPresent(css(".modal-ux")),
	)
	step("try GET /api/auth/me/",
		chromedp.Click(css(me+" .opblock-summary-control")),
		chromedp.WaitVisible(css(me+" button.try-out__btn")),
		chromedp.Click(css(me+" button.try-out__btn")),
		chromedp.WaitVisible(css(me+" button.execute")),
		chromedp.Click(css(me+" button.execute")),
		chromedp.WaitVisible(css(me+" .live-responses-table tr.response .response-col_status")),
	)
	status, err := chromedp.Run(rctx, chromedp.Text(css(me+" .live-responses-table tr.response .response-col_status")))
	if err != nil {
		t.Fatal(err)
	}
	shown, err := chromedp.Run(rctx, chromedp.Text(css(me+" .live-responses-table tr.response .response-col_description")))
	if err != nil {
		t.Fatal(err)
	}
	shot("swagger-ui.png", "")
	shot("swagger-ui-get-me.png", me)

	if strings.TrimSpace(status) != "200" {
		t.Errorf("the page shows status %q", status)
	}
	if !strings.Contains(shown, `"username": "`+username+`"`) {
		t.Errorf("the page shows a response without the user's username:\n%s", shown)
	}
	// The tutorial says to enter "Bearer <token>": that works too (the
	// initializer drops the "Bearer " Swagger UI would add a second time).
	step(`authorize with "Bearer <token>" and execute again`,
		chromedp.Click(css(me+" button.btn-clear")),
		chromedp.WaitNotPresent(css(me+" .live-responses-table")),
		chromedp.Click(css(".auth-wrapper button.authorize")),
		chromedp.Click(css(`.modal-ux button[aria-label="Remove authorization"]`)),
		chromedp.WaitVisible(css("#auth-bearer-value")),
		insertText(css("#auth-bearer-value"), "Bearer "+tk.AccessToken),
		chromedp.Click(css(`.modal-ux button[aria-label="Apply credentials"]`)),
		chromedp.WaitVisible(css(`.modal-ux button[aria-label="Remove authorization"]`)),
		chromedp.Click(css(".modal-ux button.btn-done")),
		chromedp.WaitNotPresent(css(".modal-ux")),
		chromedp.Click(css(me+" button.execute")),
		chromedp.WaitVisible(css(me+" .live-responses-table tr.response .response-col_status")),
	)
	status, err = chromedp.Run(rctx, chromedp.Text(css(me+" .live-responses-table tr.response .response-col_status")))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(status) != "200" {
		t.Errorf(`with "Bearer <token>", the page shows status %q`, status)
	}
	// Authorize keeps the token across reloads (persistAuthorization).
	stored, err := chromedp.Run(rctx, chromedp.Evaluate[string](`localStorage.getItem("authorized") || ""`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stored, tk.AccessToken) {
		t.Errorf("the token is not kept in localStorage: %.80q", stored)
	}

	seen.mu.Lock()
	defer seen.mu.Unlock()
	withToken := 0
	for _, req := range seen.requests {
		if !strings.HasPrefix(req.URL, s.URL+"/") && !strings.HasPrefix(req.URL, "data:") {
			t.Errorf("the page requested %s, outside this server (it must work offline)", req.URL)
		}
		if strings.HasSuffix(req.URL, "/api/auth/me/") {
			if req.Headers["Authorization"] == "Bearer "+tk.AccessToken {
				withToken++
			} else {
				t.Errorf("GET /api/auth/me/ sent Authorization %.40q", req.Headers["Authorization"])
			}
		}
	}
	if withToken != 2 {
		t.Errorf("%d requests to /api/auth/me/ carried the token, want 2", withToken)
	}
	for _, p := range seen.problems {
		t.Errorf("the page reported: %s", p)
	}
}
