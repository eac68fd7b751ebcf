package main

import (
	"context"
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

// shellAdmins migrates a fresh database and creates the given administrators from the shell.
func shellAdmins(t *testing.T, dialect string, emails ...string) (map[string]string, *store.Store) {
	t.Helper()
	env := map[string]string{"ELEVATE_DATABASE_URL": testenv.DatabaseURL(t, dialect)}
	if code, out, stderr := runCmd(t, env, "", "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s %s", code, out, stderr)
	}
	for _, email := range emails {
		if code, out, stderr := runCmd(t, env, "a long enough password\n", "user", "create", "--email", email, "--name", email, "--admin"); code != 0 {
			t.Fatalf("create %s: %d %s %s", email, code, out, stderr)
		}
	}
	db, err := store.Open(env["ELEVATE_DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetSealWait(10 * time.Second) // tests read the trail right after their changes
	return env, db
}

// The shell and /admin/users share one user lifecycle: the shell cannot disable the last
// administrator either, and records the same action as the page.
func TestShellKeepsTheLastAdmin(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		env, db := shellAdmins(t, dialect, "root@example.com")
		code, _, stderr := runCmd(t, env, "", "user", "disable", "--email", "root@example.com")
		if code != 1 || !strings.Contains(stderr, "last enabled administrator") {
			t.Fatalf("disable the last admin: exit %d: %s", code, stderr)
		}
		runCmd(t, env, "a long enough password\n", "user", "create", "--email", "two@example.com", "--name", "Two", "--admin")
		if code, out, stderr := runCmd(t, env, "", "user", "disable", "--email", "root@example.com"); code != 0 {
			t.Fatalf("disable with another admin left: %d %s %s", code, out, stderr)
		}
		evs, err := db.AuditEvents(context.Background(), audit.Filter{Action: audit.UserDisabled.String()})
		if err != nil || len(evs) != 1 || evs[0].Action != audit.UserDisabled.String() || evs[0].ActorName != "cli" {
			t.Fatalf("disable event: %+v %v", evs, err)
		}
		if code, _, stderr := runCmd(t, env, "", "user", "disable", "--email", "root@example.com"); code != 1 || !strings.Contains(stderr, "already disabled") {
			t.Fatalf("disable twice: %d %s", code, stderr)
		}
	})
}

// Two administrators disabled at the same moment, one from the shell and one from the page,
// leave exactly one of them in charge.
func TestShellAndPageCannotDisableBothLastAdmins(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		for round := range 3 {
			env, db := shellAdmins(t, dialect, "ann@example.com", "ben@example.com")
			ctx := context.Background()
			ann, _, err := db.UserByEmail(ctx, "ann@example.com")
			if err != nil {
				t.Fatal(err)
			}
			ben, _, err := db.UserByEmail(ctx, "ben@example.com")
			if err != nil {
				t.Fatal(err)
			}
			page := admin.New(db, func() time.Time { return time.Now().UTC() })
			annOnThePage := audit.Actor{Type: audit.ActorUser, ID: string(ann.ID), Name: ann.Email}

			var wg sync.WaitGroup
			var pageErr error
			var shellCode int
			var shellErr string
			start := make(chan struct{})
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				_, pageErr = page.ChangeUser(ctx, annOnThePage, ben.ID, admin.Disable)
			}()
			go func() {
				defer wg.Done()
				<-start
				shellCode, _, shellErr = runCmd(t, env, "", "user", "disable", "--email", "ann@example.com")
			}()
			close(start)
			wg.Wait()

			admins, err := db.LockActiveAdmins(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(admins) != 1 {
				t.Fatalf("round %d: %d admins left (page: %v; shell: exit %d %s)", round, len(admins), pageErr, shellCode, shellErr)
			}
			pageWon := pageErr == nil
			shellWon := shellCode == 0
			if pageWon == shellWon {
				t.Fatalf("round %d: page %v, shell exit %d %s: want exactly one to win", round, pageErr, shellCode, shellErr)
			}
			if !pageWon && pam.ErrorCode(pageErr) != pam.ECONFLICT {
				t.Fatalf("round %d: page refused with %v, want a conflict", round, pageErr)
			}
			if !shellWon && !strings.Contains(shellErr, "last enabled administrator") {
				t.Fatalf("round %d: shell refused with exit %d %s", round, shellCode, shellErr)
			}
		}
	})
}
