package store

// m0026 marks an emergency request reviewed on the request itself, so the partial indexes that
// find emergencies waiting for their after-the-fact review hold only those: every page of an
// approver, the navigation's count and the admin dashboard read them, and they used to walk
// every emergency request ever made to test each against emergency_reviews.
var m0026 = []string{
	`ALTER TABLE requests ADD COLUMN emergency_reviewed_at {ts}`,
	`UPDATE requests SET emergency_reviewed_at = (SELECT er.at FROM emergency_reviews er WHERE er.request_id = requests.id)
		WHERE emergency`,
	`DROP INDEX requests_emergency_review_idx`,
	`DROP INDEX requests_emergency_new_idx`,
	`CREATE INDEX requests_emergency_review_idx ON requests (approver_group_id, created_at, id, requester_id)
		WHERE emergency AND emergency_reviewed_at IS NULL`,
	`CREATE INDEX requests_emergency_new_idx ON requests (created_at, id) WHERE emergency AND emergency_reviewed_at IS NULL`,
}
