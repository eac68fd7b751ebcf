package admin_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// reviewWorld is an organisation with a group under review: "Mailbox admins" owned by Olga,
// who is also one of its members with Mia and Max, and "Helpdesk" with no owner and Mia.
type reviewWorld struct {
	svc                 *admin.Service
	db                  *store.Store
	clock               *testenv.Clock
	ctx                 context.Context
	adm, olga, mia, max pam.User
	mailbox, helpdesk   pam.Group
	invites             *invites
}

type invites struct {
	mu       sync.Mutex
	got      map[pam.UserID]int
	reminded map[pam.UserID]int // reminders, by reviewer: memberships still to decide
}

func (i *invites) ReviewRequested(_ context.Context, _ *store.Store, inv admin.ReviewInvite) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.got[inv.Reviewer.ID] = inv.Items
	return nil
}

func (i *invites) ReviewReminded(_ context.Context, _ *store.Store, inv admin.ReviewInvite) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.reminded == nil {
		i.reminded = map[pam.UserID]int{}
	}
	i.reminded[inv.Reviewer.ID] += inv.Items
	return nil
}

func newReviewWorld(t *testing.T, dialect string) *reviewWorld {
	t.Helper()
	db := testenv.Store(t, dialect)
	clock := testenv.NewClock()
	w := &reviewWorld{svc: admin.New(db, clock.Now), db: db, clock: clock, ctx: context.Background(), invites: &invites{got: map[pam.UserID]int{}}}
	w.svc.SetReviewMailer(w.invites)
	w.adm = mustUser(t, w.svc, "ada@example.com", true)
	w.olga = mustUser(t, w.svc, "olga@example.com", false)
	w.mia = mustUser(t, w.svc, "mia@example.com", false)
	w.max = mustUser(t, w.svc, "max@example.com", false)
	w.mailbox = w.group(t, "Mailbox admins", w.olga, w.mia, w.max)
	w.helpdesk = w.group(t, "Helpdesk", w.mia)
	if err := w.svc.AddOwner(w.ctx, as(w.adm), w.mailbox.ID, w.olga.ID); err != nil {
		t.Fatalf("add owner: %v", err)
	}
	if err := w.svc.AddOwner(w.ctx, as(w.adm), w.mailbox.ID, w.olga.ID); pam.ErrorCode(err) != pam.ECONFLICT {
		t.Fatalf("owner twice: %v", err)
	}
	return w
}

