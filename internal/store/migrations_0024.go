package store

// m0024 indexes the waiting requests of each approver group by their deadline, with the other
// columns the inbox's condition reads (waitingArms), so the inbox sorted by time left reads each
// group's first page in order and stops, as the default order does on requests_waiting_idx.
// Without it each group's arm read every waiting request of the group and sorted them. Partial,
// it is written only for pending requests.
var m0024 = []string{
	`CREATE INDEX requests_waiting_left_idx ON requests (approver_group_id, pending_until, id, created_at, requester_id)
		WHERE status = 'pending'`,
}
