package store

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/google/uuid"
	"gorm.io/gorm"
)

// m0018 keeps the changes of who decides under a policy (pam.RuleChange), which the page of a
// request pending at the time shows, and indexes requests by policy, so what a policy change
// reaches (its pending requests, its grants in force) is read from an index, not the table.
// Built plainly, as m0012.
var m0018 = []string{
	`CREATE TABLE policy_changes (
		id varchar(36) PRIMARY KEY,
		policy_id varchar(36) NOT NULL,
		rule varchar(32) NOT NULL,
		from_value text NOT NULL DEFAULT '',
		to_value text NOT NULL DEFAULT '',
		actor_name text NOT NULL DEFAULT '',
		at {ts} NOT NULL)`,
	`CREATE INDEX policy_changes_policy_idx ON policy_changes (policy_id, at)`,
	`CREATE INDEX requests_policy_idx ON requests (policy_id, status, ends_at)`,
}

// PolicyChangeRow is a row of policy_changes.
type PolicyChangeRow struct {
	ID        string
	PolicyID  string
	Rule      string
	FromValue string
	ToValue   string
	ActorName string
	At        time.Time
}

// TableName fixes the table name.
func (PolicyChangeRow) TableName() string { return "policy_changes" }

// AddRuleChange records one change of who decides under a policy.
func (s *Store) AddRuleChange(ctx context.Context, c pam.RuleChange) error {
	return s.conn(ctx).Create(&PolicyChangeRow{ID: uuid.NewString(), PolicyID: c.PolicyID, Rule: c.Rule, FromValue: c.From,
		ToValue: c.To, ActorName: c.ActorName, At: c.At.UTC()}).Error
}

// RuleChanges lists the changes of a policy's rules made after from and up to until, oldest
// first, at most limit (policy_changes_policy_idx).
func (s *Store) RuleChanges(ctx context.Context, policyID string, from, until time.Time, limit int) ([]pam.RuleChange, error) {
	var rows []PolicyChangeRow
	err := s.conn(ctx).Where("policy_id = ? AND at > ? AND at <= ?", policyID, from.UTC(), until.UTC()).
		Order("at, id").Limit(limit).Find(&rows).Error
	out := make([]pam.RuleChange, len(rows))
	for i, r := range rows {
		out[i] = pam.RuleChange{PolicyID: r.PolicyID, Rule: r.Rule, From: r.FromValue, To: r.ToValue, ActorName: r.ActorName, At: r.At.UTC()}
	}
	return out, err
}

// ReachPending gives the requests pending under a policy its approver group and quorum as they
// are now (groupID "" = nobody), each at a new version, so a review that read the old rules
// fails its save and is made again. It reports how many it changed.
func (s *Store) ReachPending(ctx context.Context, policyID, groupID string, required int) (int64, error) {
	res := s.conn(ctx).Model(&RequestRow{}).Where("policy_id = ? AND status = ?", policyID, string(pam.StatusPending)).
		Updates(map[string]any{"approver_group_id": nullable(groupID), "approvals_required": required, "version": gorm.Expr("version + 1")})
	return res.RowsAffected, res.Error
}

// ReachEscalation gives the requests pending under a policy its escalation group as it is now
// (groupID "" = none), in one statement, each it changes at a new version, so a review that
// read the old rule fails its save and is made again; it reports how many it changed. A
// request not yet escalated escalates to the new group at its own escalation time, or, asked
// while the policy did not escalate, after from now. One already escalated escalates again, to
// the new group, at the sweep's next pass (due at now), with its own event, mail and webhook;
// until then only its approvers decide it, and approvals by the old group's members stop
// counting (stillApprover). Without a group no request escalates, and one escalated waits on
// its approvers alone.
func (s *Store) ReachEscalation(ctx context.Context, policyID, groupID string, after time.Duration, now time.Time) (int64, error) {
	pending := s.conn(ctx).Model(&RequestRow{}).Where("policy_id = ? AND status = ?", policyID, string(pam.StatusPending))
	if groupID == "" {
		res := pending.Where("escalation_group_id IS NOT NULL OR escalate_at IS NOT NULL OR escalated_at IS NOT NULL").
			Updates(map[string]any{"escalation_group_id": nil, "escalate_at": nil, "escalated_at": nil, "version": gorm.Expr("version + 1")})
		return res.RowsAffected, res.Error
	}
	res := pending.Where("escalation_group_id IS NULL OR escalation_group_id <> ? OR escalate_at IS NULL", groupID).
		Updates(map[string]any{
			"escalation_group_id": groupID,
			"escalate_at":         gorm.Expr("CASE WHEN escalated_at IS NOT NULL THEN ? ELSE COALESCE(escalate_at, ?) END", now.UTC(), now.UTC().Add(after)),
			"escalated_at":        nil,
			"version":             gorm.Expr("version + 1"),
		})
	return res.RowsAffected, res.Error
}

