package store

import "gorm.io/gorm"

// m0023 keeps a message's bodies in its outbox row on PostgreSQL. A message's HTML body is a few
// kilobytes, so with the default storage each insert compressed it with pglz and then moved it to
// the TOAST table (a second heap insert and an index insert), and each send read it back through
// that index. Stored MAIN the bodies are compressed in the row and leave it only when the row
// would not fit a page; lz4, where the server has it, compresses several times faster than pglz.
// SQLite stores rows whole and needs nothing.
func m0023(tx *gorm.DB, dialect string) error {
	if dialect != Postgres {
		return nil
	}
	stmts := []string{`ALTER TABLE mail_outbox ALTER COLUMN body_text SET STORAGE MAIN, ALTER COLUMN body_html SET STORAGE MAIN`}
	var lz4 bool
	if err := tx.Raw(`SELECT EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals))`).Scan(&lz4).Error; err != nil {
		return err
	}
	if lz4 {
		stmts = append(stmts, `ALTER TABLE mail_outbox ALTER COLUMN body_text SET COMPRESSION lz4, ALTER COLUMN body_html SET COMPRESSION lz4`)
	}
	return execAll(tx, dialect, stmts)
}
