package store_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

const enrolmentKey = "require_mfa_enrolment"

// frameWorld is an approver with requests of every kind around their inbox, a member of a group
// that approves nothing, and a session for each.
type frameWorld struct {
	db              *store.Store
	olivia, sam     pam.User
	oliviaS, samS   string
	approvers, misc pam.Group
}

func newFrameWorld(t *testing.T, dialect string) frameWorld {
	t.Helper()
	ctx := context.Background()
	db := testenv.Store(t, dialect)
	w := frameWorld{db: db, olivia: mustCreateUser(t, db, "olivia@example.com"), sam: mustCreateUser(t, db, "sam@example.com"),
		approvers: pam.Group{ID: "g-approvers", Name: "Approvers"}, misc: pam.Group{ID: "g-misc", Name: "Misc"}}
	rhea := mustCreateUser(t, db, "rhea@example.com")
	for _, g := range []pam.Group{w.approvers, w.misc} {
		if err := db.CreateGroup(ctx, g, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.AddMember(ctx, w.approvers.ID, w.olivia.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.AddMember(ctx, w.misc.ID, w.sam.ID, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTask(ctx, pam.Task{ID: "t1", Key: "exchange/Set-Mailbox", Name: "Set-Mailbox"}, t0); err != nil {
		t.Fatal(err)
	}
	p := pam.NewPolicy(pam.ScopeTask, "t1")
	p.ID, p.ApproverGroupID = "p1", w.approvers.ID
	p.CreatedAt, p.UpdatedAt = t0, t0
	if err := db.CreatePolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	request := func(id string, by pam.UserID, group string, status pam.Status, pendingUntil time.Duration) {
		t.Helper()
		r := pam.Request{ID: id, RequesterID: by, PolicyID: "p1", ScopeType: pam.ScopeTask, ScopeID: "t1", ScopeName: "task",
			ApprovalType: pam.ApprovalManual, ApproverGroupID: group, ApprovalsRequired: 2, Duration: time.Hour, Status: status,
			CreatedAt: t0, PendingUntil: t0.Add(pendingUntil), Version: 1}
		if err := db.CreateRequest(ctx, r); err != nil {
			t.Fatalf("create %s: %v", id, err)
		}
	}
	request("waiting-1", rhea.ID, w.approvers.ID, pam.StatusPending, time.Hour)
	request("waiting-2", rhea.ID, w.approvers.ID, pam.StatusPending, time.Hour)
	request("reviewed", rhea.ID, w.approvers.ID, pam.StatusPending, time.Hour)
	request("own", w.olivia.ID, w.approvers.ID, pam.StatusPending, time.Hour)
	request("timed-out", rhea.ID, w.approvers.ID, pam.StatusPending, -time.Minute)
	request("other-group", rhea.ID, w.misc.ID, pam.StatusPending, time.Hour)
	request("decided", rhea.ID, w.approvers.ID, pam.StatusDenied, time.Hour)
	if err := db.AddReview(ctx, "reviewed", pam.Review{ReviewerID: w.olivia.ID, Decision: pam.DecisionApprove, At: t0}); err != nil {
		t.Fatal(err)
	}
	session := func(u pam.User) string {
		id := "hash-" + string(u.ID)
		if err := db.CreateSession(ctx, store.Session{IDHash: id, UserID: u.ID, Data: "{}", CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	w.oliviaS, w.samS = session(w.olivia), session(w.sam)
	return w
}

// The session statement brings the frame every page's rules need: the enrolment setting as
// stored, and the approver and enrolment flags as IsApprover and MFA read them; and it stays one
// statement.
func TestSessionWithUserReadsTheFrameInOneStatement(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		w := newFrameWorld(t, dialect)
		db := w.db
		frame := func(idHash string) (pam.User, store.Frame) {
			t.Helper()
			before := db.Counts()
			_, u, f, err := db.SessionWithUser(ctx, idHash, enrolmentKey, time.Time{}, false)
			if err != nil {
				t.Fatal(err)
			}
			if n := db.Counts().Statements - before.Statements; n != 1 {
				t.Fatalf("the session with its frame took %d statements", n)
			}
			return u, f
		}

		if u, f := frame(w.oliviaS); u.ID != w.olivia.ID || f != (store.Frame{Approver: true}) {
			t.Fatalf("olivia: %+v %+v", u, f)
		}
		// Sam's group approves nothing until it is the organisation's default approver group.
		if _, f := frame(w.samS); f != (store.Frame{}) {
			t.Fatalf("sam: %+v", f)
		}
		if err := db.ExecRaw(ctx, "UPDATE org_settings SET default_approver_group_id = ?", w.misc.ID); err != nil {
			t.Fatal(err)
		}
		if _, f := frame(w.samS); !f.Approver {
			t.Fatalf("sam in the default approver group: %+v", f)
		}
		for _, u := range []pam.User{w.olivia, w.sam} {
			if ok, err := db.IsApprover(ctx, u.ID); err != nil || !ok {
				t.Fatalf("IsApprover(%s) = %v, %v", u.Email, ok, err)
			}
		}

		// An enrolment counts once confirmed; the setting is read as stored.
		if err := db.BeginMFA(ctx, w.olivia.ID, "sealed", t0); err != nil {
			t.Fatal(err)
		}
		if _, f := frame(w.oliviaS); f.MFAEnrolled {
			t.Fatal("an unconfirmed enrolment counts as enrolled")
		}
		if err := db.ConfirmMFA(ctx, w.olivia.ID, t0); err != nil {
			t.Fatal(err)
		}
		if err := db.SetValue(ctx, enrolmentKey, "true", t0); err != nil {
			t.Fatal(err)
		}
		if _, f := frame(w.oliviaS); !f.MFAEnrolled || f.Enrolment != "true" {
			t.Fatalf("after enrolment and the setting: %+v", f)
		}

		// A disabled approver's sessions end with the account.
		if err := db.DisableUser(ctx, w.olivia.ID, t0); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := db.SessionWithUser(ctx, w.oliviaS, enrolmentKey, t0, true); pam.ErrorCode(err) != pam.ENOTFOUND {
			t.Fatalf("a disabled user's session: %v", err)
		}
	})
}

// Given a time, the session statement also counts the user's inbox, as InboxCount and the
// inbox's pages count it, and is still one statement; without one it counts nothing.
func TestSessionWithUserCountsTheInboxInTheSameStatement(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		w := newFrameWorld(t, dialect)
		now := t0.Add(time.Minute)
		for _, c := range []struct {
			who    string
			idHash string
			user   pam.UserID
			want   int64
		}{{"olivia", w.oliviaS, w.olivia.ID, 2}, {"sam", w.samS, w.sam.ID, 1}} {
			before := w.db.Counts().Statements
			_, _, f, err := w.db.SessionWithUser(ctx, c.idHash, enrolmentKey, now, true)
			if err != nil {
				t.Fatal(err)
			}
			if n := w.db.Counts().Statements - before; n != 1 {
				t.Fatalf("%s: the session with its frame and count took %d statements", c.who, n)
			}
			alone, err := w.db.InboxCount(ctx, c.user, now)
			if err != nil {
				t.Fatal(err)
			}
			if !f.InboxRead || f.Inbox != c.want || alone != c.want {
				t.Fatalf("%s: frame count %d (read %v), InboxCount %d, want %d", c.who, f.Inbox, f.InboxRead, alone, c.want)
			}
		}
		// Once their time is up, waiting requests leave the count.
		if _, _, f, err := w.db.SessionWithUser(ctx, w.oliviaS, enrolmentKey, t0.Add(2*time.Hour), true); err != nil || f.Inbox != 0 || !f.InboxRead {
			t.Fatalf("after the requests timed out: %+v %v", f, err)
		}
		if _, _, f, err := w.db.SessionWithUser(ctx, w.oliviaS, enrolmentKey, time.Time{}, false); err != nil || f.InboxRead || f.Inbox != 0 {
			t.Fatalf("without a time: %+v %v", f, err)
		}
	})
}

// The navigation's count is one statement served by an index on requests, never a scan of the
// table, and counts what the inbox lists.
func TestInboxCountIsOneIndexedStatement(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		w := newFrameWorld(t, dialect)
		now := t0.Add(time.Minute)
		before := w.db.Counts().Statements
		n, err := w.db.InboxCount(ctx, w.olivia.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		if s := w.db.Counts().Statements - before; s != 1 {
			t.Fatalf("the count took %d statements", s)
		}
		list, err := w.db.InboxPage(ctx, w.olivia.ID, now, pam.InboxFilter{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 || len(list.Waiting) != 2 || list.Total != 2 {
			t.Fatalf("InboxCount %d, the inbox lists %+v", n, list)
		}

		// The count alone, with the session, and with the inbox's page: each reads requests
		// through an index.
		plans := map[string]func() (string, error){
			"count":   func() (string, error) { return w.db.InboxCountPlan(ctx, w.olivia.ID, now) },
			"session": func() (string, error) { return w.db.SessionPlan(ctx, w.oliviaS, enrolmentKey, now) },
			"page": func() (string, error) {
				return w.db.InboxPagePlan(ctx, w.olivia.ID, now, pam.CursorAt(t0, "waiting-1"), 26)
			},
		}
		for name, explain := range plans {
			plan, err := explain()
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var indexed, scans bool
			switch dialect {
			case store.Postgres:
				indexed = strings.Contains(plan, " on requests") && (strings.Contains(plan, "Index Scan using requests_") ||
					strings.Contains(plan, "Index Only Scan using requests_") || strings.Contains(plan, "Bitmap Index Scan on requests_"))
				scans = strings.Contains(plan, "Seq Scan on requests")
			case store.SQLite:
				// The inbox's statements name requests r.
				indexed = regexp.MustCompile(`SEARCH r USING (COVERING )?INDEX requests_`).MatchString(plan)
				scans = regexp.MustCompile(`SCAN (r|requests)\b`).MatchString(plan)
			}
			if !indexed || scans {
				t.Errorf("%s: the inbox is not read through an index on requests:\n%s", name, plan)
			}
		}
	})
}

// PostgreSQL keeps one generic plan for the statements that count the inbox, whatever time they
// are asked at: planning them afresh on every call (as a time compared with the statistics of
// pending_until made it do) cost more than running them.
func TestInboxStatementsKeepOneGenericPlan(t *testing.T) {
	ctx := context.Background()
	w := newFrameWorld(t, store.Postgres)
	// Like the benchmark's database: a thousand requests waiting among many decided long ago,
	// whose deadlines the statistics place well before any time the inbox is asked at, made by
	// two requesters (the statistics then know every requester, and the viewer is none of them).
	for _, set := range []struct {
		n                     int
		prefix, status, shift string
	}{{20000, "old-", "expired", "- g * interval '1 hour'"}, {1000, "more-", "pending", "+ g * interval '1 second'"}} {
		if err := w.db.ExecRaw(ctx, `INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name,
				approval_type, approver_group_id, approvals_required, duration_min, justification, ticket, status, created_at,
				pending_until, version)
			SELECT ? || g, CASE WHEN g % 2 = 0 THEN requester_id ELSE ? END, policy_id, scope_type, scope_id, scope_name,
				approval_type, approver_group_id, approvals_required, duration_min, justification, ticket, ?,
				created_at `+set.shift+`, pending_until `+set.shift+`, 2
			FROM requests, generate_series(1, ?) g WHERE id = 'waiting-1'`, set.prefix, string(w.sam.ID), set.status, set.n); err != nil {
			t.Fatal(err)
		}
	}
	// Each decided request carries its approval, by someone other than the viewer: with one
	// reviewer in the statistics, a reviewer compared by value looks like the author of them all.
	if err := w.db.ExecRaw(ctx, `INSERT INTO reviews (request_id, reviewer_id, principal_id, decision, comment, at)
		SELECT id, ?, ?, 'approve', '', created_at FROM requests WHERE id LIKE 'old-%'`, string(w.sam.ID), string(w.sam.ID)); err != nil {
		t.Fatal(err)
	}
	if err := w.db.ExecRaw(ctx, "ANALYZE requests, reviews"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, like string
		call       func(tx *store.Store, now time.Time) error
	}{
		{"session with its count", "AS f_inbox", func(tx *store.Store, now time.Time) error {
			_, _, _, err := tx.SessionWithUser(ctx, w.oliviaS, enrolmentKey, now, true)
			return err
		}},
		{"inbox page", "p.*, t.total, t.matched", func(tx *store.Store, now time.Time) error {
			_, err := tx.InboxPage(ctx, w.olivia.ID, now, pam.InboxFilter{Limit: 25})
			return err
		}},
		{"inbox page with decisions and emergency reviews", "rv.decision AS my_decision", func(tx *store.Store, now time.Time) error {
			_, err := tx.InboxPage(ctx, w.olivia.ID, now, pam.InboxFilter{Limit: 25, Decided: 20, Emergencies: 5})
			return err
		}},
		{"count", "SELECT ((SELECT COUNT(*) FROM (SELECT DISTINCT c.id", func(tx *store.Store, now time.Time) error {
			_, err := tx.InboxCount(ctx, w.olivia.ID, now)
			return err
		}},
	} {
		generic, custom, err := w.db.PreparedPlans(ctx, c.like, func(tx *store.Store) error {
			for i := range 12 {
				if err := c.call(tx, t0.Add(time.Duration(i)*time.Second)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// PostgreSQL plans the first five calls for their values, then compares.
		if generic+custom == 0 || custom > 5 {
			t.Errorf("%s: %d generic and %d custom plans in 12 calls, want a generic plan from the sixth", c.name, generic, custom)
		}
	}

	// On such data the plans the statements run with read only the pending requests through an
	// index (with the visibility map set by vacuuming, the count reads requests_waiting_idx
	// alone), and the page reads whole only the requests it shows, by key.
	plans, err := w.db.GenericPlans(ctx, w.olivia.ID, w.oliviaS, enrolmentKey, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for name, plan := range plans {
		// The waiting indexes (requests_waiting_idx, requests_waiting_scope_idx) hold the pending
		// requests alone.
		if !strings.Contains(plan, "Index Cond: ((status)::text = 'pending'::text)") && !strings.Contains(plan, "using requests_waiting_idx") &&
			!strings.Contains(plan, "using requests_waiting_scope_idx") ||
			strings.Contains(plan, "Seq Scan on requests") ||
			(name == "page" && !strings.Contains(plan, "Index Scan using requests_pkey on requests")) {
			t.Errorf("%s on benchmark-shaped data:\n%s", name, plan)
		}
		// Whether the viewer reviewed a waiting request is a look at that request's reviews, never
		// a read of the viewer's own history through its index. (On a table this small the planner
		// may hash all of reviews instead; on the benchmark's hundred thousand it looks request by
		// request.)
		if regexp.MustCompile(`(using|on) reviews_(reviewer|delegated)_idx`).MatchString(plan) {
			t.Errorf("%s reads the viewer's own reviews:\n%s", name, plan)
		}
	}
}

// Sorted by time left, the inbox reads each group's waiting requests in deadline order from
// requests_waiting_left_idx and stops at the page and its capped count: before that index, each
// group's arm read every waiting request of the group and sorted them.
func TestInboxByTimeLeftReadsInDeadlineOrder(t *testing.T) {
	ctx := context.Background()
	w := newFrameWorld(t, store.Postgres)
	// 2,000 more waiting for the viewer, the newest with the nearest deadline, so the two orders
	// differ.
	if err := w.db.ExecRaw(ctx, `INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name,
			approval_type, approver_group_id, approvals_required, duration_min, justification, ticket, status, created_at,
			pending_until, version)
		SELECT 'more-' || g, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
			approvals_required, duration_min, justification, ticket, status, created_at + g * interval '1 second',
			pending_until - g * interval '1 second', 2
		FROM requests, generate_series(1, 2000) g WHERE id = 'waiting-1'`); err != nil {
		t.Fatal(err)
	}
	// 1,500 waiting for another group, all due before any of the viewer's.
	if err := w.db.ExecRaw(ctx, `INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name,
			approval_type, approver_group_id, approvals_required, duration_min, justification, ticket, status, created_at,
			pending_until, version)
		SELECT 'misc-' || g, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
			approvals_required, duration_min, justification, ticket, status, created_at,
			pending_until - interval '2000 seconds' - g * interval '1 second', 2
		FROM requests, generate_series(1, 1500) g WHERE id = 'other-group'`); err != nil {
		t.Fatal(err)
	}
	if err := w.db.ExecRaw(ctx, "ANALYZE requests"); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	f := pam.InboxFilter{Sort: pam.InboxByTimeLeft, Limit: 25, NoDelegations: true}
	page, err := w.db.InboxPage(ctx, w.olivia.ID, now, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Waiting) != 25 || page.Waiting[0].ID != "more-2000" || page.Waiting[24].ID != "more-1976" {
		t.Fatalf("the first page by time left: %d requests, from %v", len(page.Waiting), page.Waiting)
	}
	plan, err := w.db.InboxPageAnalyzed(ctx, w.olivia.ID, now, f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "requests_waiting_left_idx") {
		t.Errorf("the page does not read requests_waiting_left_idx:\n%s", plan)
	}
	// No read of requests walks the viewer's 2,000 or the other group's 1,500: each arm stops
	// after the capped count.
	if read := mostRequestsRead(plan); read > 2*(store.InboxCountCap+1) {
		t.Errorf("a read of requests went through %d rows:\n%s", read, plan)
	}
}

// A request that reaches a user in two ways (as an approver and by escalation, or as an approver
// and by delegation from a fellow approver) counts once in the navigation's count and the
// inbox's, and is listed once; a user in no group is counted nothing.
func TestInboxCountsARequestOnceWhateverTheWaysItArrives(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		w := newFrameWorld(t, dialect)
		now := t0.Add(time.Minute)
		// Olivia joins Misc, whose request other-group is escalated to her Approvers group, and
		// Sam (of Misc) delegates to her.
		if err := w.db.AddMember(ctx, w.misc.ID, w.olivia.ID, t0); err != nil {
			t.Fatal(err)
		}
		if err := w.db.ExecRaw(ctx, "UPDATE requests SET escalation_group_id = ?, escalated_at = ? WHERE id = 'other-group'", w.approvers.ID, t0); err != nil {
			t.Fatal(err)
		}
		d := pam.Delegation{ID: "d1", PrincipalID: w.sam.ID, DelegateID: w.olivia.ID, StartsAt: t0, EndsAt: t0.Add(time.Hour)}
		if err := w.db.CreateDelegation(ctx, d, w.sam.ID, t0); err != nil {
			t.Fatal(err)
		}
		n, err := w.db.InboxCount(ctx, w.olivia.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		page, err := w.db.InboxPage(ctx, w.olivia.ID, now, pam.InboxFilter{Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		next, err := w.db.InboxPage(ctx, w.olivia.ID, now, pam.InboxFilter{Limit: 2,
			After: pam.CursorAt(page.Waiting[1].CreatedAt, page.Waiting[1].ID)})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range append(page.Waiting, next.Waiting...) {
			ids = append(ids, r.ID)
		}
		if n != 3 || page.Total != 3 || !page.More || next.More || strings.Join(ids, " ") != "other-group waiting-1 waiting-2" {
			t.Fatalf("count %d, total %d, pages %v (more %v, %v)", n, page.Total, ids, page.More, next.More)
		}
		nobody := mustCreateUser(t, w.db, "nobody@example.com")
		if n, err := w.db.InboxCount(ctx, nobody.ID, now); err != nil || n != 0 {
			t.Fatalf("a user in no group: %d %v", n, err)
		}
	})
}

// The session's statement says whether the user may decide for someone by delegation, and the
// inbox leaves the delegated requests' reads out only when told the user may not: the frame
// must say yes for a delegation in force or still to start, and no once it has ended.
func TestSessionFrameSaysWhoDecidesByDelegation(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		w := newFrameWorld(t, dialect)
		delegate := func(at time.Time) bool {
			t.Helper()
			_, _, f, err := w.db.SessionWithUser(ctx, w.oliviaS, enrolmentKey, at, false)
			if err != nil {
				t.Fatal(err)
			}
			return f.Delegate
		}
		if delegate(t0) {
			t.Fatal("a delegate before any delegation")
		}
		// Sam, of Misc, hands his decisions to Olivia from t0+30m to t0+90m.
		d := pam.Delegation{ID: "d1", PrincipalID: w.sam.ID, DelegateID: w.olivia.ID, StartsAt: t0.Add(30 * time.Minute), EndsAt: t0.Add(90 * time.Minute)}
		if err := w.db.CreateDelegation(ctx, d, w.sam.ID, t0); err != nil {
			t.Fatal(err)
		}
		for at, want := range map[time.Duration]bool{0: true, time.Hour: true, 90 * time.Minute: false, 2 * time.Hour: false} {
			if got := delegate(t0.Add(at)); got != want {
				t.Errorf("at t0+%v: delegate %v, want %v", at, got, want)
			}
		}
		in := func(f pam.InboxFilter) bool {
			t.Helper()
			f.Limit = 10
			page, err := w.db.InboxPage(ctx, w.olivia.ID, t0.Add(45*time.Minute), f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Waiting {
				if r.ID == "other-group" {
					return r.OnBehalfOf != ""
				}
			}
			return false
		}
		if !in(pam.InboxFilter{}) || in(pam.InboxFilter{NoDelegations: true}) {
			t.Errorf("Sam's request in Olivia's inbox: %v as a delegate, %v told she is none", in(pam.InboxFilter{}), in(pam.InboxFilter{NoDelegations: true}))
		}
	})
}

// "Escalated to you" is said only to a member of the escalation group who is not an approver of
// the request: a delegate who reaches an escalated request through an approver's delegation is
// asked for that approver, not because it escalated.
func TestInboxSaysEscalatedOnlyToTheEscalationGroup(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		w := newFrameWorld(t, dialect)
		now := t0.Add(time.Minute)
		night := pam.Group{ID: "g-night", Name: "Night"}
		if err := w.db.CreateGroup(ctx, night, t0); err != nil {
			t.Fatal(err)
		}
		// Misc's request escalated to Night; Sam, of Misc, delegates to Olivia, who is not in Night.
		if err := w.db.ExecRaw(ctx, "UPDATE requests SET escalation_group_id = ?, escalated_at = ? WHERE id = 'other-group'", night.ID, t0); err != nil {
			t.Fatal(err)
		}
		d := pam.Delegation{ID: "d1", PrincipalID: w.sam.ID, DelegateID: w.olivia.ID, StartsAt: t0, EndsAt: t0.Add(time.Hour)}
		if err := w.db.CreateDelegation(ctx, d, w.sam.ID, t0); err != nil {
			t.Fatal(err)
		}
		escalated := func() (bool, string) {
			t.Helper()
			page, err := w.db.InboxPage(ctx, w.olivia.ID, now, pam.InboxFilter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Waiting {
				if r.ID == "other-group" {
					return r.Escalated, r.OnBehalfOf
				}
			}
			t.Fatal("Sam's request is not in Olivia's inbox")
			return false, ""
		}
		if got, behalf := escalated(); got || behalf == "" {
			t.Fatalf("as Sam's delegate: escalated to her %v, on behalf of %q", got, behalf)
		}
		if err := w.db.AddMember(ctx, night.ID, w.olivia.ID, t0); err != nil {
			t.Fatal(err)
		}
		if got, _ := escalated(); !got {
			t.Fatal("a member of Night is not told it was escalated to her")
		}
	})
}

// mostRequestsRead returns the most rows any one node of an analyzed plan read from requests:
// the rows it returned and those its filter dropped, over all its loops.
func mostRequestsRead(plan string) int { return mostRead(plan, "requests") }

// mostRead is mostRequestsRead for any table.
func mostRead(plan, table string) int {
	node, filtered := regexp.MustCompile(`on `+table+`\b.*actual rows=(\d+) loops=(\d+)`), regexp.MustCompile(`Rows Removed by Filter: (\d+)`)
	most := 0
	for _, part := range strings.Split(plan, "->") {
		m := node.FindStringSubmatch(part)
		if m == nil {
			continue
		}
		rows, _ := strconv.Atoi(m[1])
		loops, _ := strconv.Atoi(m[2])
		removed := 0
		if f := filtered.FindStringSubmatch(part); f != nil {
			removed, _ = strconv.Atoi(f[1])
		}
		most = max(most, (rows+removed)*loops)
	}
	return most
}

// The sweep reads the requests that are due and no others: with 3,000 requests in force and
// waiting, it finds the timed-out one and an ended grant without walking the table.
func TestSweepReadsOnlyWhatIsDue(t *testing.T) {
	ctx := context.Background()
	w := newFrameWorld(t, store.Postgres)
	for _, q := range []string{
		// 2,000 waiting with time left, 1,000 approved and in force, one approved and ended.
		`INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
			approvals_required, duration_min, justification, ticket, status, created_at, pending_until, version)
		SELECT 'later-' || g, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
			approvals_required, duration_min, justification, ticket, status, created_at - g * interval '1 second', pending_until, 2
		FROM requests, generate_series(1, 2000) g WHERE id = 'waiting-1'`,
		`INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
			approvals_required, duration_min, justification, ticket, status, created_at, pending_until, starts_at, ends_at, version)
		SELECT 'grant-' || g, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
			approvals_required, duration_min, justification, ticket, 'approved', created_at - g * interval '1 second', pending_until,
			created_at, created_at + CASE WHEN g = 1 THEN interval '1 second' ELSE interval '1 day' END, 2
		FROM requests, generate_series(1, 1000) g WHERE id = 'waiting-1'`,
		"ANALYZE requests",
	} {
		if err := w.db.ExecRaw(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Minute)
	ids, err := w.db.DueForSweep(ctx, now, 200)
	if err != nil {
		t.Fatal(err)
	}
	// The longest overdue first: the request that timed out a minute ago, then the grant that
	// ended 59 seconds ago.
	if !slices.Equal(ids, []string{"timed-out", "grant-1"}) {
		t.Fatalf("due for the sweep: %v", ids)
	}
	if ids, err := w.db.DueForSweep(ctx, now, 1); err != nil || !slices.Equal(ids, []string{"timed-out"}) {
		t.Fatalf("a batch of one: %v, %v", ids, err)
	}
	plan, err := w.db.DueForSweepAnalyzed(ctx, now, 200)
	if err != nil {
		t.Fatal(err)
	}
	if read := mostRequestsRead(plan); read > 10 {
		t.Errorf("a read of requests went through %d rows:\n%s", read, plan)
	}
}

// Policies nobody can approve are counted with each approver group's members read once, not
// once per policy: 200 policies of one 300-member group read 300 memberships, not 60,000.
func TestDeadEndsCountEachGroupOnce(t *testing.T) {
	ctx := context.Background()
	w := newFrameWorld(t, store.Postgres)
	for _, q := range []string{
		`INSERT INTO users (id, email, name, created_at, updated_at)
		SELECT 'member-' || g, 'member-' || g || '@example.com', 'Member ' || g, now(), now() FROM generate_series(1, 299) g`,
		`INSERT INTO group_members (group_id, user_id, added_at) SELECT 'g-approvers', 'member-' || g, now() FROM generate_series(1, 299) g`,
		`INSERT INTO tasks (id, key, key_lower, name, created_at, updated_at) SELECT 'task-' || g, 'task/' || g, 'task/' || g, 'Task ' || g, now(), now()
		FROM generate_series(1, 200) g`,
		// 197 policies that 300 people can approve; 3 that need more approvals than that.
		`INSERT INTO policies (id, scope_type, scope_id, approval_type, approver_group_id, approvals_required, default_duration_min,
			max_duration_min, justification_required, ticket_required, mfa_required, pending_timeout_min, remind_after_min,
			escalate_after_min, emergency_allowed, emergency_duration_min, enabled, version, created_at, updated_at)
		SELECT 'policy-' || g, 'task', 'task-' || g, 'manual', 'g-approvers', CASE WHEN g <= 3 THEN 301 ELSE 2 END, default_duration_min,
			max_duration_min, justification_required, ticket_required, mfa_required, pending_timeout_min, remind_after_min,
			escalate_after_min, emergency_allowed, emergency_duration_min, true, 1, now(), now()
		FROM policies, generate_series(1, 200) g WHERE id = 'p1'`,
		"ANALYZE",
	} {
		if err := w.db.ExecRaw(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := w.db.CountDeadEndPolicies(ctx, w.misc.ID); err != nil || n != 3 {
		t.Fatalf("dead ends: %d, %v", n, err)
	}
	plan, err := w.db.DeadEndsAnalyzed(ctx, w.misc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if read := mostRead(plan, "group_members"); read > 2*301 {
		t.Errorf("the count read %d memberships:\n%s", read, plan)
	}
}

// Emergency requests waiting for their after-the-fact review are found without walking those
// already reviewed: an approver's inbox, with 1,000 reviewed emergencies of their group, reads
// only the one still open, and a review takes a request out of every list at once.
func TestEmergencyReviewsReadOnlyTheUnreviewed(t *testing.T) {
	ctx := context.Background()
	w := newFrameWorld(t, store.Postgres)
	for _, q := range []string{
		`INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
			approvals_required, duration_min, justification, ticket, status, created_at, pending_until, version, emergency,
			emergency_reviewed_at)
		SELECT 'glass-' || g, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type, approver_group_id,
			approvals_required, duration_min, justification, ticket, 'approved', created_at + g * interval '1 second', pending_until,
			2, true, CASE WHEN g = 0 THEN NULL ELSE created_at + interval '1 day' END
		FROM requests, generate_series(0, 1000) g WHERE id = 'waiting-1'`,
		"ANALYZE requests",
	} {
		if err := w.db.ExecRaw(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	open, err := w.db.UnreviewedEmergencies(ctx, 10)
	if err != nil || len(open) != 1 || open[0].ID != "glass-0" {
		t.Fatalf("unreviewed emergencies: %d (the first %v), %v", len(open), open[:min(len(open), 1)], err)
	}
	now := t0.Add(time.Minute)
	f := pam.InboxFilter{Limit: 25, Emergencies: 10}
	page, err := w.db.InboxPage(ctx, w.olivia.ID, now, f)
	if err != nil || len(page.Emergencies) != 1 {
		t.Fatalf("the inbox's emergencies: %v, %v", page.Emergencies, err)
	}
	plan, err := w.db.InboxPageAnalyzed(ctx, w.olivia.ID, now, f)
	if err != nil {
		t.Fatal(err)
	}
	if read := mostRequestsRead(plan); read > 20 {
		t.Errorf("a read of requests went through %d rows:\n%s", read, plan)
	}
	if err := w.db.AddEmergencyReview(ctx, "glass-0", pam.EmergencyReview{ReviewerID: w.olivia.ID, Outcome: "confirmed", At: now}); err != nil {
		t.Fatal(err)
	}
	if open, err := w.db.UnreviewedEmergencies(ctx, 10); err != nil || len(open) != 0 {
		t.Fatalf("after the review: %v, %v", open, err)
	}
	if page, err := w.db.InboxPage(ctx, w.olivia.ID, now, f); err != nil || len(page.Emergencies) != 0 {
		t.Fatalf("the inbox after the review: %v, %v", page.Emergencies, err)
	}
}

// On SQLite a page's statements are compiled once per connection and then only run: compiling
// the session's statement cost more than running it. The page's reads run on the readers' one
// connection here, and SQLite's authorizer, asked only while a statement compiles, counts
// what compiles.
func TestSQLiteCompilesAPagesStatementsOnce(t *testing.T) {
	ctx := context.Background()
	w := newFrameWorld(t, store.SQLite)
	compiled, err := w.db.SQLiteCompiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	page := func() {
		t.Helper()
		if _, _, _, err := w.db.SessionWithUser(ctx, w.oliviaS, enrolmentKey, t0, true); err != nil {
			t.Fatal(err)
		}
		if _, err := w.db.InboxPage(ctx, w.olivia.ID, t0, pam.InboxFilter{Limit: 25}); err != nil {
			t.Fatal(err)
		}
	}
	page()
	first := compiled()
	if first == 0 {
		t.Fatal("the authorizer saw no statement compile")
	}
	for range 5 {
		page()
	}
	if again := compiled() - first; again != 0 {
		t.Fatalf("five more pages compiled %d SELECTs again (the first compiled %d)", again, first)
	}
}

// Who decides counts those a request names after its policy let go of them: the members of the
// group a pending request escalated to, and of the group an emergency request waits on for its
// after-the-fact review, each only while that is so.
func TestApproversIncludeGroupsRequestsStillName(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		w := newFrameWorld(t, dialect)
		db := w.db
		approver := func(u pam.User) bool {
			t.Helper()
			ok, err := db.IsApprover(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		// Sam's group approves no policy; Rhea asks under the one policy.
		if approver(w.sam) {
			t.Fatal("a member of a group no one names is an approver")
		}
		rhea, _, err := db.UserByEmail(ctx, "rhea@example.com")
		if err != nil {
			t.Fatal(err)
		}
		escalated := pam.Request{ID: "escalated", RequesterID: rhea.ID, PolicyID: "p1", ScopeType: pam.ScopeTask, ScopeID: "t1",
			ScopeName: "task", ApprovalType: pam.ApprovalManual, ApproverGroupID: w.approvers.ID, EscalationGroupID: w.misc.ID,
			ApprovalsRequired: 1, Duration: time.Hour, Status: pam.StatusPending, CreatedAt: t0, PendingUntil: t0.Add(time.Hour), Version: 1}
		if err := db.CreateRequest(ctx, escalated); err != nil {
			t.Fatal(err)
		}
		if approver(w.sam) {
			t.Fatal("an escalation group counts before the request escalated")
		}
		if err := db.ExecRaw(ctx, "UPDATE requests SET escalated_at = ? WHERE id = ?", t0.Add(time.Minute), "escalated"); err != nil {
			t.Fatal(err)
		}
		if !approver(w.sam) {
			t.Fatal("the group a pending request escalated to does not count")
		}
		if err := db.ExecRaw(ctx, "UPDATE requests SET status = 'denied' WHERE id = ?", "escalated"); err != nil {
			t.Fatal(err)
		}
		if approver(w.sam) {
			t.Fatal("the escalation group of a decided request still counts")
		}

		emergency := escalated
		emergency.ID, emergency.ApproverGroupID, emergency.EscalationGroupID = "emergency", w.misc.ID, ""
		emergency.Emergency, emergency.Status = true, pam.StatusApproved
		if err := db.CreateRequest(ctx, emergency); err != nil {
			t.Fatal(err)
		}
		if !approver(w.sam) {
			t.Fatal("the group an emergency request waits on for its review does not count")
		}
		if err := db.ExecRaw(ctx, "UPDATE requests SET emergency_reviewed_at = ? WHERE id = ?", t0.Add(time.Hour), "emergency"); err != nil {
			t.Fatal(err)
		}
		if approver(w.sam) {
			t.Fatal("the group of a reviewed emergency request still counts")
		}
	})
}