// A FollowUp is a time a pending request acts on its own: when it reminds its approvers, or
// when it escalates.
type FollowUp string

// Follow-ups RetimePending moves.
const (
	Reminder   FollowUp = "remind_at"   // of requests not reminded yet
	Escalation FollowUp = "escalate_at" // of requests with an escalation group, not escalated yet
)

// retimeBatch is how many requests one RetimePending statement moves.
const retimeBatch = 200

// RetimePending moves follow-up f of the requests pending under a policy that have not had it
// yet to at(created, pendingUntil) of each (nil: never), each at a new version, a keyset batch
// by id at a time (one statement reads a batch, found through requests_policy_idx and sorted:
// the requests pending under one policy are few; one statement moves it); it reports how many
// it moved. The times are computed here, not in SQL, so both databases store them alike.
func (s *Store) RetimePending(ctx context.Context, policyID string, f FollowUp, at func(created, pendingUntil time.Time) *time.Time) (int64, error) {
	cond := "reminded_at IS NULL"
	if f == Escalation {
		cond = "escalated_at IS NULL AND escalation_group_id IS NOT NULL"
	}
	var moved int64
	after := ""
	for {
		var rows []struct {
			ID           string
			CreatedAt    time.Time
			PendingUntil time.Time
		}
		err := s.conn(ctx).Model(&RequestRow{}).Select("id, created_at, pending_until").
			Where("policy_id = ? AND status = ? AND id > ? AND "+cond, policyID, string(pam.StatusPending), after).
			Order("id").Limit(retimeBatch).Find(&rows).Error
		if err != nil || len(rows) == 0 {
			return moved, err
		}
		ids := make([]string, len(rows))
		then := " WHEN ? THEN ?"
		if s.dialect == Postgres {
			then = " WHEN ? THEN CAST(? AS timestamptz)" // a bare parameter in CASE would read as text
		}
		cases, args := "CASE id", []any{}
		for i, r := range rows {
			ids[i] = r.ID
			cases += then
			var t any
			if v := at(r.CreatedAt.UTC(), r.PendingUntil.UTC()); v != nil {
				t = v.UTC()
			}
			args = append(args, r.ID, t)
		}
		res := s.conn(ctx).Model(&RequestRow{}).Where("id IN ? AND status = ? AND "+cond, ids, string(pam.StatusPending)).
			Updates(map[string]any{string(f): gorm.Expr(cases+" END", args...), "version": gorm.Expr("version + 1")})
		if res.Error != nil {
			return moved, res.Error
		}
		moved += res.RowsAffected
		if len(rows) < retimeBatch {
			return moved, nil
		}
		after = rows[len(rows)-1].ID
	}
}

// PoliciesOnDefaultApprovers lists the manual policies without an approver group of their own,
// which the organisation's default approver group decides (at most limit).
func (s *Store) PoliciesOnDefaultApprovers(ctx context.Context, limit int) ([]pam.Policy, error) {
	var rows []PolicyRow
	err := s.conn(ctx).Where("approver_group_id IS NULL AND approval_type = ?", pam.ApprovalManual).
		Order("created_at, id").Limit(limit).Find(&rows).Error
	out := make([]pam.Policy, len(rows))
	for i, r := range rows {
		out[i] = policyToDomain(r)
	}
	return out, err
}

