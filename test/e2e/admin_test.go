package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// signInAs signs in through the page.
func signInAs(t *testing.T, ctx context.Context, p *testkit.Process, email, password string) {
	t.Helper()
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#f-email`), email),
		chromedp.SendKeys(chromedp.CSS(`#f-password`), password),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="greeting"]`)),
	)
}

// submitForm fills named fields of the page's admin form and submits it.
func fill(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(sel), value)
}

// searchScopes searches the new request page for q and waits for the scopes found. The search
// is a GET form: the page it loads writes the query into the box's value attribute, which
// typing leaves as it was, so waiting for that attribute skips the list of the page being left.
func searchScopes(q string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		fill(`[data-testid="search"]`, q+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="search"][value="`+q+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="scope"]`)),
	)
}

func TestBrowserAdminBuildsAPolicy(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "admin.db")})
	ctx := testkit.Browser(t)
	setupAndSignIn(t, ctx, p, "admin-setup")
	// Two future approvers.
	for _, u := range [][2]string{{"alma@example.com", "Alma Approver"}, {"bert@example.com", "Bert Approver"}} {
		do(t, ctx, p,
			chromedp.Navigate(p.Base+"/admin/users/new"),
			fill(`#f-email`, u[0]), fill(`#f-name`, u[1]),
			chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="secret"]`)),
		)
	}
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/tasks/new"),
		fill(`#f-key`, "exchange/New-JournalRule"),
		fill(`#f-description`, "Copy mail to an archive."),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="task-roles"]`)),
		chromedp.Navigate(p.Base+"/admin/roles/new"),
		fill(`#f-name`, "Journaling"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="role-tasks-search"]`)),
		fill(`[data-testid="role-tasks-search"]`, "journal\n"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="role-tasks-candidate"] [data-testid="add"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="role-tasks-candidate"] [data-testid="add"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="role-tasks-item"]`)),
	)
	testkit.Screenshot(t, ctx, "admin-role")
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/groups/new"),
		fill(`#f-name`, "Journal approvers"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="members-search"]`)),
	)
	for _, name := range []string{"alma", "bert"} {
		do(t, ctx, p,
			fill(`[data-testid="members-search"]`, name+"\n"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="members-candidate"] [data-testid="add"]`)),
			chromedp.Click(chromedp.CSS(`[data-testid="members-candidate"] [data-testid="add"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		)
	}
	testkit.Screenshot(t, ctx, "admin-group")
	groupURL, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil {
		t.Fatal(err)
	}
	groupID := strings.TrimPrefix(groupURL, "/admin/groups/")
	// From the role's page: Create policy.
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/admin/roles"),
		chromedp.Click(chromedp.CSS(`[data-testid="roles"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="primary-action"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="primary-action"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-approver_group_id`)),
		chromedp.SetValue(chromedp.CSS(`#f-approver_group_id`), groupID),
		chromedp.Clear(chromedp.CSS(`#f-approvals_required`)),
		fill(`#f-approvals_required`, "1"),
	)
	testkit.Screenshot(t, ctx, "admin-policy-new")
	// Two mistakes come back together after one submit, the first of them focused.
	do(t, ctx, p,
		chromedp.Clear(chromedp.CSS(`#f-max_duration`)), fill(`#f-max_duration`, "40d"),
		chromedp.Clear(chromedp.CSS(`#f-pending_timeout`)), fill(`#f-pending_timeout`, "soon"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-pending_timeout"]`)),
	)
	if got := text(t, ctx, `[data-testid="error-max_duration"]`); !strings.Contains(got, "ceiling") {
		t.Fatalf("maximum's problem: %q", got)
	}
	focused, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.activeElement.id`))
	if err != nil || focused != "f-max_duration" {
		t.Fatalf("focus after a refused save on %q, want the first field with a problem (%v)", focused, err)
	}
	testkit.Screenshot(t, ctx, "admin-policy-problems")
	do(t, ctx, p,
		chromedp.Clear(chromedp.CSS(`#f-max_duration`)), fill(`#f-max_duration`, "4h"),
		chromedp.Clear(chromedp.CSS(`#f-pending_timeout`)), fill(`#f-pending_timeout`, "24h"),
		chromedp.Click(chromedp.CSS(`[data-testid="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="covered-tasks"]`)),
	)
	covered := text(t, ctx, `[data-testid="covered-tasks"]`)
	approvers := text(t, ctx, `[data-testid="approvers"]`)
	if !strings.Contains(covered, "exchange/New-JournalRule") {
		t.Fatalf("covered tasks: %q", covered)
	}
	if !strings.Contains(approvers, "Alma Approver") || !strings.Contains(approvers, "Bert Approver") {
		t.Fatalf("approvers: %q", approvers)
	}
	testkit.Screenshot(t, ctx, "admin-policy")

	// Removing an approver asks first, on a page that says they stop deciding and asks why.
	do(t, ctx, p,
		chromedp.Navigate(p.Base+groupURL),
		chromedp.Click(chromedp.CSS(`[data-testid="members-item"]:last-child [data-testid="remove"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="field-reason"]`)),
	)
	if note := text(t, ctx, `[data-testid="page-title"]`) + " " + text(t, ctx, `main`); !strings.Contains(note, "Remove Bert Approver from Journal approvers") ||
		!strings.Contains(note, "stops deciding") {
		t.Fatalf("removal confirmation: %q", note)
	}
	testkit.Screenshot(t, ctx, "admin-group-remove")
	checkAxe(t, ctx, axeSource(t), "member removal confirmation")
}

// TestBrowserDemoTour opens every admin page of the demo organisation at desktop and phone
// width, checks none fails, and saves screenshots for people to look at.
func TestBrowserDemoTour(t *testing.T) {
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "demo.db")}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	signInAs(t, ctx, p, "admin@demo.example", pw)
	pages := []string{"/admin/policies", "/admin/tasks", "/admin/roles", "/admin/role-groups", "/admin/groups", "/admin/users", "/admin/settings"}
	for _, width := range []int64{1280, 375} {
		do(t, ctx, p, chromedp.EmulateViewport(width, 900))
		for _, path := range pages {
			do(t, ctx, p, chromedp.Navigate(p.Base+path), chromedp.WaitVisible(chromedp.CSS(`[data-testid="page-title"]`)))
			name := strings.ReplaceAll(strings.TrimPrefix(path, "/"), "/", "-")
			if width == 375 {
				name += "-375"
			}
			testkit.Screenshot(t, ctx, "demo-"+name)
		}
		// The first policy's page, with its reach.
		do(t, ctx, p,
			chromedp.Navigate(p.Base+"/admin/policies"),
			chromedp.Click(chromedp.CSS(`[data-testid="policies"] a`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="approvers"]`)),
		)
		testkit.Screenshot(t, ctx, map[int64]string{1280: "demo-policy", 375: "demo-policy-375"}[width])
	}
}
