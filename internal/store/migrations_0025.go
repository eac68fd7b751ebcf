package store

// m0025 records when a campaign's reviewers were reminded of its deadline, so each campaign
// reminds them once whatever the number of processes sweeping.
var m0025 = []string{
	`ALTER TABLE review_campaigns ADD COLUMN reminded_at {ts}`,
}
