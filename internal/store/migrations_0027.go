package store

// m0027 lets a campaign's counts (items, decided, to remove) be read from an index alone: every
// reviewer's page counted them from the rows of all the campaign's items.
var m0027 = []string{
	`CREATE INDEX review_items_counts_idx ON review_items (campaign_id, decision, outcome)`,
}
