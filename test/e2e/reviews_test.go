package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestBrowserAccessReviewInline: a group owner opens the review the mail links to and removes
// a member with one click; htmx redraws that row in place (the page is not reloaded), and
// closing the campaign takes the member out of the group.
func TestBrowserAccessReviewInline(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "reviews.db")
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + dbPath}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	db, err := store.Open("sqlite:" + dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bg := context.Background()
	adm := admin.New(db, func() time.Time { return time.Now().UTC() })
	users := map[string]pam.User{}
	for _, e := range []string{"admin@demo.example", "olivia@demo.example", "rhea@demo.example"} {
		u, _, err := db.UserByEmail(bg, e)
		if err != nil {
			t.Fatal(err)
		}
		users[e] = u
	}
	groups, err := db.Groups(bg, pam.Page{Query: "Helpdesk", Limit: 5})
	if err != nil || len(groups) != 1 {
		t.Fatalf("helpdesk: %v %v", groups, err)
	}
	helpdesk := groups[0]
	root := audit.Actor{Type: audit.ActorUser, ID: string(users["admin@demo.example"].ID), Name: "Ada Admin"}
	if err := adm.AddOwner(bg, root, helpdesk.ID, users["olivia@demo.example"].ID); err != nil {
		t.Fatal(err)
	}
	c, err := adm.StartCampaign(bg, root, pam.CampaignInput{Name: "Helpdesk review", Scope: "all", Reviewers: "owners", Default: "keep",
		Deadline: time.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	ctx := testkit.Browser(t)
	// Her dashboard shows the review with its deadline; its card opens it.
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="review-due"]`)),
	)
	if s := text(t, ctx, `[data-testid="review-due"]`); !strings.Contains(s, "Helpdesk review") || !strings.Contains(s, "closes in 1 day") {
		t.Fatalf("the dashboard's review card says %q", s)
	}
	testkit.Screenshot(t, ctx, "dashboard-review")
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="review-due"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="review-item"]`)),
	)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.__sameDocument = true, document.querySelectorAll('[data-testid="review-item"]').length`))
	if err != nil || n != 2 {
		t.Fatalf("olivia reviews %d memberships (%v), want Helpdesk's 2", n, err)
	}
	item, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('[data-testid="review-item"]')].find(r => r.textContent.includes('rhea@demo.example')).id`))
	if err != nil || item == "" {
		t.Fatalf("rhea's row: %q %v", item, err)
	}
	do(t, ctx, p,
		chromedp.SendKeys(chromedp.CSS(`#`+item+` input[name="comment"]`), "Moved to finance"),
		chromedp.Click(chromedp.CSS(`#`+item+` [data-testid="remove"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#`+item+` [data-testid="decision"]`)),
	)
	if s := text(t, ctx, `#`+item+` [data-testid="decision"]`); !strings.Contains(s, "Remove") || !strings.Contains(s, "Olivia") {
		t.Fatalf("the row says %q", s)
	}
	same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__sameDocument === true`))
	if err != nil || !same {
		t.Fatalf("the page was reloaded for an inline decision (%v)", err)
	}
	testkit.Screenshot(t, ctx, "review-owner")
	src := axeSource(t)
	checkAxe(t, ctx, src, "/reviews/{id}")

	// The administrator's pages of the same review pass the same accessibility rules.
	actx := testkit.Browser(t)
	signInAs(t, actx, p, "admin@demo.example", pw)
	for _, path := range []string{"/admin/reviews", "/admin/reviews/new", "/admin/reviews/" + c.ID} {
		do(t, actx, p, chromedp.Navigate(p.Base+path), chromedp.WaitVisible(chromedp.CSS(`[data-testid="page-title"]`)))
		checkAxe(t, actx, src, path)
	}
	testkit.Screenshot(t, actx, "review-report")

	if _, err := adm.CloseCampaign(bg, root, c.ID); err != nil {
		t.Fatal(err)
	}
	if in, err := db.IsMember(bg, helpdesk.ID, users["rhea@demo.example"].ID); err != nil || in {
		t.Fatalf("rhea is still in Helpdesk (%v)", err)
	}
}
