package store

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// EmergencyReviewRow is a row of emergency_reviews: the one after-the-fact review of an
// emergency request (its primary key is the request).
type EmergencyReviewRow struct {
	RequestID  string `gorm:"primaryKey"`
	ReviewerID string
	Outcome    string
	Reason     string
	At         time.Time
}

// TableName fixes the table name.
func (EmergencyReviewRow) TableName() string { return "emergency_reviews" }

// LockPolicy reads a policy and, on PostgreSQL, locks its row until the transaction ends, so
// emergency submissions under it take turns (SQLite's writers already do).
func (s *Store) LockPolicy(ctx context.Context, id string) error {
	q := s.conn(ctx).Model(&PolicyRow{}).Select("id").Where("id = ?", id)
	if s.dialect == Postgres && s.inTx {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var ids []string
	if err := q.Limit(1).Pluck("id", &ids).Error; err != nil {
		return err
	}
	if len(ids) == 0 {
		return pam.Errorf(pam.ENOTFOUND, "Policy not found.")
	}
	return nil
}

// OpenEmergency returns the id of a user's emergency grant under a policy that is still
// approved and not ended at now, or "" (read on requests_emergency_open_idx). Called after
// LockPolicy, it is the check that keeps one open emergency per person and policy.
func (s *Store) OpenEmergency(ctx context.Context, user pam.UserID, policyID string, now time.Time) (string, error) {
	var ids []string
	err := s.conn(ctx).Model(&RequestRow{}).
		Where("requester_id = ? AND policy_id = ? AND emergency AND ends_at > ? AND status = ?", string(user), policyID, now.UTC(), string(pam.StatusApproved)).
		Limit(1).Pluck("id", &ids).Error
	if err != nil || len(ids) == 0 {
		return "", err
	}
	return ids[0], nil
}

// unreviewedEmergency is the SQL condition true for an emergency request r nobody has reviewed
// yet: the condition of the partial indexes requests_emergency_review_idx and
// requests_emergency_new_idx, which hold only those.
const unreviewedEmergency = `r.emergency AND r.emergency_reviewed_at IS NULL`

// AddEmergencyReview records the one after-the-fact review of an emergency request, which a
// trigger marks reviewed (m0026); a second one is ECONFLICT, whoever writes it.
func (s *Store) AddEmergencyReview(ctx context.Context, requestID string, v pam.EmergencyReview) error {
	err := s.conn(ctx).Create(&EmergencyReviewRow{RequestID: requestID, ReviewerID: string(v.ReviewerID), Outcome: v.Outcome, Reason: v.Reason, At: v.At.UTC()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return pam.Errorf(pam.ECONFLICT, "This emergency access was already reviewed.")
	}
	return err
}

// emergencyReview reads the review of an emergency request with its reviewer's name, nil when
// none was made.
func (s *Store) emergencyReview(ctx context.Context, requestID string) (*pam.EmergencyReview, error) {
	var rows []struct {
		EmergencyReviewRow `gorm:"embedded"`
		Name               string
	}
	err := s.conn(ctx).Raw(`SELECT e.request_id, e.reviewer_id, e.outcome, e.reason, e.at, COALESCE(u.name, '') AS name
		FROM emergency_reviews e LEFT JOIN users u ON u.id = e.reviewer_id WHERE e.request_id = ?`, requestID).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	r := rows[0]
	return &pam.EmergencyReview{ReviewerID: pam.UserID(r.ReviewerID), ReviewerName: r.Name, Outcome: r.Outcome, Reason: r.Reason, At: r.At.UTC()}, nil
}

// emergencyWaitingFor is the SQL condition true for an emergency request r that waits for the
// after-the-fact review of the user whose id is the SQL expression user: not yet reviewed, not
// theirs, in an approver group they are an enabled member of. It reads
// requests_emergency_review_idx, which holds the unreviewed emergency requests only. The
// requester is compared as an expression without statistics, as in waitingArms.
func emergencyWaitingFor(user string) string {
	return unreviewedEmergency + ` AND COALESCE(r.requester_id, r.requester_id) <> ` + user + `
		AND r.approver_group_id IN (SELECT gm.group_id FROM group_members gm
			JOIN users gu ON gu.id = gm.user_id AND gu.disabled_at IS NULL WHERE gm.user_id = ` + user + `)`
}

// navCount is the SQL expression counting, up to NavCountCap each, the requests waiting for
// the decision of the user whose id is the SQL expression user (waitingArms) and the emergency
// requests waiting for their review (emergencyWaitingFor): the navigation's badge.
func navCount(dialect, user string) string {
	return "(" + waitingCount(dialect, user, "", NavCountCap, true) +
		" + (SELECT COUNT(*) FROM (SELECT 1 FROM requests r WHERE " + emergencyWaitingFor(user) + " " + limitClause(NavCountCap) + ") e))"
}

// decidedAndEmergencies are the parts of the inbox's statement (inboxPageText) that read the
// requests the user @user reviewed, their most recent review first (at most decided), and the
// emergency requests waiting for their after-the-fact review (emergencyWaitingFor), newest
// first (at most emergencies), with their requesters' names, in the columns of the waiting
// requests' part (inboxPageRow), each part a union of its own.
func decidedAndEmergencies(decided, emergencies int) string {
	// The viewer's own reviews (reviews_reviewer_idx), and those their delegates made on their
	// behalf (a review made for someone else than its reviewer, from the partial
	// reviews_delegated_idx): each leg bounded in its index's order, and then the newest of
	// both. A delegate's review carries the delegate's name in on_behalf_name; the viewer's
	// own, none.
	mine := `SELECT * FROM (SELECT request_id, reviewer_id, decision, at FROM reviews WHERE reviewer_id = @user
			ORDER BY at DESC, request_id ` + limitClause(decided) + `) mr`
	theirs := `SELECT * FROM (SELECT request_id, reviewer_id, decision, at FROM reviews
			WHERE principal_id = @user AND reviewer_id <> principal_id
			ORDER BY at DESC, request_id ` + limitClause(decided) + `) tr`
	return `SELECT * FROM (SELECT 'd' AS kind, ` + listColumns + `, COALESCE(u.name, '') AS requester_name, '' AS requester_email,
			0 AS approvals, false AS escalated_to_me, COALESCE(dv.name, '') AS on_behalf_name, 0 AS total, 0 AS matched,
			rv.decision AS my_decision, rv.at AS my_at
		FROM (` + mine + ` UNION ALL ` + theirs + `) rv JOIN requests r ON r.id = rv.request_id LEFT JOIN users u ON u.id = r.requester_id
			LEFT JOIN users dv ON dv.id = rv.reviewer_id AND rv.reviewer_id <> @user
		ORDER BY rv.at DESC, rv.request_id ` + limitClause(decided) + `) d
		UNION ALL
		SELECT * FROM (SELECT 'e' AS kind, ` + listColumns + `, COALESCE(u.name, '') AS requester_name, '' AS requester_email,
			0 AS approvals, false AS escalated_to_me, '' AS on_behalf_name, 0 AS total, 0 AS matched,
			'' AS my_decision, r.created_at AS my_at
		FROM requests r LEFT JOIN users u ON u.id = r.requester_id
		WHERE ` + emergencyWaitingFor("@user") + ` ORDER BY r.created_at DESC, r.id DESC ` + limitClause(emergencies) + `) e`
}

// sortDecidedAndEmergencies puts each list back in its order: a union keeps none.
func sortDecidedAndEmergencies(ds []Decided, es []pam.Request) {
	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].At.Equal(ds[j].At) {
			return ds[i].At.After(ds[j].At)
		}
		return ds[i].ID < ds[j].ID
	})
	sort.SliceStable(es, func(i, j int) bool {
		if !es[i].CreatedAt.Equal(es[j].CreatedAt) {
			return es[i].CreatedAt.After(es[j].CreatedAt)
		}
		return es[i].ID > es[j].ID
	})
}

// UnreviewedEmergencies lists every emergency request nobody has reviewed yet, newest first (at
// most limit), for the admin dashboard.
func (s *Store) UnreviewedEmergencies(ctx context.Context, limit int) ([]pam.Request, error) {
	return s.emergencyList(ctx, unreviewedEmergency, limit)
}

func (s *Store) emergencyList(ctx context.Context, cond string, limit int) ([]pam.Request, error) {
	var rows []struct {
		RequestRow    `gorm:"embedded"`
		RequesterName string
	}
	err := s.conn(ctx).Raw(`SELECT ` + listColumns + `, COALESCE(u.name, '') AS requester_name FROM requests r
		LEFT JOIN users u ON u.id = r.requester_id
		WHERE ` + cond + ` ORDER BY r.created_at DESC, r.id DESC ` + limitClause(limit)).Find(&rows).Error
	out := make([]pam.Request, len(rows))
	for i, row := range rows {
		out[i] = requestToDomain(row.RequestRow)
		out[i].RequesterName = row.RequesterName
	}
	return out, err
}
