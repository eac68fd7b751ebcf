package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// The upgrade to check tokens, on data the previous version wrote: an administrator's check
// token keeps working (moved, same secret); a check token of anyone else, or of a disabled
// administrator, is revoked; API tokens are untouched; each change is an audit event.
func TestCheckTokenMigrationOnOldData(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migratedTo(t, dialect, "0009_audit_text")
		now := time.Now().UTC()
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{"INSERT INTO users (id, email, name, admin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)", []any{"u-admin", "root@example.com", "Root", true, now, now}},
			{"INSERT INTO users (id, email, name, admin, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)", []any{"u-ana", "ana@example.com", "Ana", false, now, now}},
			{"INSERT INTO users (id, email, name, admin, disabled_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)", []any{"u-gone", "gone@example.com", "Gone", true, now, now, now}},
			{"INSERT INTO api_tokens (id, user_id, name, scope, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)", []any{"t-admin", "u-admin", "runspace", "check", "hash-admin", now}},
			{"INSERT INTO api_tokens (id, user_id, name, scope, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)", []any{"t-ana", "u-ana", "probe", "check", "hash-ana", now}},
			{"INSERT INTO api_tokens (id, user_id, name, scope, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)", []any{"t-gone", "u-gone", "old", "check", "hash-gone", now}},
			{"INSERT INTO api_tokens (id, user_id, name, scope, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)", []any{"t-api", "u-ana", "scripts", "api", "hash-api", now}},
		} {
			if err := db.ExecRaw(ctx, q.sql, q.args...); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		moved, err := db.CheckTokenByHash(ctx, "hash-admin")
		if err != nil || moved.ID != "t-admin" || moved.Name != "runspace" || moved.CreatedBy != "root@example.com" {
			t.Fatalf("admin's check token: %+v %v", moved, err)
		}
		for _, h := range []string{"hash-ana", "hash-gone"} {
			if _, err := db.CheckTokenByHash(ctx, h); pam.ErrorCode(err) != pam.ENOTFOUND {
				t.Errorf("check token %s still works: %v", h, err)
			}
			if _, err := db.APITokenByHash(ctx, h); pam.ErrorCode(err) != pam.ENOTFOUND {
				t.Errorf("old row %s still live: %v", h, err)
			}
		}
		if tok, err := db.APITokenByHash(ctx, "hash-api"); err != nil || tok.Scope != "api" {
			t.Fatalf("API token: %+v %v", tok, err)
		}
		revoked, _ := db.AuditEvents(ctx, store.AuditFilter{Action: "check_token.revoked", Limit: 10})
		movedEv, _ := db.AuditEvents(ctx, store.AuditFilter{Action: "check_token.moved", Limit: 10})
		if len(revoked) != 2 || len(movedEv) != 1 || movedEv[0].TargetID != "t-admin" {
			t.Fatalf("events: %d revoked, %d moved", len(revoked), len(movedEv))
		}
		if _, _, err := db.VerifyAudit(ctx, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// No two check tokens in use share a name: a second one is refused beside the name field, a
// revoked token's name may be used again, and of two made at once with one name exactly one is
// kept, the other refused the same way (the unique index decides, not a read first).
func TestCheckTokenNamesAreUniqueInUse(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		now := time.Now().UTC()
		create := func(id, name string) error {
			return db.Tx(ctx, func(tx *store.Store) error {
				return tx.CreateCheckToken(ctx, pam.CheckToken{ID: id, Name: name, CreatedAt: now}, "hash-"+id)
			})
		}
		if err := create("k1", "runspace"); err != nil {
			t.Fatal(err)
		}
		err := create("k2", "runspace")
		var pe *pam.Error
		if !errors.As(err, &pe) || pe.Code != pam.ECONFLICT || pe.Field != "name" {
			t.Fatalf("second runspace: %v", err)
		}
		if _, err := db.RevokeCheckToken(ctx, "k1", "root", now); err != nil {
			t.Fatal(err)
		}
		if err := create("k3", "runspace"); err != nil {
			t.Fatalf("name of a revoked token: %v", err)
		}

		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = create(fmt.Sprintf("race-%d", i), "exchange")
			}()
		}
		wg.Wait()
		ok, refused := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.As(err, &pe) && pe.Code == pam.ECONFLICT && pe.Field == "name":
				refused++
			default:
				t.Errorf("racing create: %v", err)
			}
		}
		if ok != 1 || refused != 1 {
			t.Fatalf("racing creates: %d made, %d refused", ok, refused)
		}
	})
}

// Migration 0029, on tokens in use that already share a name: the oldest keeps it, the others
// get the start of their id after it, a revoked token keeps its name, and every token still works.
func TestCheckTokenNamesMigrationOnOldData(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := migratedTo(t, dialect, "0028_audit_seal_lag")
		now := time.Now().UTC()
		for _, k := range []struct {
			id      string
			at      time.Time
			revoked bool
		}{{"aaaaaaaa-1", now.Add(-time.Hour), false}, {"bbbbbbbb-2", now, false}, {"cccccccc-3", now, false}, {"dddddddd-4", now, true}} {
			var revoked any
			if k.revoked {
				revoked = now
			}
			if err := db.ExecRaw(ctx, "INSERT INTO check_tokens (id, name, token_hash, created_at, revoked_at) VALUES (?, 'runspace', ?, ?, ?)",
				k.id, "hash-"+k.id, k.at, revoked); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]string{"aaaaaaaa-1": "runspace", "bbbbbbbb-2": "runspace (bbbbbbbb)", "cccccccc-3": "runspace (cccccccc)"} {
			tok, err := db.CheckTokenByHash(ctx, "hash-"+id)
			if err != nil || tok.Name != want {
				t.Errorf("%s: %+v %v, want %q", id, tok, err, want)
			}
		}
		toks, err := db.CheckTokens(ctx, 10)
		if err != nil || len(toks) != 4 || toks[3].ID != "dddddddd-4" || toks[3].Name != "runspace" {
			t.Fatalf("tokens after the upgrade: %+v %v", toks, err)
		}
	})
}
