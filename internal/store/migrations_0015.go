package store

// m0015 gives policies reminders and escalation, and requests what the sweep needs to send one
// reminder and make one escalation: the escalation group copied at submission and the times
// both fall due and were done. New columns default to today's behaviour: a policy reminds after
// half of its time to decide (remind_after_min 0) and escalates nowhere, and requests written
// before have no reminder or escalation due. The partial indexes hold only pending requests
// with something still due, so the sweep's "due" queries read only those; the last one holds
// the escalated requests by their escalation group, for the inbox and the navigation count.
var m0015 = []string{
	`ALTER TABLE policies ADD COLUMN remind_after_min integer NOT NULL DEFAULT 0`,
	`ALTER TABLE policies ADD COLUMN escalation_group_id varchar(36) REFERENCES groups(id)`,
	`ALTER TABLE policies ADD COLUMN escalate_after_min integer NOT NULL DEFAULT 0`,
	`CREATE INDEX policies_escalation_group_idx ON policies (escalation_group_id)`,
	`ALTER TABLE requests ADD COLUMN escalation_group_id varchar(36) REFERENCES groups(id) ON DELETE SET NULL`,
	`ALTER TABLE requests ADD COLUMN remind_at {ts}`,
	`ALTER TABLE requests ADD COLUMN reminded_at {ts}`,
	`ALTER TABLE requests ADD COLUMN escalate_at {ts}`,
	`ALTER TABLE requests ADD COLUMN escalated_at {ts}`,
	`CREATE INDEX requests_remind_due_idx ON requests (remind_at) WHERE status = 'pending' AND reminded_at IS NULL AND remind_at IS NOT NULL`,
	`CREATE INDEX requests_escalate_due_idx ON requests (escalate_at) WHERE status = 'pending' AND escalated_at IS NULL AND escalate_at IS NOT NULL`,
	`CREATE INDEX requests_escalated_idx ON requests (escalation_group_id, created_at, id, pending_until, requester_id)
		WHERE status = 'pending' AND escalated_at IS NOT NULL`,
}
