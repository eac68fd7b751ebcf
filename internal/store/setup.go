package store

import (
	"context"
	"database/sql"
)

// SetupFacts are what the first-hour checklist and the dead-end count need, read together.
// "Someone else" is an enabled user other than the administrator reading the checklist: a
// portal where that administrator approves alone has no second pair of eyes.
type SetupFacts struct {
	GroupWithMembers bool // some group has an enabled member who is someone else
	Groups           bool // some group exists
	Task             bool
	// ApprovablePolicy: an enabled policy that is automatic, or has enough approvers with
	// someone else among them.
	ApprovablePolicy bool
	// LoneApproverGroup is the approver group of an enabled manual policy with enough approvers
	// whose only approver is the administrator ("" when there is none).
	LoneApproverGroup string
	DeadEnds          int  // enabled manual policies nobody can approve
	SecondUser        bool // at least two enabled users
	CheckToken        bool // a check token that is not revoked
	Checked           bool // an event of checkAction exists
}

// otherApprover is the SQL condition true when the approver group of a policy p (see
// withApprovers) has an enabled member other than @me.
var otherApprover = `EXISTS (SELECT 1 FROM group_members om JOIN users ou ON ou.id = om.user_id AND ou.disabled_at IS NULL
	WHERE om.group_id = COALESCE(p.approver_group_id, @group) AND om.user_id <> @me)`

// SetupFacts reads the setup checklist's facts in one statement, for the administrator me.
// Each part stops at its first row (or counts only policies); defaultGroup is the
// organisation's default approver group, checkAction the action of a check's audit event (read
// through its action index).
func (s *Store) SetupFacts(ctx context.Context, me, defaultGroup, checkAction string) (SetupFacts, error) {
	var r struct {
		GroupWithMembers, Groups, Task, Approvable, DeadEnds, Users, CheckToken, Checked int64
		LoneGroup                                                                        sql.NullString
	}
	err := s.conn(ctx).Raw(`SELECT
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM group_members gm JOIN users u ON u.id = gm.user_id AND u.disabled_at IS NULL WHERE gm.user_id <> @me LIMIT 1) a) AS group_with_members,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM groups LIMIT 1) b) AS groups,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM tasks LIMIT 1) c) AS task,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM `+withApprovers("@group")+` WHERE p.enabled AND (p.approval_type = 'auto' OR (`+policyApprovers+` >= p.approvals_required AND `+otherApprover+`)) LIMIT 1) g) AS approvable,
		(SELECT MIN(COALESCE(p.approver_group_id, @group)) FROM `+withApprovers("@group")+` WHERE p.enabled AND p.approval_type = 'manual' AND `+policyApprovers+` >= p.approvals_required AND NOT `+otherApprover+`) AS lone_group,
		(SELECT COUNT(*) FROM `+withApprovers("@group")+` WHERE `+deadEnd+`) AS dead_ends,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM users WHERE disabled_at IS NULL LIMIT 2) d) AS users,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM check_tokens WHERE revoked_at IS NULL LIMIT 1) e) AS check_token,
		(SELECT COUNT(*) FROM (SELECT 1 AS x FROM audit_events WHERE action = @action AND seq IS NOT NULL LIMIT 1) f) AS checked`,
		sql.Named("me", me), sql.Named("group", defaultGroup), sql.Named("action", checkAction)).Find(&r).Error
	return SetupFacts{GroupWithMembers: r.GroupWithMembers > 0, Groups: r.Groups > 0, Task: r.Task > 0,
		ApprovablePolicy: r.Approvable > 0, LoneApproverGroup: r.LoneGroup.String, DeadEnds: int(r.DeadEnds), SecondUser: r.Users >= 2,
		CheckToken: r.CheckToken > 0, Checked: r.Checked > 0}, err
}
