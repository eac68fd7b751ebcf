package store_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// separateFacts reads what CheckFacts returns with the separate lookups a check used to make.
func separateFacts(t *testing.T, db *store.Store, tokenHash, userRef, taskKey string, now time.Time) store.CheckFacts {
	t.Helper()
	ctx := context.Background()
	org, err := db.OrgSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := store.CheckFacts{Enforcement: org.Enforcement, ExemptGroupID: org.ExemptGroupID}
	switch tok, err := db.CheckTokenByHash(ctx, tokenHash); {
	case pam.ErrorCode(err) == pam.ENOTFOUND:
	case err != nil:
		t.Fatal(err)
	default:
		f.Token = tok
	}
	var u pam.User
	if strings.Contains(userRef, "@") {
		u, _, err = db.UserByEmail(ctx, strings.ToLower(userRef))
	} else {
		u, err = db.UserByID(ctx, pam.UserID(userRef))
	}
	switch {
	case pam.ErrorCode(err) == pam.ENOTFOUND:
	case err != nil:
		t.Fatal(err)
	default:
		f.UserID, f.UserDisabled = u.ID, !u.Active()
		if f.Exempt, err = db.IsActiveMember(ctx, org.ExemptGroupID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	task, err := db.TaskByKey(ctx, taskKey)
	switch {
	case pam.ErrorCode(err) == pam.ENOTFOUND:
	case err != nil:
		t.Fatal(err)
	default:
		f.TaskID = task.ID
	}
	if f.UserID != "" && f.TaskID != "" {
		g, ok, err := db.GrantFor(ctx, f.UserID, f.TaskID, now)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			f.GrantID, f.GrantEndsAt = g.ID, g.EndsAt
		}
	}
	return f
}

// TestCheckFactsMatchSeparateQueries: the one statement of a check reads exactly what the
// separate look-ups of the token, settings, user, exempt membership, task and grant read, for
// every combination of settings, times, users, tasks and tokens, on both databases.
func TestCheckFactsMatchSeparateQueries(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		alice := mustCreateUser(t, db, "alice@example.com")
		bob := mustCreateUser(t, db, "bob@example.com")
		carol := mustCreateUser(t, db, "carol@example.com")
		dan := mustCreateUser(t, db, "dan@example.com")
		must(db.DisableUser(ctx, bob.ID, now.Add(-time.Hour)))

		must(db.CreateGroup(ctx, pam.Group{ID: "g-exempt", Name: "Break glass"}, now))
		must(db.AddMember(ctx, "g-exempt", bob.ID, now))
		must(db.AddMember(ctx, "g-exempt", carol.ID, now))

		task := func(id, key string) {
			must(db.CreateTask(ctx, pam.Task{ID: id, Key: key, Name: key}, now))
		}
		task("t-role", "exchange/Set-Mailbox")
		task("t-group", "exchange/Search-Mailbox")
		task("t-task", "ad/Reset-Password")
		task("t-future", "ad/Unlock-Account")
		task("t-none", "ad/Get-User")
		task("t-ext", "ad/Move-User")
		must(db.CreateRole(ctx, pam.Role{ID: "r-mail", Name: "Mailbox admin"}, now))
		must(db.AddRoleTask(ctx, "r-mail", "t-role"))
		must(db.CreateRole(ctx, pam.Role{ID: "r-search", Name: "Mailbox search"}, now))
		must(db.AddRoleTask(ctx, "r-search", "t-group"))
		must(db.CreateRoleGroup(ctx, pam.RoleGroup{ID: "rg-ex", Name: "Exchange"}, now))
		must(db.AddRoleGroupRole(ctx, "rg-ex", "r-search"))

		grant := func(id string, user pam.User, st pam.ScopeType, scope string, status pam.Status, from, to time.Duration, extends string, decided time.Duration) {
			starts, ends, dec := now.Add(from), now.Add(to), now.Add(decided)
			must(db.CreateRequest(ctx, pam.Request{ID: id, RequesterID: user.ID, PolicyID: "p", ScopeType: st, ScopeID: scope,
				ScopeName: scope, ApprovalType: "auto", Duration: to - from, Status: status, CreatedAt: now.Add(from),
				PendingUntil: now.Add(from), StartsAt: &starts, EndsAt: &ends, DecidedAt: &dec, ExtendsID: extends}))
		}
		grant("q-role-short", alice, pam.ScopeRole, "r-mail", pam.StatusApproved, -time.Hour, 30*time.Minute, "", -time.Hour)
		grant("q-role", alice, pam.ScopeRole, "r-mail", pam.StatusApproved, 0, time.Hour, "", 0) // starts exactly now
		grant("q-group", alice, pam.ScopeRoleGroup, "rg-ex", pam.StatusApproved, -time.Minute, 2*time.Hour, "", -time.Minute)
		grant("q-expired", alice, pam.ScopeTask, "t-task", pam.StatusApproved, -2*time.Hour, -time.Hour, "", -2*time.Hour)
		grant("q-ends-now", alice, pam.ScopeTask, "t-task", pam.StatusApproved, -time.Hour, 0, "", -time.Hour)
		grant("q-revoked", alice, pam.ScopeTask, "t-task", pam.StatusRevoked, -time.Hour, time.Hour, "", -time.Hour)
		grant("q-pending", alice, pam.ScopeTask, "t-task", pam.StatusPending, -time.Hour, time.Hour, "", -time.Hour)
		grant("q-future", alice, pam.ScopeTask, "t-future", pam.StatusApproved, time.Hour, 2*time.Hour, "", 0)
		grant("q-bob", bob, pam.ScopeTask, "t-task", pam.StatusApproved, -time.Hour, time.Hour, "", -time.Hour)
		grant("q-carol", carol, pam.ScopeRole, "r-mail", pam.StatusApproved, -time.Hour, time.Hour, "", -time.Hour)
		// Extensions: one whose base ran up to its start (it counts), one whose base was revoked
		// (it does not), one whose base had run out before it was approved (it counts).
		grant("q-base", alice, pam.ScopeTask, "t-ext", pam.StatusApproved, -2*time.Hour, -30*time.Minute, "", -2*time.Hour)
		grant("q-ext", alice, pam.ScopeTask, "t-ext", pam.StatusApproved, -30*time.Minute, time.Hour, "q-base", -time.Hour)
		grant("d-base", dan, pam.ScopeTask, "t-ext", pam.StatusRevoked, -2*time.Hour, -30*time.Minute, "", -2*time.Hour)
		grant("d-ext", dan, pam.ScopeTask, "t-ext", pam.StatusApproved, -30*time.Minute, time.Hour, "d-base", -time.Hour)
		grant("c-base", carol, pam.ScopeTask, "t-ext", pam.StatusExpired, -3*time.Hour, -2*time.Hour, "", -3*time.Hour)
		grant("c-ext", carol, pam.ScopeTask, "t-ext", pam.StatusApproved, -time.Hour, time.Hour, "c-base", -time.Hour)

		live := pam.CheckToken{ID: "k-live", Name: "runspace", CreatedBy: "root@example.com", CreatedAt: now.Add(-time.Hour)}
		must(db.CreateCheckToken(ctx, live, "hash-live"))
		must(db.CreateCheckToken(ctx, pam.CheckToken{ID: "k-gone", Name: "old", CreatedAt: now.Add(-time.Hour)}, "hash-gone"))
		if _, err := db.RevokeCheckToken(ctx, "k-gone", "root@example.com", now); err != nil {
			t.Fatal(err)
		}

		users := []string{"alice@example.com", "ALICE@Example.COM", string(alice.ID), "bob@example.com", string(bob.ID),
			"carol@example.com", "dan@example.com", "nobody@example.com", "nobody", ""}
		tasks := []string{"exchange/Set-Mailbox", "EXCHANGE/set-mailbox", "exchange/Search-Mailbox", "ad/Reset-Password",
			"ad/Unlock-Account", "ad/Get-User", "ad/Move-User", "missing/Task", ""}
		hashes := []string{"hash-live", "hash-gone", "hash-unknown", ""}
		settings := []pam.OrgSettings{
			{Enforcement: true, ExemptGroupID: "g-exempt", MaxDuration: 24 * time.Hour},
			{Enforcement: true, MaxDuration: 24 * time.Hour},
			{Enforcement: false, ExemptGroupID: "g-exempt", MaxDuration: 24 * time.Hour},
		}
		seen := map[string]bool{}
		tokens := map[string]bool{}
		for _, o := range settings {
			must(db.SaveOrgSettings(ctx, o, now))
			for _, at := range []time.Time{now, now.Add(90 * time.Minute), now.Add(3 * time.Hour)} {
				for i, ur := range users {
					for j, tk := range tasks {
						h := hashes[(i+j)%len(hashes)]
						got, err := db.CheckFacts(ctx, h, ur, tk, at)
						if err != nil {
							t.Fatalf("CheckFacts(%q, %q): %v", ur, tk, err)
						}
						want := separateFacts(t, db, h, ur, tk, at)
						if got.GrantEndsAt != nil && want.GrantEndsAt != nil && got.GrantEndsAt.Equal(*want.GrantEndsAt) {
							got.GrantEndsAt = want.GrantEndsAt
						}
						if !got.Token.CreatedAt.IsZero() && got.Token.CreatedAt.Equal(want.Token.CreatedAt) {
							got.Token.CreatedAt = want.Token.CreatedAt
						}
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("CheckFacts(%q, %q, %q) at %s with %+v:\n got %+v\nwant %+v", h, ur, tk, at, o, got, want)
						}
						seen[got.GrantID] = true
						tokens[got.Token.ID] = true
					}
				}
			}
		}
		// The cases above are not vacuous: the best grants were found and the others never were.
		for _, id := range []string{"q-role", "q-group", "q-bob", "q-carol", "q-ext", "c-ext", "q-future", ""} {
			if !seen[id] {
				t.Errorf("grant %q never chosen", id)
			}
		}
		for _, id := range []string{"q-role-short", "q-expired", "q-ends-now", "q-revoked", "q-pending", "d-ext", "q-base", "d-base"} {
			if seen[id] {
				t.Errorf("grant %q was chosen", id)
			}
		}
		if !tokens["k-live"] || tokens["k-gone"] || !tokens[""] {
			t.Errorf("tokens read: %v; want the live one, never the revoked one", tokens)
		}
		must(db.SaveOrgSettings(ctx, settings[0], now))
		f, err := db.CheckFacts(ctx, "hash-live", "Carol@example.com", "exchange/set-mailbox", now)
		if err != nil || !f.Exempt || f.UserDisabled || f.GrantID != "q-carol" || f.TaskID != "t-role" || f.Token.ID != "k-live" || f.Token.Name != "runspace" {
			t.Fatalf("exempt user: %+v %v", f, err)
		}
		f, err = db.CheckFacts(ctx, "hash-live", "bob@example.com", "ad/Reset-Password", now)
		if err != nil || f.Exempt || !f.UserDisabled || f.GrantID != "q-bob" {
			t.Fatalf("disabled user: %+v %v", f, err)
		}
		f, err = db.CheckFacts(ctx, "hash-live", "alice@example.com", "ad/Unlock-Account", now)
		if err != nil || f.GrantID != "" || f.GrantEndsAt != nil {
			t.Fatalf("scheduled grant before it starts: %+v %v", f, err)
		}
		f, err = db.CheckFacts(ctx, "hash-live", "alice@example.com", "ad/Unlock-Account", now.Add(90*time.Minute))
		if err != nil || f.GrantID != "q-future" || !f.GrantEndsAt.Equal(now.Add(2*time.Hour)) {
			t.Fatalf("scheduled grant once started: %+v %v", f, err)
		}

		// Without the settings row, or without the database, there are no facts: the check denies.
		must(db.ExecRaw(ctx, "DELETE FROM org_settings"))
		if _, err := db.CheckFacts(ctx, "hash-live", "alice@example.com", "exchange/Set-Mailbox", now); err == nil {
			t.Fatal("no settings row: want an error")
		}
		must(db.Close())
		if _, err := db.CheckFacts(ctx, "hash-live", "alice@example.com", "exchange/Set-Mailbox", now); err == nil {
			t.Fatal("closed database: want an error")
		}
	})
}

