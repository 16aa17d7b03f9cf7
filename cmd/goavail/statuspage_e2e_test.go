package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds Debian's chromium (make test-deps installs it); the
// test skips without it, except under CI, where it fails.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (make test-deps installs it): the status page cannot be tested in a browser")
	}
	t.Skip("chromium is not installed: make test-deps installs it")
	return ""
}

// TestE2E_StatusPageInABrowser runs the agent against the lab with one
// host down and opens its status page in headless chromium: the down
// address shows as down with its reason, the timeline shows its record's
// removal, the page logs no console error and requests nothing but
// itself, offers no form, and fits a phone's width. It saves screenshots
// (statuspage.png and statuspage-phone.png in $GOAVAIL_TEST_ARTIFACTS,
// else the test's temporary directory, logged).
func TestE2E_StatusPageInABrowser(t *testing.T) {
	chromium := chromiumPath(t)
	l := newE2ELab(t, 142, labOpts{seedTTL: 60})
	a, b := l.hosts[0], l.hosts[1]
	httpAddr := freeAddr(t)
	conf := labConfig(httpAddr, a, b)
	i := strings.Index(conf, "\n[")
	conf = conf[:i] + "\nstate_file = " + `"` + filepath.Join(t.TempDir(), "state.json") + `"` + conf[i:]
	a.IgnoreEcho(true)
	ag := l.start(conf, "--no-dry-run")
	eventually(t, "a's record removed", func() bool { return !has(l.emu, "www.example.com", "A", a.V4.String()) }, ag.logs)
	removal := "applied delete www.example.com A " + a.V4.String()
	eventually(t, "the removal in the history", func() bool {
		out, _ := exec.Command(l.bin, "history", "--addr", httpAddr).Output()
		return strings.Contains(string(out), removal)
	}, ag.logs)

	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoFirstRun, chromedp.WindowSize(1200, 900),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	base := "http://" + httpAddr + "/"
	var mu sync.Mutex
	var problems, requests []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				problems = append(problems, "console "+string(e.Type))
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, "log "+string(e.Entry.Level)+": "+e.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
		}
	}); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	sel := chromedp.CSS("#p-" + strings.ReplaceAll(a.V4.String(), ".", `\.`))
	var row, timeline, title string
	var png []byte
	err := chromedp.Do(ctx, chromedp.Navigate(base), chromedp.WaitVisible(sel))
	if err == nil {
		row, err = chromedp.Run(ctx, chromedp.Text(sel))
	}
	if err == nil {
		timeline, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(".timeline")))
	}
	if err == nil {
		title, err = chromedp.Run(ctx, chromedp.Title())
	}
	if err == nil {
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
	}
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, ag.logs)
	}
	dir := os.Getenv("GOAVAIL_TEST_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "statuspage.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))

	if !strings.Contains(row, "down") || !strings.Contains(row, "no reply to the last") || strings.Count(row, "no reply") != 1 {
		t.Errorf("the down address's row: %q, want down with its reason (no reply), once", row)
	}
	if !strings.Contains(timeline, removal) {
		t.Errorf("the timeline lacks %q:\n%s", removal, timeline)
	}
	if !strings.Contains(title, "1 not up") {
		t.Errorf("title %q", title)
	}
	mu.Lock() // a copy: the listener must never wait on the test
	seenProblems, seenRequests := slices.Clone(problems), slices.Clone(requests)
	mu.Unlock()
	if len(seenProblems) > 0 {
		t.Errorf("the page logged problems (a CSP violation shows here): %q", seenProblems)
	}
	for _, u := range seenRequests {
		if !strings.HasPrefix(u, base) {
			t.Errorf("the page requested %s, not from the agent", u)
		}
	}
	if len(seenRequests) == 0 {
		t.Error("no request seen: the listener is not working")
	}
	// On a phone's width the page fits: nothing wider than the screen.
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("chromium, at a phone's width: %s: %v", what, err)
		}
	}
	pctx, pcancel := context.WithTimeout(ctx, 15*time.Second)
	defer pcancel()
	step("viewport", chromedp.Do(pctx, chromedp.EmulateViewport(390, 844)))
	step("navigate", chromedp.Do(pctx, chromedp.Navigate(base)))
	wide, err := chromedp.Run(pctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
	step("measure", err)
	if wide {
		t.Error("on a 390 px wide screen the page scrolls sideways")
	}
	png, err = chromedp.Run(pctx, chromedp.FullScreenshot(100))
	step("screenshot", err)
	if err := os.WriteFile(filepath.Join(dir, "statuspage-phone.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	// The page offers no write action: no form, no button.
	forms, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("form,button,input").length`))
	if err != nil || forms != 0 {
		t.Errorf("forms, buttons or inputs on the page: %d (%v)", forms, err)
	}
}
