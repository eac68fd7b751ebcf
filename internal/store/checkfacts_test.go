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
func separateFacts(t *testing.T, db *store.Store, userRef, taskKey string, now time.Time) store.CheckFacts {
	t.Helper()
	ctx := context.Background()
	org, err := db.OrgSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f := store.CheckFacts{Enforcement: org.Enforcement, ExemptGroupID: org.ExemptGroupID}
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
		must(db.CreateRole(ctx, pam.Role{ID: "r-mail", Name: "Mailbox admin"}, now))
		must(db.AddRoleTask(ctx, "r-mail", "t-role"))
		must(db.CreateRole(ctx, pam.Role{ID: "r-search", Name: "Mailbox search"}, now))
		must(db.AddRoleTask(ctx, "r-search", "t-group"))
		must(db.CreateRoleGroup(ctx, pam.RoleGroup{ID: "rg-ex", Name: "Exchange"}, now))
		must(db.AddRoleGroupRole(ctx, "rg-ex", "r-search"))

		grant := func(id string, user pam.User, st pam.ScopeType, scope string, status pam.Status, from, to time.Duration) {
			starts, ends := now.Add(from), now.Add(to)
			must(db.CreateRequest(ctx, pam.Request{ID: id, RequesterID: user.ID, PolicyID: "p", ScopeType: st, ScopeID: scope,
				ScopeName: scope, ApprovalType: "auto", Duration: to - from, Status: status, CreatedAt: now.Add(from),
				PendingUntil: now.Add(from), StartsAt: &starts, EndsAt: &ends}))
		}
		grant("q-role-short", alice, pam.ScopeRole, "r-mail", pam.StatusApproved, -time.Hour, 30*time.Minute)
		grant("q-role", alice, pam.ScopeRole, "r-mail", pam.StatusApproved, 0, time.Hour) // starts exactly now
		grant("q-group", alice, pam.ScopeRoleGroup, "rg-ex", pam.StatusApproved, -time.Minute, 2*time.Hour)
		grant("q-expired", alice, pam.ScopeTask, "t-task", pam.StatusApproved, -2*time.Hour, -time.Hour)
		grant("q-ends-now", alice, pam.ScopeTask, "t-task", pam.StatusApproved, -time.Hour, 0)
		grant("q-revoked", alice, pam.ScopeTask, "t-task", pam.StatusRevoked, -time.Hour, time.Hour)
		grant("q-pending", alice, pam.ScopeTask, "t-task", pam.StatusPending, -time.Hour, time.Hour)
		grant("q-future", alice, pam.ScopeTask, "t-future", pam.StatusApproved, time.Hour, 2*time.Hour)
		grant("q-bob", bob, pam.ScopeTask, "t-task", pam.StatusApproved, -time.Hour, time.Hour)
		grant("q-carol", carol, pam.ScopeRole, "r-mail", pam.StatusApproved, -time.Hour, time.Hour)

		users := []string{"alice@example.com", "ALICE@Example.COM", string(alice.ID), "bob@example.com", string(bob.ID),
			"carol@example.com", "nobody@example.com", "nobody", ""}
		tasks := []string{"exchange/Set-Mailbox", "EXCHANGE/set-mailbox", "exchange/Search-Mailbox", "ad/Reset-Password",
			"ad/Unlock-Account", "ad/Get-User", "missing/Task", ""}
		settings := []pam.OrgSettings{
			{Enforcement: true, ExemptGroupID: "g-exempt", MaxDuration: 24 * time.Hour},
			{Enforcement: true, MaxDuration: 24 * time.Hour},
			{Enforcement: false, ExemptGroupID: "g-exempt", MaxDuration: 24 * time.Hour},
		}
		seen := map[string]bool{}
		for _, o := range settings {
			must(db.SaveOrgSettings(ctx, o, now))
			for _, at := range []time.Time{now, now.Add(90 * time.Minute), now.Add(3 * time.Hour)} {
				for _, ur := range users {
					for _, tk := range tasks {
						got, err := db.CheckFacts(ctx, ur, tk, at)
						if err != nil {
							t.Fatalf("CheckFacts(%q, %q): %v", ur, tk, err)
						}
						want := separateFacts(t, db, ur, tk, at)
						if !reflect.DeepEqual(got, want) {
							t.Fatalf("CheckFacts(%q, %q) at %s with %+v:\n got %+v\nwant %+v", ur, tk, at, o, got, want)
						}
						if got.GrantEndsAt != nil && !got.GrantEndsAt.Equal(*want.GrantEndsAt) {
							t.Fatalf("grant end %s, want %s", got.GrantEndsAt, want.GrantEndsAt)
						}
						seen[got.GrantID] = true
					}
				}
			}
		}
		// The cases above are not vacuous: the best grants were found and the others never were.
		for _, id := range []string{"q-role", "q-group", "q-bob", "q-carol", ""} {
			if !seen[id] {
				t.Errorf("grant %q never chosen", id)
			}
		}
		for _, id := range []string{"q-role-short", "q-expired", "q-ends-now", "q-revoked", "q-pending"} {
			if seen[id] {
				t.Errorf("grant %q was chosen", id)
			}
		}
		must(db.SaveOrgSettings(ctx, settings[0], now))
		f, err := db.CheckFacts(ctx, "Carol@example.com", "exchange/set-mailbox", now)
		if err != nil || !f.Exempt || f.UserDisabled || f.GrantID != "q-carol" || f.TaskID != "t-role" {
			t.Fatalf("exempt user: %+v %v", f, err)
		}
		f, err = db.CheckFacts(ctx, "bob@example.com", "ad/Reset-Password", now)
		if err != nil || f.Exempt || !f.UserDisabled || f.GrantID != "q-bob" {
			t.Fatalf("disabled user: %+v %v", f, err)
		}
		f, err = db.CheckFacts(ctx, "alice@example.com", "ad/Unlock-Account", now)
		if err != nil || f.GrantID != "" || f.GrantEndsAt != nil {
			t.Fatalf("scheduled grant before it starts: %+v %v", f, err)
		}
		f, err = db.CheckFacts(ctx, "alice@example.com", "ad/Unlock-Account", now.Add(90*time.Minute))
		if err != nil || f.GrantID != "q-future" || !f.GrantEndsAt.Equal(now.Add(2*time.Hour)) {
			t.Fatalf("scheduled grant once started: %+v %v", f, err)
		}

		// Without the settings row, or without the database, there are no facts: the check denies.
		must(db.ExecRaw(ctx, "DELETE FROM org_settings"))
		if _, err := db.CheckFacts(ctx, "alice@example.com", "exchange/Set-Mailbox", now); err == nil {
			t.Fatal("no settings row: want an error")
		}
		must(db.Close())
		if _, err := db.CheckFacts(ctx, "alice@example.com", "exchange/Set-Mailbox", now); err == nil {
			t.Fatal("closed database: want an error")
		}
	})
}