// PendingUnderPolicy returns ids of requests pending under a policy and not timed out at now,
// oldest first (a bounded batch on requests_policy_idx).
func (s *Store) PendingUnderPolicy(ctx context.Context, policyID string, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Model(&RequestRow{}).Where("policy_id = ? AND status = ? AND pending_until > ?", policyID, string(pam.StatusPending), now.UTC()).
		Order("created_at, id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// grantsUnder is the condition of a grant not yet over at @now: approved and ending later (in
// force, or scheduled), whatever a sweeper wrote.
const grantsUnder = "status = 'approved' AND ends_at > ?"

// GrantsUnderPolicy returns ids of the grants under a policy that are in force or scheduled at
// now, extensions after their grants (a bounded batch on requests_policy_idx).
func (s *Store) GrantsUnderPolicy(ctx context.Context, policyID string, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Model(&RequestRow{}).Where("policy_id = ?", policyID).Where(grantsUnder, now.UTC()).
		Order("created_at, id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// CountGrantsUnderPolicy counts the grants under a policy in force or scheduled at now.
func (s *Store) CountGrantsUnderPolicy(ctx context.Context, policyID string, now time.Time) (int64, error) {
	var n int64
	err := s.conn(ctx).Model(&RequestRow{}).Where("policy_id = ?", policyID).Where(grantsUnder, now.UTC()).Count(&n).Error
	return n, err
}

// openCond is the condition of a request still open at @now: pending and not timed out, or a
// grant not yet over.
const openCond = "((status = 'pending' AND pending_until > @now) OR (status = 'approved' AND ends_at > @now))"

// OpenOf returns ids of a user's requests still open at now (pending, or a grant in force or
// scheduled) under the policies whose eligible group is groupID, or under every policy when
// groupID is "" (a disabled user), oldest first; a bounded batch on requests_grant_idx.
func (s *Store) OpenOf(ctx context.Context, user pam.UserID, groupID string, now time.Time, limit int) ([]string, error) {
	var ids []string
	q := s.conn(ctx).Model(&RequestRow{}).Where("requester_id = @user AND "+openCond, map[string]any{"user": string(user), "now": now.UTC()})
	if groupID != "" {
		q = q.Where("policy_id IN (SELECT id FROM policies WHERE eligible_group_id = ?)", groupID)
	}
	err := q.Order("created_at, id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// CountOpenOf counts what OpenOf would return for a user and group at now, by state: pending
// requests not timed out, and grants in force or scheduled.
func (s *Store) CountOpenOf(ctx context.Context, user pam.UserID, groupID string, now time.Time) (pending, grants int64, err error) {
	var rows []struct {
		Status string
		N      int64
	}
	q := s.conn(ctx).Model(&RequestRow{}).Select("status, COUNT(*) AS n").
		Where("requester_id = @user AND "+openCond, map[string]any{"user": string(user), "now": now.UTC()})
	if groupID != "" {
		q = q.Where("policy_id IN (SELECT id FROM policies WHERE eligible_group_id = ?)", groupID)
	}
	if err := q.Group("status").Find(&rows).Error; err != nil {
		return 0, 0, err
	}
	for _, r := range rows {
		switch pam.Status(r.Status) {
		case pam.StatusPending:
			pending = r.N
		case pam.StatusApproved:
			grants = r.N
		}
	}
	return pending, grants, nil
}

// OpenNotEligible returns ids of requests still open at now under a policy whose requester is
// not a member of groupID (its new eligible group), oldest first; a bounded batch on
// requests_policy_idx.
func (s *Store) OpenNotEligible(ctx context.Context, policyID, groupID string, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Model(&RequestRow{}).Where("policy_id = @policy AND "+openCond+`
		AND NOT EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = @group AND gm.user_id = requests.requester_id)`,
		map[string]any{"policy": policyID, "group": groupID, "now": now.UTC()}).
		Order("created_at, id").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// OutOfReach returns ids of requests still open at now that a change of their policy or of
// their requester should have ended but did not (a submission that raced the change, or rows
// from a version before changes reached requests), oldest first, at most limit: pending under a
// policy that is disabled or gone, or open while their requester is disabled or outside the
// policy's eligible group. The sweep ends them (access.Service.Sweep).
func (s *Store) OutOfReach(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	// Two arms, one per state, so each reads its own index (requests_waiting_idx for the pending,
	// requests_ends_idx for the grants) rather than the table.
	out := `EXISTS (SELECT 1 FROM users u WHERE u.id = r.requester_id AND u.disabled_at IS NOT NULL)
			OR (p.eligible_group_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM group_members gm
				WHERE gm.group_id = p.eligible_group_id AND gm.user_id = r.requester_id))`
	err := s.conn(ctx).Raw(`SELECT id FROM (
		SELECT r.id, r.created_at FROM requests r LEFT JOIN policies p ON p.id = r.policy_id
			WHERE r.status = 'pending' AND r.pending_until > @now AND (p.id IS NULL OR NOT p.enabled OR `+out+`)
		UNION ALL
		SELECT r.id, r.created_at FROM requests r LEFT JOIN policies p ON p.id = r.policy_id
			WHERE r.status = 'approved' AND r.ends_at > @now AND (`+out+`)) o
		ORDER BY created_at, id `+limitClause(limit), map[string]any{"now": now.UTC()}).Pluck("id", &ids).Error
	return ids, err
}
