package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// phoneHeight is the height of a tall phone's screen at 375 px wide.
const phoneHeight = 812

// TestBrowserPhoneApprover: on a 375 px phone the closed menu button shows how many requests
// wait; on a request opened from a mail link, Approve and Deny are not behind a long task list
// (Covers folds after three tasks); and choosing a scope on the request form opens the page at
// the form.
func TestBrowserPhoneApprover(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "phone.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	do(t, ctx, p, chromedp.EmulateViewport(375, phoneHeight))
	signInAs(t, ctx, p, "olivia@demo.example", pw)

	// The closed menu carries the count the sidebar would show.
	count := strings.TrimSpace(text(t, ctx, `#count-menu`))
	if count == "" || count == "0" {
		t.Fatalf("the closed menu button shows no count: %q", count)
	}
	if btn := text(t, ctx, `[data-testid="menu-button"]`); !strings.Contains(btn, count) {
		t.Fatalf("menu button reads %q, want the count %s", btn, count)
	}

	// The mail's link opens the request page; Approve and Deny are on the first screen.
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-row"]`)),
	)
	// The demo's organisation-wide request covers the most tasks.
	href, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('[data-testid="inbox-row"]')].find(r => r.textContent.includes("organisation")).querySelector('[data-testid="review"]').getAttribute("href")`))
	if err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p, chromedp.Navigate(p.Base+href), chromedp.WaitVisible(chromedp.CSS(`[data-testid="review-form"]`)))
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="card-tasks"] li').length`))
	if err != nil || shown != 3 {
		t.Fatalf("tasks shown before folding: %d (%v)", shown, err)
	}
	folded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!document.querySelector('[data-testid="card-tasks-more"]').open`))
	if err != nil || !folded {
		t.Fatalf("the rest of the tasks is not folded (%v)", err)
	}
	covers, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('[data-testid="card-covers"]').getBoundingClientRect().height`))
	if err != nil {
		t.Fatal(err)
	}
	// Folded, Covers is three tasks and a "Show 5 more tasks" line, about 120 px; unfolded,
	// the demo's eight tasks would make it about 130 px taller.
	if covers > 180 {
		t.Errorf("Covers is %.0f px tall; the task list is not folded", covers)
	}
	// And the decision itself is on the first screen: Approve in one tap, Deny… to the comment.
	bottom, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.querySelector('[data-testid="approve-quick"]').getBoundingClientRect().bottom - window.innerHeight`))
	if err != nil || bottom > 0 {
		t.Errorf("the quick Approve ends %.0f px below the first screen (%v)", bottom, err)
	}
	testkit.Screenshot(t, ctx, "phone-request-from-mail")

	// Choosing a scope opens the page at the chosen scope and its form.
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/requests/new"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="scope"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="request-form"]`)),
	)
	top, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById("chosen").getBoundingClientRect().top`))
	if err != nil {
		t.Fatal(err)
	}
	if top < 0 || top > 100 {
		t.Fatalf("after choosing a scope the form's card starts %.0f px down the screen", top)
	}
	testkit.Screenshot(t, ctx, "phone-request-new-chosen")
}

// TestBrowserPhoneAuditListFirst: on a phone the audit trail's unused filters start folded, so
// its first events are on the first screen; a search keeps them open with what was asked, and
// on a wide window they stay open. At no width does the page scroll sideways.
func TestBrowserPhoneAuditListFirst(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "audit.db")}, "--demo")
	pw := p.DemoPassword()
	ctx := testkit.Browser(t)
	do(t, ctx, p, chromedp.EmulateViewport(375, phoneHeight))
	signInAs(t, ctx, p, "audrey@demo.example", pw)
	state := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => {
			const d = document.querySelector('[data-testid="audit-filters"]');
			const row = document.querySelector('[data-testid="audit-row"]').getBoundingClientRect();
			return (d.open ? "open" : "folded") + " " + (row.top < window.innerHeight ? "row-visible" : "row-below");
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	do(t, ctx, p, chromedp.Navigate(p.Base+"/audit"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)))
	if got := state(); got != "folded row-visible" {
		t.Fatalf("the audit trail on a phone: %s", got)
	}
	do(t, ctx, p, chromedp.Navigate(p.Base+"/audit?outcome=success"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)))
	if got := state(); !strings.HasPrefix(got, "open") {
		t.Fatalf("a search on a phone: %s", got)
	}
	do(t, ctx, p, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(p.Base+"/audit"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)))
	if got := state(); !strings.HasPrefix(got, "open") {
		t.Fatalf("the audit trail on a wide window: %s", got)
	}
	// No width between makes the page itself scroll sideways: the table scrolls in its card
	// until the window is wide enough for it.
	for _, w := range []int64{375, 768, 1024, 1280} {
		do(t, ctx, p, chromedp.EmulateViewport(w, 900), chromedp.Navigate(p.Base+"/audit"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)))
		if wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); err != nil || wide {
			t.Fatalf("the audit trail at %d px scrolls sideways (%v)", w, err)
		}
	}
}

// TestBrowserListsNeverScrollSideways: like the audit trail, no list page scrolls sideways at
// 375, 768, 1,024 or 1,280 px, even with a group and a webhook endpoint named by one long word
// of 100 characters; a wide table scrolls inside its card until the window is wide enough for
// it, and on a phone no cell is so wide that the next column starts off the screen.
func TestBrowserListsNeverScrollSideways(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "lists.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.BrowserWithin(t, 4*time.Minute)
	check := func(paths ...string) {
		t.Helper()
		for _, path := range paths {
			for _, w := range []int64{375, 768, 1024, 1280} {
				do(t, ctx, p, chromedp.EmulateViewport(w, 900), chromedp.Navigate(p.Base+path), chromedp.WaitVisible(chromedp.CSS(`main`)))
				if sw, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); err != nil || sw > w {
					testkit.Screenshot(t, ctx, "lists-sideways")
					t.Fatalf("%s at %d px is %d px wide (%v)", path, w, sw, err)
				}
				if w == 375 {
					// On a phone no cell of a table laid out in columns takes more than four
					// fifths of the screen, so the next column starts on it and shows the table
					// scrolls (the inbox's lines are laid out as cards there).
					cell, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const c = [...document.querySelectorAll('main td, main tbody th')].find(c => getComputedStyle(c.parentElement).display === "table-row" && c.getBoundingClientRect().width > window.innerWidth * 0.8); return c ? Math.round(c.getBoundingClientRect().width) + " px: " + c.textContent.trim().slice(0, 40) : ""; })()`))
					if err != nil || cell != "" {
						testkit.Screenshot(t, ctx, "lists-wide-cell")
						t.Fatalf("%s at 375 px has a cell %s (%v)", path, cell, err)
					}
				}
			}
		}
	}
	signInAs(t, ctx, p, "admin@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/groups/new"),
		fill(`#f-name`, strings.Repeat("G", 100)),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	group, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil || !strings.HasPrefix(group, "/admin/groups/") {
		t.Fatalf("the new group's page: %q %v", group, err)
	}
	// An endpoint named by one long word, at a host name as long, for the webhooks table.
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/webhooks/new"),
		fill(`#f-name`, strings.Repeat("W", 100)),
		fill(`#f-url`, "https://"+strings.Repeat("h", 60)+"."+strings.Repeat("w", 40)+".example/elevate"),
		chromedp.Click(chromedp.CSS(`[data-testid="save-webhook"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	// A person with a long unbroken name and address, for the users table and the outbox's
	// welcome mail (no SMTP server here: it waits in the outbox).
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/users/new"),
		fill(`#f-email`, strings.Repeat("n", 50)+"@"+strings.Repeat("d", 40)+".example"),
		fill(`#f-name`, strings.Repeat("N", 100)),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="secret"]`)),
	)
	// The long user joins the long group (found by the search, which lists them too), is the
	// administrator's delegate for the users page's delegations, and is reviewed there by an
	// access review of all groups with a long name.
	long := strings.Repeat("n", 50)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+group+"?q="+long),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="members-candidate"]`)),
	)
	check(group + "?q=" + long)
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="members-candidate"] [data-testid="add"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		chromedp.Navigate(p.Base+"/profile"),
		fill(`[data-testid="delegation-form"] [name="delegate"]`, long+"@"+strings.Repeat("d", 40)+".example"),
	)
	day := time.Now().UTC()
	set := `(() => { const f = document.querySelector('[data-testid="delegation-form"]');
		f.querySelector('[name="starts_at"]').value = ` + strconv.Quote(day.AddDate(0, 0, 1).Format("2006-01-02")+"T09:00") + `;
		f.querySelector('[name="ends_at"]').value = ` + strconv.Quote(day.AddDate(0, 0, 2).Format("2006-01-02")+"T09:00") + `; return true })()`
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](set)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="save-delegation"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		chromedp.Navigate(p.Base+"/admin/reviews/new"),
		fill(`#f-name`, strings.Repeat("R", 100)),
		chromedp.SetValue(chromedp.CSS(`#f-scope`), "all"),
		chromedp.SetValue(chromedp.CSS(`#f-reviewers`), "admins"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="report"]`)),
	)
	campaign, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil || !strings.HasPrefix(campaign, "/admin/reviews/") {
		t.Fatalf("the new review's page: %q %v", campaign, err)
	}
	check("/admin/users", "/admin/policies", "/admin/groups", group, "/admin/tasks", "/admin/reviews", campaign, "/reviews",
		"/admin/webhooks", "/admin/check-tokens", "/admin/outbox", "/profile")
	// A long address breaks within its own cell and leaves the others' whole: at 1024 px the
	// outbox shows admin@demo.example on one line beside it.
	do(t, ctx, p, chromedp.EmulateViewport(1024, 900), chromedp.Navigate(p.Base+"/admin/outbox"), chromedp.WaitVisible(chromedp.CSS(`main`)))
	lines, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`(() => { const r = [...document.querySelectorAll('[data-testid="recipient"]')].find(e => e.textContent.trim() === "admin@demo.example"); if (!r) return -1; const range = document.createRange(); range.selectNodeContents(r); return new Set([...range.getClientRects()].map(x => Math.round(x.top))).size; })()`))
	if err != nil || lines != 1 {
		testkit.Screenshot(t, ctx, "outbox-squeezed")
		t.Fatalf("admin@demo.example takes %d lines in the outbox at 1024 px (%v)", lines, err)
	}
	signOut(t, ctx, p)
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	check("/approvals")
	signOut(t, ctx, p)
	signInAs(t, ctx, p, "rhea@demo.example", pw)
	check("/requests")
}
