package admin_test

import (
	"testing"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Each change is recorded under its action; a change that changes nothing is a conflict, not
// a second event.
func TestUserChangesAndTheirActions(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		svc, db, ctx := setup(t, dialect)
		root := mustUser(t, svc, "root@example.com", true)
		u := mustUser(t, svc, "u@example.com", false)
		for _, step := range []struct {
			change admin.UserChange
			action audit.Action
			code   string
		}{
			{admin.MakeAdmin, audit.UserAdminGranted, ""},
			{admin.MakeAdmin, audit.Action{}, pam.ECONFLICT},
			{admin.RemoveAdmin, audit.UserAdminRevoked, ""},
			{admin.RemoveAdmin, audit.Action{}, pam.ECONFLICT},
			{admin.MakeAuditor, audit.UserAuditorGranted, ""},
			{admin.MakeAuditor, audit.Action{}, pam.ECONFLICT},
			{admin.RemoveAuditor, audit.UserAuditorRevoked, ""},
			{admin.RemoveAuditor, audit.Action{}, pam.ECONFLICT},
			{admin.Disable, audit.UserDisabled, ""},
			{admin.Disable, audit.Action{}, pam.ECONFLICT},
			{admin.Enable, audit.UserEnabled, ""},
			{admin.Enable, audit.Action{}, pam.ECONFLICT},
		} {
			_, err := svc.ChangeUserByEmail(ctx, as(root), " U@example.com ", step.change)
			if pam.ErrorCode(err) != step.code && !(step.code == "" && err == nil) {
				t.Fatalf("%s: %v, want %q", step.change, err, step.code)
			}
			if step.code != "" {
				continue
			}
			evs, err := db.AuditEvents(ctx, audit.Filter{TargetID: string(u.ID), Limit: 1})
			if err != nil || len(evs) != 1 || evs[0].Action != step.action.String() {
				t.Fatalf("%s: newest event %+v %v, want %s", step.change, evs, err, step.action)
			}
		}
		if _, err := svc.ChangeUserByEmail(ctx, as(root), "nobody@example.com", admin.Disable); pam.ErrorCode(err) != pam.ENOTFOUND {
			t.Fatalf("unknown user: %v", err)
		}
		if _, err := svc.ChangeUserByEmail(ctx, as(root), "not an address", admin.Disable); pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("bad address: %v", err)
		}
	})
}

// The shell creates users with a password they sign in with at once; the page makes a link.
func TestCreateUserWithPassword(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		svc, db, ctx := setup(t, dialect)
		if _, err := svc.CreateUserWithPassword(ctx, audit.System, "p@example.com", "P", "short", false); pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("short password: %v", err)
		}
		u, err := svc.CreateUserWithPassword(ctx, audit.System, "P@example.com", "Pat", "a long enough password", true)
		if err != nil || !u.Admin || u.Email != "p@example.com" {
			t.Fatalf("create: %+v %v", u, err)
		}
		_, hash, err := db.UserByEmail(ctx, "p@example.com")
		if ok, cerr := auth.CheckPassword(hash, "a long enough password"); err != nil || cerr != nil || !ok {
			t.Fatalf("password not set: %v %v", err, cerr)
		}
		if _, err := svc.CreateUserWithPassword(ctx, audit.System, "p@example.com", "Pat", "a long enough password", false); pam.ErrorCode(err) != pam.EINVALID {
			t.Fatalf("duplicate: %v", err)
		}
		evs, _ := db.AuditEvents(ctx, audit.Filter{Action: audit.UserCreated.String()})
		if len(evs) != 1 {
			t.Fatalf("%d user.created events, want 1", len(evs))
		}
	})
}
