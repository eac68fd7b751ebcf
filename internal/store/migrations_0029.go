package store

import "gorm.io/gorm"

// m0029 lets no two check tokens in use share a name, so an administrator can tell which row to
// revoke; a revoked token's name may be used again. Tokens in use that already share a name keep
// the oldest one's name unchanged and the others get the start of their id after it, as in
// "runspace (3f9c2a1b)": nothing stops working, and the rows can be told apart.
func m0029(tx *gorm.DB, dialect string) error {
	return execAll(tx, dialect, []string{
		`UPDATE check_tokens SET name = SUBSTR(name, 1, 89) || ' (' || SUBSTR(id, 1, 8) || ')'
			WHERE revoked_at IS NULL AND EXISTS (SELECT 1 FROM check_tokens o
				WHERE o.revoked_at IS NULL AND o.name = check_tokens.name
				AND (o.created_at < check_tokens.created_at OR (o.created_at = check_tokens.created_at AND o.id < check_tokens.id)))`,
		`CREATE UNIQUE INDEX check_tokens_live_name_key ON check_tokens (name) WHERE revoked_at IS NULL`,
	})
}
