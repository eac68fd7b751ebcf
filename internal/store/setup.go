package store

import (
	"context"
	"database/sql"
)

// SetupFacts are what the first-hour checklist and the dead-end count need, read together.
type SetupFacts struct {
	GroupWithMembers bool // some group has an enabled member
	Groups           bool // some group exists
	Task             bool
	ApprovablePolicy bool // an enabled policy that is automatic or has enough approvers
	DeadEnds         int  // enabled manual policies nobody can approve
	SecondUser       bool // at least two enabled users
	CheckToken       bool // a check token that is not revoked
	Checked          bool // an event of checkAction exists
}

// SetupFacts reads the setup checklist's facts in one statement. Each part stops at its first
// row (or counts only policies); defaultGroup is the organisation's default approver group,
// checkAction the action of a check's audit event (read through its action index).
func (s *Store) SetupFacts(ctx context.Context, defaultGroup, checkAction string) (SetupFacts, error) {
	var r struct {
		GroupWithMembers, Groups, Task, Approvable, DeadEnds, Users, CheckToken, Checked int64
	}
	err := s.conn(ctx).Raw(`SELECT
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM group_members gm JOIN users u ON u.id = gm.user_id AND u.disabled_at IS NULL LIMIT 1) a) AS group_with_members,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM groups LIMIT 1) b) AS groups,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM tasks LIMIT 1) c) AS task,
		(SELECT COUNT(*) FROM `+withApprovers("@group")+` WHERE p.enabled AND (p.approval_type = 'auto' OR `+policyApprovers+` >= p.approvals_required)) AS approvable,
		(SELECT COUNT(*) FROM `+withApprovers("@group")+` WHERE `+deadEnd+`) AS dead_ends,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM users WHERE disabled_at IS NULL LIMIT 2) d) AS users,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM check_tokens WHERE revoked_at IS NULL LIMIT 1) e) AS check_token,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM audit_events WHERE action = @action AND seq IS NOT NULL LIMIT 1) f) AS checked`,
		sql.Named("group", defaultGroup), sql.Named("action", checkAction)).Find(&r).Error
	return SetupFacts{GroupWithMembers: r.GroupWithMembers > 0, Groups: r.Groups > 0, Task: r.Task > 0,
		ApprovablePolicy: r.Approvable > 0, DeadEnds: int(r.DeadEnds), SecondUser: r.Users >= 2,
		CheckToken: r.CheckToken > 0, Checked: r.Checked > 0}, err
}