func (w *reviewWorld) group(t *testing.T, name string, members ...pam.User) pam.Group {
	t.Helper()
	g, err := w.svc.CreateGroup(w.ctx, as(w.adm), name, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if err := w.svc.AddMember(w.ctx, as(w.adm), g.ID, m.ID); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

func (w *reviewWorld) start(t *testing.T, def pam.ReviewDecision) pam.Campaign {
	t.Helper()
	c, err := w.svc.StartCampaign(w.ctx, as(w.adm), pam.CampaignInput{Name: "Q3 review", Scope: "all", Reviewers: "owners",
		Default: string(def), Deadline: w.clock.Now().Add(48 * time.Hour)})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	return c
}

func (w *reviewWorld) items(t *testing.T, c pam.Campaign, reviewer pam.UserID) map[string]pam.ReviewItem {
	t.Helper()
	its, err := w.db.ReviewItems(w.ctx, store.ItemFilter{CampaignID: c.ID, Reviewer: reviewer, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]pam.ReviewItem{}
	for _, it := range its {
		out[it.GroupName+"/"+it.UserEmail] = it
	}
	return out
}

func (w *reviewWorld) member(t *testing.T, g pam.Group, u pam.User) bool {
	t.Helper()
	ok, err := w.db.IsMember(w.ctx, g.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func (w *reviewWorld) events(t *testing.T, a audit.Action) []audit.Event {
	t.Helper()
	evs, err := w.db.AuditEvents(w.ctx, audit.Filter{Action: a.String(), Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestReviewCampaignFromStartToAppliedRemovals(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		for _, def := range []pam.ReviewDecision{pam.ReviewKeep, pam.ReviewRemove} {
			t.Run(string(def), func(t *testing.T) {
				w := newReviewWorld(t, dialect)
				c := w.start(t, def)
				if c.Items != 4 || c.Status != pam.CampaignOpen {
					t.Fatalf("campaign %+v, want 4 open items", c)
				}
				// Olga owns Mailbox admins and is one of its members, so the administrators
				// review it too; Helpdesk has no owner and falls back to them.
				if w.invites.got[w.olga.ID] != 2 || w.invites.got[w.adm.ID] != 4 {
					t.Fatalf("invitations %v", w.invites.got)
				}
				olgas := w.items(t, c, w.olga.ID)
				if len(olgas) != 2 {
					t.Fatalf("olga may review %v", olgas)
				}
				if _, offered := olgas["Mailbox admins/olga@example.com"]; offered {
					t.Fatal("olga is offered her own membership")
				}
				all := w.items(t, c, "")
				own := all["Mailbox admins/olga@example.com"]
				if _, err := w.svc.DecideItem(w.ctx, as(w.olga), c.ID, admin.Decision{ItemID: own.ID, Decision: pam.ReviewKeep}); pam.ErrorCode(err) != pam.EFORBIDDEN {
					t.Fatalf("keeping her own membership: %v", err)
				}
				// Olga is not a reviewer of Helpdesk.
				if _, err := w.svc.DecideItem(w.ctx, as(w.olga), c.ID, admin.Decision{ItemID: all["Helpdesk/mia@example.com"].ID, Decision: pam.ReviewKeep}); pam.ErrorCode(err) != pam.ENOTFOUND {
					t.Fatalf("deciding outside her groups: %v", err)
				}
				if _, err := w.svc.DecideItem(w.ctx, as(w.olga), c.ID, admin.Decision{ItemID: olgas["Mailbox admins/mia@example.com"].ID,
					Decision: pam.ReviewRemove, Comment: "moved to finance"}); err != nil {
					t.Fatalf("remove mia: %v", err)
				}
				if _, err := w.svc.DecideItem(w.ctx, as(w.olga), c.ID, admin.Decision{ItemID: olgas["Mailbox admins/max@example.com"].ID, Decision: pam.ReviewKeep}); err != nil {
					t.Fatalf("keep max: %v", err)
				}
				// Nobody decides Olga's own membership nor Mia's Helpdesk one: the default applies.
				w.clock.Advance(47 * time.Hour)
				if n, err := w.svc.CloseDueCampaigns(w.ctx); err != nil || n != 0 {
					t.Fatalf("sweep before the deadline closed %d: %v", n, err)
				}
				w.clock.Advance(2 * time.Hour)
				if n, err := w.svc.CloseDueCampaigns(w.ctx); err != nil || n != 1 {
					t.Fatalf("sweep after the deadline closed %d: %v", n, err)
				}
				if _, err := w.svc.DecideItem(w.ctx, as(w.olga), c.ID, admin.Decision{ItemID: olgas["Mailbox admins/max@example.com"].ID, Decision: pam.ReviewRemove}); pam.ErrorCode(err) != pam.ECONFLICT {
					t.Fatalf("deciding after the close: %v", err)
				}
				if w.member(t, w.mailbox, w.mia) || !w.member(t, w.mailbox, w.max) {
					t.Fatal("decisions were not applied")
				}
				unreviewedStays := def == pam.ReviewKeep
				if w.member(t, w.mailbox, w.olga) != unreviewedStays || w.member(t, w.helpdesk, w.mia) != unreviewedStays {
					t.Fatalf("default %s: unreviewed memberships stay = %v", def, !unreviewedStays)
				}
				wantRemoved := 1
				if def == pam.ReviewRemove {
					wantRemoved = 3
				}
				closed, err := w.svc.Campaign(w.ctx, c.ID)
				if err != nil || closed.Status != pam.CampaignClosed || closed.Removed != wantRemoved || closed.Decided != 2 || closed.ClosedByName != "system" {
					t.Fatalf("closed campaign %+v (%v)", closed, err)
				}
				if n := len(w.events(t, audit.GroupMemberRemoved)); n != wantRemoved {
					t.Fatalf("%d membership removals audited, want %d", n, wantRemoved)
				}
				if n := len(w.events(t, audit.ReviewItemApplied)); n != wantRemoved {
					t.Fatalf("%d applied items audited, want %d", n, wantRemoved)
				}
				if n := len(w.events(t, audit.ReviewItemDecided)); n != 2 {
					t.Fatalf("%d decisions audited", n)
				}
				for _, it := range w.items(t, c, "") {
					if it.Outcome == "" || it.AppliedAt == nil {
						t.Fatalf("item %s/%s has no outcome", it.GroupName, it.UserEmail)
					}
				}
				// Closing again changes nothing.
				if _, err := w.svc.CloseCampaign(w.ctx, as(w.adm), c.ID); err != nil {
					t.Fatal(err)
				}
				if n := len(w.events(t, audit.ReviewCampaignClosed)); n != 1 {
					t.Fatalf("%d close events", n)
				}
			})
		}
	})
}

func TestReviewBulkDecisionsAreBoundedAndEachAudited(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newReviewWorld(t, dialect)
		c := w.start(t, pam.ReviewKeep)
		var ids []string
		for _, it := range w.items(t, c, w.adm.ID) {
			ids = append(ids, it.ID)
		}
		if _, err := w.svc.DecideItems(w.ctx, as(w.adm), c.ID, make([]string, pam.MaxBulkReview+1), pam.ReviewKeep, ""); pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("too many at once: %v", err)
		}
		done, err := w.svc.DecideItems(w.ctx, as(w.adm), c.ID, ids, pam.ReviewKeep, "still needed")
		if err != nil || len(done) != 4 {
			t.Fatalf("bulk: %d, %v", len(done), err)
		}
		if n := len(w.events(t, audit.ReviewItemDecided)); n != 4 {
			t.Fatalf("%d decisions audited", n)
		}
		// Olga's ticks include her own membership: refused, and what came before it stays.
		own := w.items(t, c, "")["Mailbox admins/olga@example.com"]
		if _, err := w.svc.DecideItems(w.ctx, as(w.olga), c.ID, []string{own.ID}, pam.ReviewRemove, ""); pam.ErrorCode(err) != pam.EFORBIDDEN {
			t.Fatalf("bulk with her own: %v", err)
		}
	})
}

func TestTwoConcurrentClosesApplyEachRemovalOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newReviewWorld(t, dialect)
		var more []pam.User
		for i := range 8 {
			more = append(more, mustUser(t, w.svc, fmt.Sprintf("m%d@example.com", i), false))
		}
		w.group(t, "Finance", more...)
		c := w.start(t, pam.ReviewRemove)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := w.svc.CloseCampaign(w.ctx, as(w.adm), c.ID); err != nil {
					t.Errorf("close: %v", err)
				}
			})
		}
		wg.Wait()
		if n := len(w.events(t, audit.GroupMemberRemoved)); n != c.Items {
			t.Fatalf("%d removals audited for %d items", n, c.Items)
		}
		if n := len(w.events(t, audit.ReviewItemApplied)); n != c.Items {
			t.Fatalf("%d applied events for %d items", n, c.Items)
		}
		if n := len(w.events(t, audit.ReviewCampaignClosed)); n != 1 {
			t.Fatalf("%d close events", n)
		}
	})
}

