package store_test

import (
	"context"
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
