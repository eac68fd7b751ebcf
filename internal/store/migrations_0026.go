package store

import "gorm.io/gorm"

// m0026 marks an emergency request reviewed on the request itself, so the partial indexes that
// find emergencies waiting for their after-the-fact review hold only those: every page of an
// approver, the navigation's count and the admin dashboard read them, and they used to walk
// every emergency request ever made to test each against emergency_reviews. A trigger sets the
// mark with each review, whichever version of the product writes it (replicas upgrade one by
// one).
func m0026(tx *gorm.DB, dialect string) error {
	stmts := []string{
		`ALTER TABLE requests ADD COLUMN emergency_reviewed_at {ts}`,
		`UPDATE requests SET emergency_reviewed_at = (SELECT er.at FROM emergency_reviews er WHERE er.request_id = requests.id)
			WHERE emergency AND id IN (SELECT request_id FROM emergency_reviews)`,
		`DROP INDEX requests_emergency_review_idx`,
		`DROP INDEX requests_emergency_new_idx`,
		`CREATE INDEX requests_emergency_review_idx ON requests (approver_group_id, created_at, id, requester_id)
			WHERE emergency AND emergency_reviewed_at IS NULL`,
		`CREATE INDEX requests_emergency_new_idx ON requests (created_at, id) WHERE emergency AND emergency_reviewed_at IS NULL`,
	}
	const mark = `UPDATE requests SET emergency_reviewed_at = NEW.at WHERE id = NEW.request_id;`
	if dialect == Postgres {
		stmts = append(stmts,
			`CREATE OR REPLACE FUNCTION elevate_emergency_reviewed() RETURNS trigger LANGUAGE plpgsql AS $$
			 BEGIN `+mark+` RETURN NULL; END $$`,
			`CREATE TRIGGER emergency_reviews_mark AFTER INSERT ON emergency_reviews
			 FOR EACH ROW EXECUTE FUNCTION elevate_emergency_reviewed()`)
	} else {
		stmts = append(stmts, `CREATE TRIGGER emergency_reviews_mark AFTER INSERT ON emergency_reviews BEGIN `+mark+` END`)
	}
	return execAll(tx, dialect, stmts)
}