// A group the identity provider manages loses nobody to a review: its removals are listed as
// "remove in the identity provider" and the membership stays.
func TestReviewLeavesProviderManagedGroupsToTheProvider(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newReviewWorld(t, dialect)
		w.svc.SetProviderManaged(func(_ context.Context, _ *store.Store, groupID string) (bool, error) {
			return groupID == w.helpdesk.ID, nil
		})
		c := w.start(t, pam.ReviewRemove)
		if _, err := w.svc.CloseCampaign(w.ctx, as(w.adm), c.ID); err != nil {
			t.Fatal(err)
		}
		if !w.member(t, w.helpdesk, w.mia) || w.member(t, w.mailbox, w.mia) {
			t.Fatal("the provider-managed membership was removed, or the other one kept")
		}
		if it := w.items(t, c, "")["Helpdesk/mia@example.com"]; it.Outcome != pam.OutcomeRemoveInIdP {
			t.Fatalf("outcome %q", it.Outcome)
		}
		if n := len(w.events(t, audit.GroupMemberRemoved)); n != 3 {
			t.Fatalf("%d removals", n)
		}
	})
}

// A day before its deadline, each reviewer who still has memberships to decide is reminded once,
// with how many are left; one who decided all of theirs is not, nor is anyone before that day,
// after the close, or a second time (two processes sweeping at once included).
func TestReviewRemindersComeOnceADayBeforeTheDeadline(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		w := newReviewWorld(t, dialect)
		c, err := w.svc.StartCampaign(w.ctx, as(w.adm), pam.CampaignInput{Name: "Q3 review", Scope: "all", Reviewers: "owners",
			Default: "keep", Deadline: w.clock.Now().Add(72 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		// Olga decides both memberships she may; the administrator decides none of his four.
		for _, it := range w.items(t, c, w.olga.ID) {
			if _, err := w.svc.DecideItem(w.ctx, as(w.olga), c.ID, admin.Decision{ItemID: it.ID, Decision: pam.ReviewKeep}); err != nil {
				t.Fatal(err)
			}
		}
		w.clock.Advance(47 * time.Hour)
		if n, err := w.svc.RemindDueCampaigns(w.ctx); err != nil || n != 0 || len(w.invites.reminded) != 0 {
			t.Fatalf("two days before the deadline: %d reminded, %v, %v", n, w.invites.reminded, err)
		}
		w.clock.Advance(2 * time.Hour)
		var wg sync.WaitGroup
		counts := make([]int, 2)
		for i := range counts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := w.svc.RemindDueCampaigns(w.ctx)
				if err != nil {
					t.Error(err)
				}
				counts[i] = n
			}()
		}
		wg.Wait()
		// Olga's two decided memberships are the administrator's too: two are left for him.
		if counts[0]+counts[1] != 1 || len(w.invites.reminded) != 1 || w.invites.reminded[w.adm.ID] != 2 {
			t.Fatalf("a day before: %v campaigns reminded, reminders %v", counts, w.invites.reminded)
		}
		evs := w.events(t, audit.ReviewCampaignReminded)
		if len(evs) != 1 || evs[0].TargetID != c.ID || evs[0].ActorType != audit.System.Type ||
			!strings.Contains(evs[0].Details, `"reviewers":1`) || !strings.Contains(evs[0].Details, `"undecided":2`) {
			t.Fatalf("reminded events: %+v", evs)
		}
		w.clock.Advance(time.Hour)
		if n, err := w.svc.RemindDueCampaigns(w.ctx); err != nil || n != 0 || w.invites.reminded[w.adm.ID] != 2 {
			t.Fatalf("a second sweep: %d reminded, %v, %v", n, w.invites.reminded, err)
		}
	})
}

// A campaign shorter than the reminder's lead sends no reminder: its invitation is news enough.
func TestShortReviewCampaignSendsNoReminder(t *testing.T) {
	w := newReviewWorld(t, store.SQLite)
	if _, err := w.svc.StartCampaign(w.ctx, as(w.adm), pam.CampaignInput{Name: "Quick", Scope: "all", Reviewers: "owners",
		Default: "keep", Deadline: w.clock.Now().Add(20 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		w.clock.Advance(6 * time.Hour)
		if n, err := w.svc.RemindDueCampaigns(w.ctx); err != nil || n != 0 {
			t.Fatalf("reminded %d: %v", n, err)
		}
	}
}
