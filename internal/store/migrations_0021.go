package store

// m0021 lets the identity provider manage groups. groups.idp_value is the claim value whose
// holders are a group's members (empty for a group edited by hand); group_members.confirmed_at is
// when the provider last confirmed a membership of such a group at an SSO sign-in (NULL in a
// group edited by hand). The lapse sweep reads memberships by confirmed_at.
var m0021 = []string{
	`ALTER TABLE groups ADD COLUMN idp_value text NOT NULL DEFAULT ''`,
	`ALTER TABLE group_members ADD COLUMN confirmed_at {ts}`,
	`CREATE INDEX group_members_confirmed_idx ON group_members (confirmed_at)`,
}
