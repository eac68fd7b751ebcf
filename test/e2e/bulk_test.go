package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// TestBrowserBulkApproveWithOneAlreadyDecided: an approver ticks every waiting request and
// approves them in one go; between the confirmation and the decision one of them is withdrawn
// by its requester. Each of the others is approved, and the summary says so.
func TestBrowserBulkApproveWithOneAlreadyDecided(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "bulk.db")
	p := testkit.Serve(t, map[string]string{"ELEVATE_DATABASE_URL": "sqlite:" + dbPath}, "--demo")
	pw := p.DemoPassword()
	if pw == "" {
		t.Fatalf("demo password not printed:\n%s", p.Logs())
	}
	ctx := testkit.Browser(t)
	signInAs(t, ctx, p, "olivia@demo.example", pw)
	do(t, ctx, p,
		chromedp.Navigate(p.Base+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="inbox-row"]`)),
	)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="inbox-row"]').length`))
	if err != nil || n < 2 {
		t.Fatalf("the demo inbox holds %d rows (%v); the test needs two", n, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="inbox-row"] input[type=checkbox]').forEach(b => b.click()), 0`)); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="bulk-approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="bulk-confirm"]`)),
	)
	if s := text(t, ctx, `[data-testid="bulk-summary"]`); !strings.Contains(s, fmt.Sprint(n)) {
		t.Fatalf("the confirmation does not name how many: %q (want %d)", s, n)
	}
	testkit.Screenshot(t, ctx, "approvals-bulk-confirm")
	ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="bulk-decide-form"] input[name=id]')].map(i => i.value)`))
	if err != nil || len(ids) != n {
		t.Fatalf("the confirmation carries %v (%v), want %d ids", ids, err, n)
	}

	// Meanwhile its requester withdraws the first one, through the same database.
	db, err := store.Open("sqlite:" + dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bg := context.Background()
	r, err := db.RequestByID(bg, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.UserByID(bg, r.RequesterID)
	if err != nil {
		t.Fatal(err)
	}
	actor := audit.Actor{Type: audit.ActorUser, ID: string(u.ID), Name: u.Email}
	if _, err := access.New(db, func() time.Time { return time.Now().UTC() }, nil).Withdraw(bg, actor, u, ids[0]); err != nil {
		t.Fatal(err)
	}

	do(t, ctx, p,
		chromedp.Click(chromedp.CSS(`[data-testid="bulk-confirm-button"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	// "Approved 2; already decided 1.", or with "(1 still needs another approval)" after the
	// count when one of them needs two approvals.
	f := strings.TrimSpace(text(t, ctx, `[data-testid="flash"]`))
	if !strings.HasPrefix(f, fmt.Sprintf("Approved %d", n-1)) || !strings.HasSuffix(f, "; already decided 1.") {
		t.Fatalf("summary %q, want %d approved and 1 already decided", f, n-1)
	}
	testkit.Screenshot(t, ctx, "approvals-bulk-done")
	// Each of the others has Olivia's approval as its own decision: approved, or still pending
	// for a second approver; withdrawn stays withdrawn.
	for i, id := range ids {
		st, err := testkit.Whole(bg, db, id)
		r, rerr := db.RequestByID(bg, id)
		if err != nil || rerr != nil {
			t.Fatalf("request %s: %v %v", id, err, rerr)
		}
		switch {
		case i == 0 && st != pam.StatusWithdrawn:
			t.Fatalf("the withdrawn request is %s", st)
		case i > 0 && st != pam.StatusApproved && !(st == pam.StatusPending && len(r.Reviews) == 1):
			t.Fatalf("request %s after the bulk approval: %s with %d reviews", id, st, len(r.Reviews))
		}
	}
}