// TestCheckFactsPlanReadsTheUsersOwnGrants: the check's one statement reads the grant from the
// user's own grants on requests_grant_idx and every other row by a unique key, in the generic
// plan PostgreSQL caches for it, on a fresh small database and after a bulk load of in-force
// grants of other people (before and after ANALYZE); SQLite reads the same way.
func TestCheckFactsPlanReadsTheUsersOwnGrants(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		alice := mustCreateUser(t, db, "alice@example.com")
		bob := mustCreateUser(t, db, "bob@example.com")
		if err := db.CreateTask(ctx, pam.Task{ID: "t1", Key: "ad/Reset-Password", Name: "Reset"}, now); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateCheckToken(ctx, pam.CheckToken{ID: "k1", Name: "runspace", CreatedAt: now}, "hash-1"); err != nil {
			t.Fatal(err)
		}
		starts, ends := now.Add(-time.Hour), now.Add(time.Hour)
		if err := db.CreateRequest(ctx, pam.Request{ID: "g1", RequesterID: alice.ID, PolicyID: "p", ScopeType: pam.ScopeTask, ScopeID: "t1",
			ScopeName: "t1", ApprovalType: "auto", Duration: 2 * time.Hour, Status: pam.StatusApproved, CreatedAt: starts,
			PendingUntil: starts, StartsAt: &starts, EndsAt: &ends, DecidedAt: &starts}); err != nil {
			t.Fatal(err)
		}
		check := func(when string) {
			t.Helper()
			plan, err := db.CheckFactsPlan(ctx, "hash-1", "alice@example.com", "ad/reset-password", now)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string][]string{
				store.Postgres: {"Index Scan Backward using requests_grant_idx on requests r", "actual rows=1"},
				store.SQLite:   {"SEARCH r USING INDEX requests_grant_idx (requester_id=? AND status=? AND ends_at>?)"},
			}[dialect]
			for _, w := range want {
				if !strings.Contains(plan, w) {
					t.Fatalf("%s: the plan does not read the user's own grants (%q):\n%s", when, w, plan)
				}
			}
			for _, bad := range []string{"Seq Scan on requests", "requests_ends_idx", "Sort", "SCAN r", "TEMP B-TREE"} {
				if strings.Contains(plan, bad) {
					t.Fatalf("%s: the plan has %q:\n%s", when, bad, plan)
				}
			}
		}
		check("fresh database")
		// Thousands of in-force grants of someone else, loaded at once, before statistics.
		if dialect == store.Postgres {
			if err := db.ExecRaw(ctx, `INSERT INTO requests (id, requester_id, policy_id, scope_type, scope_id, scope_name, approval_type,
					approvals_required, duration_min, status, created_at, pending_until, decided_at, starts_at, ends_at, version)
				SELECT 'bulk-' || g, ?, 'p', 'task', 't1', 't1', 'auto', 1, 120, 'approved', ?, ?, ?, ?, ?::timestamptz + g * interval '1 second', 1
				FROM generate_series(1, 20000) g`, string(bob.ID), starts, starts, starts, starts, ends); err != nil {
				t.Fatal(err)
			}
			check("after a bulk load")
			if err := db.ExecRaw(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
			check("after ANALYZE")
		}
	})
}
