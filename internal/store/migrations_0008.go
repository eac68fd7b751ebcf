package store

// m0008 gives requests the reason they were cancelled ("grant revoked", …). Existing rows
// were never cancelled, so they get the empty reason. Adding a column with a constant default
// only touches the catalogue on both databases: the table is not rewritten, and the brief lock
// it takes does not hold checks up.
var m0008 = []string{
	`ALTER TABLE requests ADD COLUMN cancel_reason text NOT NULL DEFAULT ''`,
}
