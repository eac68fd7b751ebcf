package store

// m0016 adds delegations (out of office) and the person a review counts for. A delegation lets
// its delegate decide, between starts_at and ends_at, what its principal could; ended_at is set
// when it is ended early (ended_by says by whom) or, once lapsed, when its principal names the
// next one. At most one delegation per principal is open (ended_at IS NULL), a partial unique
// index that settles two simultaneous creations. delegations_delegate_idx serves the inbox and
// the navigation count (what is delegated to me now), delegations_principal_idx the profile.
//
// reviews.principal_id is the approver a review counts for: its reviewer, or the approver a
// delegate acted for. Existing reviews count for their reviewer. With the primary key (request,
// reviewer) the unique (request, principal) means a person acts once on a request and an
// approver's seat is taken once, whoever took it.
var m0016 = []string{
	`CREATE TABLE delegations (
		id varchar(36) PRIMARY KEY,
		principal_id varchar(36) NOT NULL REFERENCES users(id),
		delegate_id varchar(36) NOT NULL REFERENCES users(id),
		starts_at {ts} NOT NULL,
		ends_at {ts} NOT NULL,
		created_at {ts} NOT NULL,
		created_by varchar(36) NOT NULL DEFAULT '',
		ended_at {ts},
		ended_by varchar(36) NOT NULL DEFAULT '',
		CHECK (principal_id <> delegate_id),
		CHECK (ends_at > starts_at))`,
	`CREATE UNIQUE INDEX delegations_open_idx ON delegations (principal_id) WHERE ended_at IS NULL`,
	`CREATE INDEX delegations_delegate_idx ON delegations (delegate_id, ends_at, starts_at, principal_id)`,
	`CREATE INDEX delegations_principal_idx ON delegations (principal_id, ends_at)`,
	`CREATE INDEX delegations_open_ends_idx ON delegations (ends_at, id) WHERE ended_at IS NULL`,
	`ALTER TABLE reviews ADD COLUMN principal_id varchar(36) NOT NULL DEFAULT ''`,
	`UPDATE reviews SET principal_id = reviewer_id`,
	`CREATE UNIQUE INDEX reviews_principal_idx ON reviews (request_id, principal_id)`,
}
