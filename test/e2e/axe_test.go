package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// axeSource is axe-core as npm installs it (package.json's devDependencies; make test runs
// npm ci). A missing file fails the test: accessibility is not optional.
func axeSource(t *testing.T) string {
	t.Helper()
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "node_modules", "axe-core", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is needed (npm ci installs it): %v", err)
	}
	return string(b)
}

// axeViolation is one rule axe found broken, with where.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeRun is the page-side call: every rule axe has for WCAG 2.x A and AA and its best
// practices, reporting only what a person who uses a screen reader, a keyboard or low vision
// would be stopped by (serious or critical).
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify(
	r.violations.filter(v => v.impact === "serious" || v.impact === "critical").map(v => ({
		id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))
	}))))`

// checkAxe injects axe-core into the page (DevTools evaluation is not bound by the page's
// CSP, so the page itself never allows it) and fails on every serious or critical violation.
func checkAxe(t *testing.T, ctx context.Context, src, page string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";true")); err != nil {
		t.Fatalf("%s: inject axe: %v", page, err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: run axe: %v", page, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("%s: axe said %q: %v", page, out, err)
	}
	for _, v := range vs {
		t.Errorf("%s: %s (%s): %s\n\t%s", page, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
	// axe only asks a person to review a repeated id; a label or aria-describedby that points
	// at one would name the wrong field, so a repeat fails here.
	dups, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => {
		const seen = new Set(), dup = new Set();
		for (const e of document.querySelectorAll("[id]")) { (seen.has(e.id) ? dup : seen).add(e.id); }
		return [...dup];
	})()`))
	if err != nil {
		t.Fatalf("%s: read ids: %v", page, err)
	}
	if len(dups) > 0 {
		t.Errorf("%s: ids used more than once: %v", page, dups)
	}
}

// TestBrowserAxeOnEveryMainPage runs axe-core on the main pages of the demo organisation at
// desktop and phone width, as a requester-approver and as an admin: the inbox with two cards
// open (their forms side by side must not share an id), a request page with the approver's
// form, and the admin and audit pages. Any serious or critical violation fails it, and each
// page is saved as a screenshot.
func TestBrowserAxeOnEveryMainPage(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "axe.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	src := axeSource(t)
	ctx := testkit.BrowserWithin(t, 3*time.Minute)
	ready := `#main h1`
	visit := func(width int64, path string) {
		t.Helper()
		do(t, ctx, p, chromedp.Navigate(p.Base+path), chromedp.WaitVisible(chromedp.CSS(ready)))
	}
	shot := func(width int64, name string) {
		t.Helper()
		if width == 375 {
			name += "-375"
		}
		testkit.Screenshot(t, ctx, "axe-"+name)
	}
	type page struct{ path, name string }
	approver := []page{{"/", "dashboard"}, {"/requests", "requests"}, {"/requests/new", "request-new"}, {"/profile", "profile"}}
	admin := []page{{"/audit", "audit"}, {"/overview", "overview"}, {"/admin/policies", "admin-policies"}, {"/admin/users", "admin-users"}}

	signInAs(t, ctx, p, "olivia@demo.example", pw)
	for _, width := range []int64{1280, 375} {
		do(t, ctx, p, chromedp.EmulateViewport(width, 900))
		for _, pg := range approver {
			visit(width, pg.path)
			checkAxe(t, ctx, src, pg.path+" at "+itoa(width))
			shot(width, pg.name)
		}
		// The inbox with two cards open, as an approver works through it.
		visit(width, "/approvals")
		do(t, ctx, p,
			chromedp.Click(chromedp.CSS(`[data-testid="inbox-row"]:nth-of-type(1) [data-testid="review"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-card"]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`.htmx-added, .htmx-settling, .htmx-request`)),
		)
		do(t, ctx, p,
			chromedp.Click(chromedp.CSS(`[data-testid="inbox-row"]:nth-of-type(3) [data-testid="review"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-card"] ~ [data-testid="inbox-row"] ~ [data-testid="inbox-card"]`)),
			chromedp.WaitNotPresent(chromedp.CSS(`.htmx-added, .htmx-settling, .htmx-request`)),
		)
		if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="inbox-card"]').length`)); err != nil || n != 2 {
			t.Fatalf("open cards: %d (%v)", n, err)
		}
		checkAxe(t, ctx, src, "/approvals with two cards at "+itoa(width))
		shot(width, "approvals-cards")
		// A request page with the approver's form, as a link in a mail opens it.
		href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(`[data-testid="inbox-row"] [data-testid="review"]`), "href"))
		if err != nil {
			t.Fatal(err)
		}
		visit(width, href.Value)
		checkAxe(t, ctx, src, "a request page at "+itoa(width))
		shot(width, "request")
	}
	signOut(t, ctx, p)

	signInAs(t, ctx, p, "admin@demo.example", pw)
	for _, width := range []int64{1280, 375} {
		do(t, ctx, p, chromedp.EmulateViewport(width, 900))
		for _, pg := range admin {
			visit(width, pg.path)
			checkAxe(t, ctx, src, pg.path+" at "+itoa(width))
			shot(width, pg.name)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
