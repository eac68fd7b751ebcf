package testkit

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is where browser tests find headless Chromium (Debian's package; make test
// installs it).
const Chromium = "/usr/bin/chromium"

// Browser starts headless Chromium with a fresh profile and returns a context bounded to 60
// seconds that drives it; the browser ends with the test. A missing Chromium fails the test.
func Browser(t testing.TB) context.Context {
	t.Helper()
	return BrowserWithin(t, 60*time.Second)
}

// BrowserWithin is Browser with another bound, for a test that visits many pages.
func BrowserWithin(t testing.TB, limit time.Duration) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		t.Fatalf("Chromium is required for browser tests (make test installs it): %v", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelB := chromedp.NewContext(actx)
	// The first call starts the browser and must not carry a timeout; later calls may.
	if err := chromedp.Do(bctx); err != nil {
		cancelB()
		cancelA()
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, limit)
	t.Cleanup(func() { cancelT(); cancelB(); cancelA() })
	return ctx
}

// Screenshot saves a full-page PNG as test-artifacts/<name>.png at the module root, for
// people to look at.
func Screenshot(t testing.TB, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "test-artifacts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
