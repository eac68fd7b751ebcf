package store

// m0017 adds emergency (break-glass) access. A policy may allow emergency requests, granted at
// once for at most its emergency duration; the organisation names a security address that hears
// of each one. An emergency request carries emergency = true, and gets one after-the-fact review
// (confirmed or misuse), a primary key on the request. The partial indexes hold only emergency
// requests, which are rare: the first finds a person's open emergency under a policy (the locked
// check in access.SubmitEmergency), the second the unreviewed ones an approver group may review,
// for the inbox and the navigation's count; a third, newest first, for the admin dashboard.
var m0017 = []string{
	`ALTER TABLE policies ADD COLUMN emergency_allowed boolean NOT NULL DEFAULT false`,
	`ALTER TABLE policies ADD COLUMN emergency_duration_min integer NOT NULL DEFAULT 60`,
	`ALTER TABLE org_settings ADD COLUMN security_email text NOT NULL DEFAULT ''`,
	`ALTER TABLE requests ADD COLUMN emergency boolean NOT NULL DEFAULT false`,
	`CREATE TABLE emergency_reviews (
		request_id varchar(36) PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
		reviewer_id varchar(36) NOT NULL REFERENCES users(id),
		outcome varchar(16) NOT NULL CHECK (outcome IN ('confirmed', 'misuse')),
		reason text NOT NULL DEFAULT '',
		at {ts} NOT NULL)`,
	`CREATE INDEX requests_emergency_open_idx ON requests (requester_id, policy_id, ends_at) WHERE emergency`,
	`CREATE INDEX requests_emergency_review_idx ON requests (approver_group_id, created_at, id, requester_id) WHERE emergency`,
	`CREATE INDEX requests_emergency_new_idx ON requests (created_at, id) WHERE emergency`,
}
