package store

// m0020 adds group owners and access review campaigns. A campaign's items are a snapshot of the
// memberships it reviews, with the group's and member's names copied, so its report reads the
// same after a group or user is renamed or deleted. review_reviewers names who may decide the
// items of each group of a campaign. Items are listed in (group, member) order, and closing
// finds what it still has to apply through (campaign_id, outcome).
var m0020 = []string{
	`CREATE TABLE group_owners (
		group_id varchar(36) NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
		user_id varchar(36) NOT NULL REFERENCES users(id) ON DELETE CASCADE,
		added_at {ts} NOT NULL,
		PRIMARY KEY (group_id, user_id))`,
	`CREATE INDEX group_owners_user_idx ON group_owners (user_id)`,
	`CREATE TABLE review_campaigns (
		id varchar(36) PRIMARY KEY,
		name varchar(100) NOT NULL,
		scope varchar(16) NOT NULL,
		reviewers varchar(16) NOT NULL,
		default_decision varchar(16) NOT NULL,
		deadline {ts} NOT NULL,
		status varchar(16) NOT NULL,
		started_by varchar(36) NOT NULL,
		started_by_name varchar(200) NOT NULL DEFAULT '',
		started_at {ts} NOT NULL,
		closed_at {ts},
		closed_by_name varchar(254) NOT NULL DEFAULT '')`,
	`CREATE INDEX review_campaigns_started_idx ON review_campaigns (started_at, id)`,
	`CREATE INDEX review_campaigns_due_idx ON review_campaigns (status, deadline)`,
	`CREATE TABLE review_items (
		id varchar(36) PRIMARY KEY,
		campaign_id varchar(36) NOT NULL REFERENCES review_campaigns(id) ON DELETE CASCADE,
		group_id varchar(36) NOT NULL,
		group_name varchar(100) NOT NULL,
		user_id varchar(36) NOT NULL,
		user_email varchar(254) NOT NULL,
		user_name varchar(200) NOT NULL,
		provider_managed boolean NOT NULL DEFAULT false,
		decision varchar(16) NOT NULL DEFAULT '',
		comment text NOT NULL DEFAULT '',
		decided_by varchar(36) NOT NULL DEFAULT '',
		decider_name varchar(200) NOT NULL DEFAULT '',
		decided_at {ts},
		outcome varchar(16) NOT NULL DEFAULT '',
		applied_at {ts},
		UNIQUE (campaign_id, group_id, user_id))`,
	`CREATE INDEX review_items_order_idx ON review_items (campaign_id, group_name, user_email, id)`,
	`CREATE INDEX review_items_outcome_idx ON review_items (campaign_id, outcome, id)`,
	`CREATE TABLE review_reviewers (
		campaign_id varchar(36) NOT NULL REFERENCES review_campaigns(id) ON DELETE CASCADE,
		group_id varchar(36) NOT NULL,
		reviewer_id varchar(36) NOT NULL,
		PRIMARY KEY (campaign_id, group_id, reviewer_id))`,
	`CREATE INDEX review_reviewers_reviewer_idx ON review_reviewers (reviewer_id, campaign_id)`,
}
