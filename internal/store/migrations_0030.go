package store

import "gorm.io/gorm"

// m0030 indexes the reviews a delegate made in someone's name by that person, newest first, so
// "Decided by you recently" reads a principal's delegated decisions from the index alone, past
// none of their own reviews and none their delegates made for others.
func m0030(tx *gorm.DB, dialect string) error {
	return execAll(tx, dialect, []string{
		`CREATE INDEX reviews_delegated_idx ON reviews (principal_id, at) WHERE reviewer_id <> principal_id`,
	})
}
