package store

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// RequestRow is a row of requests.
type RequestRow struct {
	ID                string
	RequesterID       string
	PolicyID          string
	ScopeType         string
	ScopeID           string
	ScopeName         string
	ApprovalType      string
	ApproverGroupID   *string
	ApprovalsRequired int
	DurationMin       int
	Justification     string
	Ticket            string
	ScheduledStart    *time.Time
	Status            string
	CreatedAt         time.Time
	PendingUntil      time.Time
	DecidedAt         *time.Time
	StartsAt          *time.Time
	EndsAt            *time.Time
	RevokedBy         string
	RevokeReason      string
	CancelReason      string
	ExtendsID         string
	ExpiryNotifiedAt  *time.Time
	EscalationGroupID *string
	RemindAt          *time.Time
	RemindedAt        *time.Time
	EscalateAt        *time.Time
	EscalatedAt       *time.Time
	Emergency         bool
	Version           int
}

// TableName fixes the table name.
func (RequestRow) TableName() string { return "requests" }

// ReviewRow is a row of reviews.
type ReviewRow struct {
	RequestID  string `gorm:"primaryKey"`
	ReviewerID string `gorm:"primaryKey"`
	// PrincipalID is the approver the review counts for: the reviewer, or the one a delegate
	// acted for (unique per request with the reviewer's key, see m0016).
	PrincipalID string
	Decision    string
	Comment     string
	At          time.Time
}

// TableName fixes the table name.
func (ReviewRow) TableName() string { return "reviews" }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func requestToRow(r pam.Request) RequestRow {
	return RequestRow{
		ID: r.ID, RequesterID: string(r.RequesterID), PolicyID: r.PolicyID, ScopeType: string(r.ScopeType), ScopeID: r.ScopeID,
		ScopeName: r.ScopeName, ApprovalType: r.ApprovalType, ApproverGroupID: nullable(r.ApproverGroupID),
		ApprovalsRequired: r.ApprovalsRequired, DurationMin: int(r.Duration / time.Minute), Justification: r.Justification,
		Ticket: r.Ticket, ScheduledStart: utcPtr(r.ScheduledStart), Status: string(r.Status), CreatedAt: r.CreatedAt.UTC(),
		PendingUntil: r.PendingUntil.UTC(), DecidedAt: utcPtr(r.DecidedAt), StartsAt: utcPtr(r.StartsAt), EndsAt: utcPtr(r.EndsAt),
		RevokedBy: string(r.RevokedBy), RevokeReason: r.RevokeReason, CancelReason: string(r.CancelReason), ExtendsID: r.ExtendsID,
		EscalationGroupID: nullable(r.EscalationGroupID), RemindAt: utcPtr(r.RemindAt), RemindedAt: utcPtr(r.RemindedAt),
		EscalateAt: utcPtr(r.EscalateAt), EscalatedAt: utcPtr(r.EscalatedAt), Emergency: r.Emergency, Version: r.Version,
	}
}

func requestToDomain(r RequestRow) pam.Request {
	return pam.Request{
		ID: r.ID, RequesterID: pam.UserID(r.RequesterID), PolicyID: r.PolicyID, ScopeType: pam.ScopeType(r.ScopeType), ScopeID: r.ScopeID,
		ScopeName: r.ScopeName, ApprovalType: r.ApprovalType, ApproverGroupID: deref(r.ApproverGroupID),
		ApprovalsRequired: r.ApprovalsRequired, Duration: time.Duration(r.DurationMin) * time.Minute, Justification: r.Justification,
		Ticket: r.Ticket, ScheduledStart: utcPtr(r.ScheduledStart), Status: pam.Status(r.Status), CreatedAt: r.CreatedAt.UTC(),
		PendingUntil: r.PendingUntil.UTC(), DecidedAt: utcPtr(r.DecidedAt), StartsAt: utcPtr(r.StartsAt), EndsAt: utcPtr(r.EndsAt),
		RevokedBy: pam.UserID(r.RevokedBy), RevokeReason: r.RevokeReason, CancelReason: pam.CancelReason(r.CancelReason),
		ExtendsID: r.ExtendsID, EscalationGroupID: deref(r.EscalationGroupID), RemindAt: utcPtr(r.RemindAt), RemindedAt: utcPtr(r.RemindedAt),
		EscalateAt: utcPtr(r.EscalateAt), EscalatedAt: utcPtr(r.EscalatedAt), Emergency: r.Emergency, Version: r.Version,
	}
}

// CreateRequest inserts a new request (and its reviews, if auto-approved there are none).
func (s *Store) CreateRequest(ctx context.Context, r pam.Request) error {
	row := requestToRow(r)
	row.Version = 1
	return s.conn(ctx).Create(&row).Error
}

// RequestByID returns a request with its reviews and the names of the people involved.
func (s *Store) RequestByID(ctx context.Context, id string) (pam.Request, error) {
	r, _, err := s.loadRequest(ctx, id, false, "")
	return r, err
}

// LockRequest is RequestByID that, on PostgreSQL, also locks the row until the transaction
// ends, so concurrent reviewers of one request take turns. (SQLite's writers already do.)
func (s *Store) LockRequest(ctx context.Context, id string) (pam.Request, error) {
	r, _, err := s.loadRequest(ctx, id, s.dialect == Postgres && s.inTx, "")
	return r, err
}

// LockRequestFor is LockRequest that also reports whether viewer may decide the request now:
// an enabled member of its approver group (activeMember), or of its escalation group once it
// was escalated (escalationMember), read after the lock was taken. Two statements:
// the locked row with its requester, then its reviews with the membership.
func (s *Store) LockRequestFor(ctx context.Context, id string, viewer pam.UserID) (pam.Request, bool, error) {
	return s.loadRequest(ctx, id, s.dialect == Postgres && s.inTx, viewer)
}

// requestPeopleRow is a request with its requester's name and email.
type requestPeopleRow struct {
	RequestRow
	RequesterName  string
	RequesterEmail string
}

// reviewsRow is one row of loadRequest's second statement: the viewer's membership, and a
// review with its reviewer's name when the request has any (else the review columns are NULL).
type reviewsRow struct {
	Member        bool
	StillApprover bool
	ReviewerID    *string
	PrincipalID   *string
	PrincipalName *string
	Decision      *string
	Comment       *string
	At            *time.Time
	Name          *string
}

// loadRequest reads a request with its requester, then its reviews (and, for a viewer, whether
// they are an enabled member of its approver group). The reviews are read in a statement of
// their own, after the lock was taken: in PostgreSQL a statement that waited for a row lock
// sees the locked row as its holder committed it, but the rows it joins only as they were
// when it started, so reviews read together with the lock could miss the one just committed.
func (s *Store) loadRequest(ctx context.Context, id string, lock bool, viewer pam.UserID) (pam.Request, bool, error) {
	var row requestPeopleRow
	q := s.conn(ctx).Table("requests").
		Select("requests.*, COALESCE(u.name, '') AS requester_name, COALESCE(u.email, '') AS requester_email").
		Joins("LEFT JOIN users u ON u.id = requests.requester_id").Where("requests.id = ?", id)
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE", Table: clause.Table{Name: "requests"}})
	}
	res := q.Limit(1).Find(&row)
	if res.Error != nil {
		return pam.Request{}, false, res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Request{}, false, pam.Errorf(pam.ENOTFOUND, "Request not found.")
	}
	r := requestToDomain(row.RequestRow)
	r.RequesterName, r.RequesterEmail = row.RequesterName, row.RequesterEmail
	var reviews []reviewsRow
	// still_approver: whether the reviewer (or the approver a delegate acted for) is an enabled
	// member of the approver group now, or of the escalation group once escalated.
	egroup := ""
	if r.Escalated() {
		egroup = r.EscalationGroupID
	}
	err := s.conn(ctx).Raw(`SELECT m.member, v.reviewer_id, v.decision, v.comment, v.at, vu.name, v.principal_id, pu.name AS principal_name,
			CASE WHEN v.reviewer_id IS NULL THEN false ELSE `+stillApprover("v", "@group", "@egroup")+` END AS still_approver
		FROM (SELECT `+activeMember("@group", "@viewer")+` OR `+escalationMember("@id", "@viewer")+` AS member) m
		LEFT JOIN reviews v ON v.request_id = @id
		LEFT JOIN users vu ON vu.id = v.reviewer_id
		LEFT JOIN users pu ON pu.id = v.principal_id AND v.principal_id <> v.reviewer_id
		ORDER BY v.at`, map[string]any{"id": id, "group": deref(row.ApproverGroupID), "egroup": egroup, "viewer": string(viewer)}).Find(&reviews).Error
	member := false
	for _, v := range reviews {
		member = member || v.Member
		if v.ReviewerID == nil {
			continue
		}
		rv := pam.Review{ReviewerID: pam.UserID(*v.ReviewerID), Decision: deref(v.Decision), Comment: deref(v.Comment), At: v.At.UTC(),
			StillApprover: v.StillApprover}
		if v.Name != nil {
			rv.ReviewerName = *v.Name
		}
		if p := deref(v.PrincipalID); p != "" && p != *v.ReviewerID {
			rv.OnBehalfOf, rv.OnBehalfOfName = pam.UserID(p), deref(v.PrincipalName)
		}
		r.Reviews = append(r.Reviews, rv)
	}
	if err == nil && r.Emergency {
		r.EmergencyReview, err = s.emergencyReview(ctx, id)
	}
	return r, member && viewer != "", err
}

// activeMember is an SQL condition true when the enabled user whose id is the SQL expression
// user is in the group whose id is the SQL expression group (IsActiveMember).
func activeMember(group, user string) string {
	return `EXISTS (SELECT 1 FROM group_members gm JOIN users mu ON mu.id = gm.user_id AND mu.disabled_at IS NULL
		WHERE gm.group_id = ` + group + ` AND gm.user_id = ` + user + `)`
}

// escalationMember is an SQL condition true when the request whose id is the SQL expression
// request was escalated (escalated_at set) and the enabled user whose id is the SQL expression
// user is in its escalation group. It is a second way, beside activeMember of the approver
// group, to be someone who may decide a request.
func escalationMember(request, user string) string {
	return `EXISTS (SELECT 1 FROM requests er JOIN group_members egm ON egm.group_id = er.escalation_group_id
		JOIN users eu ON eu.id = egm.user_id AND eu.disabled_at IS NULL
		WHERE er.id = ` + request + ` AND er.escalated_at IS NOT NULL AND egm.user_id = ` + user + `)`
}

// stillApprover is the SQL condition true when the review v still counts: its reviewer (or the
// approver a delegate acted for) is an enabled member of the request's approver group (the SQL
// expression group) or of its escalation group once escalated (egroup; NULL or empty for none). A
// policy change can take someone out of the group after their approval (see access.markLapsed).
func stillApprover(v, group, egroup string) string {
	return `EXISTS (SELECT 1 FROM group_members lg JOIN users lu ON lu.id = lg.user_id AND lu.disabled_at IS NULL
		WHERE lg.group_id IN (` + group + `, ` + egroup + `) AND lg.user_id = COALESCE(NULLIF(` + v + `.principal_id, ''), ` + v + `.reviewer_id))`
}

// fillPeople adds requester names and emails to a page of requests in one query.
func (s *Store) fillPeople(ctx context.Context, rs []*pam.Request) error {
	idset := map[string]bool{}
	for _, r := range rs {
		idset[string(r.RequesterID)] = true
	}
	if len(idset) == 0 {
		return nil
	}
	keys := make([]string, 0, len(idset))
	for k := range idset {
		keys = append(keys, k)
	}
	var users []UserRow
	if err := s.conn(ctx).Where("id IN ?", keys).Find(&users).Error; err != nil {
		return err
	}
	by := map[string]UserRow{}
	for _, u := range users {
		by[u.ID] = u
	}
	for _, r := range rs {
		u := by[string(r.RequesterID)]
		r.RequesterName, r.RequesterEmail = u.Name, u.Email
	}
	return nil
}

// SaveTransition writes a request's new state if nobody changed it since it was read at
// r.Version; otherwise it reports ECONFLICT and writes nothing.
func (s *Store) SaveTransition(ctx context.Context, r pam.Request) error {
	row := requestToRow(r)
	res := s.conn(ctx).Model(&RequestRow{}).Where("id = ? AND version = ?", r.ID, r.Version).Updates(map[string]any{
		"status": row.Status, "decided_at": row.DecidedAt, "starts_at": row.StartsAt, "ends_at": row.EndsAt,
		"revoked_by": row.RevokedBy, "revoke_reason": row.RevokeReason, "cancel_reason": row.CancelReason,
		"version": gorm.Expr("version + 1"),
	})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ECONFLICT, "This request was changed by someone else at the same moment; it has already been decided.")
	}
	return nil
}

// ExtensionIDs lists the requests that extend a grant, oldest first, whatever their state. An
// extension is always asked by its base's requester (Extend refuses anyone else), so the lookup
// reads the requester's index rather than needing an index of its own.
func (s *Store) ExtensionIDs(ctx context.Context, base pam.Request) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Model(&RequestRow{}).Where("requester_id = ? AND extends_id = ?", string(base.RequesterID), base.ID).
		Order("created_at, id").Pluck("id", &ids).Error
	return ids, err
}

// OpenExtension returns a request for more time on grant that is still open at now: pending
// and not timed out, or approved and not ended (the approved first). ENOTFOUND when there is
// none. One statement on requests_requester_idx.
func (s *Store) OpenExtension(ctx context.Context, grant pam.Request, now time.Time) (pam.Request, error) {
	var rows []RequestRow
	err := s.conn(ctx).Raw(`SELECT `+listColumns+` FROM requests r
		WHERE r.requester_id = @user AND r.extends_id = @id
			AND ((r.status = 'pending' AND r.pending_until > @now) OR (r.status = 'approved' AND r.ends_at > @now))
		ORDER BY CASE WHEN r.status = 'approved' THEN 0 ELSE 1 END, r.created_at, r.id `+limitClause(1),
		map[string]any{"user": string(grant.RequesterID), "id": grant.ID, "now": now.UTC()}).Find(&rows).Error
	if err != nil {
		return pam.Request{}, err
	}
	if len(rows) == 0 {
		return pam.Request{}, pam.Errorf(pam.ENOTFOUND, "No open request for more time.")
	}
	return requestToDomain(rows[0]), nil
}

// Extensions returns the requests that extend base and are still approved or pending, the
// approved ones first, each kind oldest first, at most limit, with list columns (no reviews):
// one statement on requests_requester_idx.
func (s *Store) Extensions(ctx context.Context, base pam.Request, limit int) ([]pam.Request, error) {
	var rows []RequestRow
	err := s.conn(ctx).Raw(`SELECT `+listColumns+` FROM requests r
		WHERE r.requester_id = @user AND r.extends_id = @id AND r.status IN @open
		ORDER BY CASE WHEN r.status = 'approved' THEN 0 ELSE 1 END, r.created_at, r.id `+limitClause(limit),
		map[string]any{"user": string(base.RequesterID), "id": base.ID,
			"open": []string{string(pam.StatusApproved), string(pam.StatusPending)}}).Find(&rows).Error
	out := make([]pam.Request, len(rows))
	for i, row := range rows {
		out[i] = requestToDomain(row)
	}
	return out, err
}

// BrokenChainLinks returns ids of extensions still approved or pending although the grant they
// extend was revoked: rows an older version left behind, before a revoke ended its whole chain
// (bounded batch). The check never allows them; the sweeper ends them properly.
func (s *Store) BrokenChainLinks(ctx context.Context, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Table("requests e").Joins("JOIN requests b ON b.id = e.extends_id").
		Where("e.extends_id <> '' AND b.status = ? AND e.status IN ?", string(pam.StatusRevoked),
			[]string{string(pam.StatusApproved), string(pam.StatusPending)}).
		Order("e.created_at, e.id").Limit(limit).Pluck("e.id", &ids).Error
	return ids, err
}

// AddReview records one reviewer's decision; a second review by the same person is ECONFLICT.
func (s *Store) AddReview(ctx context.Context, requestID string, v pam.Review) error {
	err := s.conn(ctx).Create(&ReviewRow{RequestID: requestID, ReviewerID: string(v.ReviewerID), PrincipalID: string(v.Principal()),
		Decision: v.Decision, Comment: v.Comment, At: v.At.UTC()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return pam.Errorf(pam.ECONFLICT, "You already reviewed this request.")
	}
	return err
}

// Requests lists requests newest first, one keyset page at a time.
func (s *Store) Requests(ctx context.Context, f pam.RequestFilter) ([]pam.Request, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	q := s.conn(ctx).Model(&RequestRow{}).Order("created_at DESC, id DESC").Limit(f.Limit)
	if f.RequesterID != "" {
		q = q.Where("requester_id = ?", string(f.RequesterID))
	}
	if f.Status != "" {
		q = q.Where("status = ?", string(f.Status))
	}
	if f.Before != nil {
		t := f.Before.At.UTC()
		q = q.Where("(created_at, id) < (?, ?)", t, f.Before.ID)
	}
	return s.findRequests(ctx, q)
}

// RequestsByIDs returns the requests with these ids (in no set order; unknown ids are left out)
// with their people and reviews, in a fixed number of statements.
func (s *Store) RequestsByIDs(ctx context.Context, ids []string) ([]pam.Request, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.findRequests(ctx, s.conn(ctx).Model(&RequestRow{}).Where("id IN ?", ids))
}

func (s *Store) findRequests(ctx context.Context, q *gorm.DB) ([]pam.Request, error) {
	var rows []RequestRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.Request, len(rows))
	ptrs := make([]*pam.Request, len(rows))
	for i, r := range rows {
		out[i] = requestToDomain(r)
		ptrs[i] = &out[i]
	}
	if err := s.fillPeople(ctx, ptrs); err != nil {
		return nil, err
	}
	return out, s.fillApprovalCounts(ctx, ptrs)
}

// fillApprovalCounts loads the reviews of a page of requests in one query.
func (s *Store) fillApprovalCounts(ctx context.Context, rs []*pam.Request) error {
	if len(rs) == 0 {
		return nil
	}
	ids := make([]string, len(rs))
	by := map[string]*pam.Request{}
	for i, r := range rs {
		ids[i] = r.ID
		by[r.ID] = r
	}
	var rows []ReviewRow
	if err := s.conn(ctx).Where("request_id IN ?", ids).Order("at").Find(&rows).Error; err != nil {
		return err
	}
	for _, v := range rows {
		r := by[v.RequestID]
		rv := pam.Review{ReviewerID: pam.UserID(v.ReviewerID), Decision: v.Decision, Comment: v.Comment, At: v.At.UTC()}
		if v.PrincipalID != "" && v.PrincipalID != v.ReviewerID {
			rv.OnBehalfOf = pam.UserID(v.PrincipalID)
		}
		r.Reviews = append(r.Reviews, rv)
	}
	return nil
}

// waitingArms is an SQL SELECT of the columns cols (of requests r) of the requests waiting for
// the decision of the user whose id is the SQL expression user, at the time @now: pending and not
// timed out, not theirs, not yet reviewed by them or for them, and theirs to decide in one of
// three ways: in an approver group they are an enabled member of, escalated to such a group
// (escalatedTo), or in the group of an approver who delegated to them and is not yet counted on
// it (delegatedWaiting). The inbox, its count and the navigation's count (SessionWithUser) all
// read it, so they always agree; the ways a request reaches someone's inbox are all here.
//
// Each way is read group by group from the user's groups, on the partial indexes that hold the
// pending requests alone (requests_waiting_idx, requests_waiting_scope_idx, requests_escalated_idx),
// with cond (a further condition on r) and tail (an ORDER BY and LIMIT) inside each group's read.
// A capped count or a page so reads a bounded number of rows however many requests wait, and a
// person in no group reads none; as one condition with OR between the ways, every signed-in
// page's count read every pending request of the organisation. PostgreSQL reads each group
// with a LATERAL subquery; SQLite, which has none, reads the groups as an IN list. A request may
// come up in two ways (an approver who is also in the escalation group, or a delegate of a fellow
// approver): callers count or list distinct ids.
//
// The deadline is compared as COALESCE(r.pending_until, r.pending_until), an expression the
// planner keeps no statistics for, so it estimates the statement alike whatever @now is.
// Compared bare, PostgreSQL read @now against the column's statistics (which place almost
// every deadline in the past), judged each call's own plan cheaper than a generic one, and
// planned the statement again on every call: for the session's statement that cost more than
// running it. The requester is compared the same way: with few requesters (a small team, or
// the benchmark's two), a generic plan estimated "not the viewer" at 1 - 1/distinct while the
// viewer's own plan, knowing they request nothing, estimated almost every row, and the inbox
// page was planned on every call (about 3 ms of its 4.5 on the benchmark's data). Whether the
// user reviewed a request, themselves or through a delegate, is one look at that request's few
// reviews, with the reviewer and the principal compared the same way: by value, with a handful
// of approvers in the statistics, a generic plan took any user for the author of a fifth or more
// of all reviews and so expected the page's limit out of reach; that plan cost more than one
// planned for the viewer, and PostgreSQL planned the statement on every call again. With the
// expressions it keeps one generic plan (TestInboxStatementsKeepOneGenericPlan).
//
// delegated false leaves the third way out, for a viewer known to decide for nobody.
func waitingArms(dialect, user, cols, cond, tail string, delegated bool) string {
	common := `COALESCE(r.pending_until, r.pending_until) > @now AND COALESCE(r.requester_id, r.requester_id) <> ` + user + `
		AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.request_id = r.id
			AND (COALESCE(v.reviewer_id, v.reviewer_id) = ` + user + ` OR COALESCE(v.principal_id, v.principal_id) = ` + user + `))`
	if cond != "" {
		common += " AND " + cond
	}
	groups := `SELECT gm.group_id FROM group_members gm
		JOIN users gu ON gu.id = gm.user_id AND gu.disabled_at IS NULL WHERE gm.user_id = ` + user
	principals := `SELECT DISTINCT xg.group_id FROM delegations xd JOIN group_members xg ON xg.user_id = xd.principal_id
		WHERE xd.delegate_id = ` + user + ` AND xd.ends_at > @now AND xd.starts_at <= @now AND xd.ended_at IS NULL`
	ways := []struct{ groups, match string }{
		{groups, "r.approver_group_id"},
		{groups, "r.escalated_at IS NOT NULL AND r.escalation_group_id"},
		{principals, "r.approver_group_id"},
	}
	if !delegated {
		ways = ways[:2]
	}
	arms := make([]string, len(ways))
	for i, w := range ways {
		where := "r.status = 'pending' AND "
		extra := ""
		if i == 2 {
			extra = " AND " + delegatedWaiting(user)
		}
		if dialect == Postgres {
			arms[i] = `SELECT x.* FROM (` + w.groups + `) g CROSS JOIN LATERAL (SELECT ` + cols + ` FROM requests r
				WHERE ` + where + w.match + ` = g.group_id AND ` + common + extra + ` ` + tail + `) x`
		} else {
			arms[i] = `SELECT * FROM (SELECT ` + cols + ` FROM requests r
				WHERE ` + where + w.match + ` IN (` + w.groups + `) AND ` + common + extra + ` ` + tail + `)`
		}
	}
	return strings.Join(arms, "\n\t\tUNION ALL ")
}

// waitingCount is the SQL expression counting the requests waiting for the user whose id is the
// SQL expression user (waitingArms) up to limit: a badge's or a heading's count, which reads at
// most limit rows of each group however many wait.
func waitingCount(dialect, user, cond string, limit int, delegated bool) string {
	return `(SELECT COUNT(*) FROM (SELECT DISTINCT c.id FROM (` + waitingArms(dialect, user, "r.id", cond, limitClause(limit), delegated) +
		`) c ` + limitClause(limit) + `) n)`
}

// delegatedWaiting is the SQL condition true when the user whose id is the SQL expression user
// may decide the request r by delegation (delegatedApprovers) for an approver not yet counted
// on it.
func delegatedWaiting(user string) string {
	return `EXISTS (SELECT 1 FROM (` + delegatedApprovers(user, "r.approver_group_id", "r.requester_id") + `) dq
		WHERE NOT EXISTS (SELECT 1 FROM reviews pv WHERE pv.request_id = r.id AND (pv.principal_id = dq.principal_id OR pv.reviewer_id = dq.principal_id)))`
}

// onBehalfName is an SQL expression naming the approver a user (the SQL expression user) would
// act for on request r by delegation, or an empty string when they decide it as an approver themselves.
func onBehalfName(user string) string {
	return `CASE WHEN r.approver_group_id IN (SELECT gm.group_id FROM group_members gm WHERE gm.user_id = ` + user + `) THEN ''
		ELSE COALESCE((SELECT MIN(ou.name) FROM users ou WHERE ou.id IN (` + delegatedApprovers(user, "r.approver_group_id", "r.requester_id") + `)
			AND NOT EXISTS (SELECT 1 FROM reviews ov WHERE ov.request_id = r.id AND (ov.principal_id = ou.id OR ov.reviewer_id = ou.id))), '') END`
}

// listColumns are the columns of requests r a list reads: all but the free texts (justification,
// ticket, revoke reason), which only a request's own card shows.
const listColumns = `r.id, r.requester_id, r.policy_id, r.scope_type, r.scope_id, r.scope_name, r.approval_type,
	r.approver_group_id, r.approvals_required, r.duration_min, r.scheduled_start, r.status, r.created_at, r.pending_until,
	r.decided_at, r.starts_at, r.ends_at, r.revoked_by, r.cancel_reason, r.extends_id, r.emergency, r.version,
	r.escalation_group_id, r.remind_at, r.reminded_at, r.escalate_at, r.escalated_at`

// Waiting is a request in someone's inbox as its table shows it: the request's listColumns with
// its requester's name and email (no reviews) and how many approvals it has so far.
type Waiting struct {
	pam.Request
	Approvals int
	// Escalated is true when the request waits for the user because it was escalated to them:
	// they are in its escalation group, not in its approver group (a delegate who reaches it for
	// an approver is asked on that approver's behalf, OnBehalfOf, not by the escalation).
	Escalated bool
	// OnBehalfOf names the approver the user would decide it for, by delegation; "" when they
	// are an approver of it themselves.
	OnBehalfOf string
}

// InboxPage is one keyset page of a user's inbox.
type InboxPage struct {
	Waiting []Waiting
	// More is true when requests follow the page.
	More bool
	// Total counts the requests waiting for the user, on this page or not, and Matched those
	// the filter keeps (Total when it keeps all), each up to InboxCountCap+1: a count above
	// InboxCountCap means "more than InboxCountCap".
	Total, Matched int64
	// Decided and Emergencies are what the filter's Decided and Emergencies asked for
	// (decidedAndEmergencies), read in the same statement.
	Decided     []Decided
	Emergencies []pam.Request
}

// inboxPageRow is one row of InboxPage's statement: the page's request (all NULL on a page with
// no waiting requests, when the row only carries the counts), its requester and approvals, and
// the counts. Its columns are inboxColumns, in order.
type inboxPageRow struct {
	// Kind is "w" for the waiting requests' part, "d" for a decided request and "e" for an
	// emergency request waiting for review (decidedAndEmergencies).
	Kind           string
	RequestRow     `gorm:"embedded"`
	RequesterName  string
	RequesterEmail string
	Approvals      int
	EscalatedToMe  bool
	OnBehalfName   string
	Total          int64
	Matched        int64
	MyDecision     *string
	MyAt           *time.Time
}

// scanInboxRow reads one row of InboxPage's statement. The waiting part's request columns come
// from an outer join, so each is read as nullable.
func scanInboxRow(rows *sql.Rows) (inboxPageRow, error) {
	var (
		r                                                        inboxPageRow
		id, requester, policy, scopeType, scopeID, scopeName     sql.NullString
		approvalType, status, revokedBy, cancelReason, extendsID sql.NullString
		name, email, onBehalf, myDecision                        sql.NullString
		approvalsRequired, durationMin, version, approvals       sql.NullInt64
		emergency, escalatedToMe                                 sql.NullBool
		createdAt, pendingUntil                                  nullTime
		scheduled, decided, starts, ends, remind, reminded, myAt nullTime
		escalate, escalated                                      nullTime
	)
	err := rows.Scan(&r.Kind, &id, &requester, &policy, &scopeType, &scopeID, &scopeName, &approvalType,
		&r.ApproverGroupID, &approvalsRequired, &durationMin, &scheduled, &status, &createdAt, &pendingUntil,
		&decided, &starts, &ends, &revokedBy, &cancelReason, &extendsID, &emergency, &version,
		&r.EscalationGroupID, &remind, &reminded, &escalate, &escalated,
		&name, &email, &approvals, &escalatedToMe, &onBehalf, &r.Total, &r.Matched, &myDecision, &myAt)
	if err != nil {
		return r, err
	}
	r.RequestRow = RequestRow{
		ID: id.String, RequesterID: requester.String, PolicyID: policy.String, ScopeType: scopeType.String,
		ScopeID: scopeID.String, ScopeName: scopeName.String, ApprovalType: approvalType.String,
		ApproverGroupID: r.ApproverGroupID, ApprovalsRequired: int(approvalsRequired.Int64), DurationMin: int(durationMin.Int64),
		ScheduledStart: scheduled.ptr(), Status: status.String, CreatedAt: createdAt.Time, PendingUntil: pendingUntil.Time,
		DecidedAt: decided.ptr(), StartsAt: starts.ptr(), EndsAt: ends.ptr(), RevokedBy: revokedBy.String,
		CancelReason: cancelReason.String, ExtendsID: extendsID.String, Emergency: emergency.Bool, Version: int(version.Int64),
		EscalationGroupID: r.EscalationGroupID, RemindAt: remind.ptr(), RemindedAt: reminded.ptr(), EscalateAt: escalate.ptr(),
		EscalatedAt: escalated.ptr(),
	}
	r.RequesterName, r.RequesterEmail, r.Approvals = name.String, email.String, int(approvals.Int64)
	r.EscalatedToMe, r.OnBehalfName, r.MyAt = escalatedToMe.Bool, onBehalf.String, myAt.ptr()
	if myDecision.Valid {
		r.MyDecision = &myDecision.String
	}
	return r, nil
}

// InboxPage returns the requests waiting for a user that the filter keeps, in its order, after
// its cursor (at most its limit), with how many wait in all and how many the filter keeps,
// reading the waiting requests once in one statement.
func (s *Store) InboxPage(ctx context.Context, user pam.UserID, now time.Time, f pam.InboxFilter) (InboxPage, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	rs, err := s.queryCompiled(ctx, s.inboxPageCompiled(f), inboxArgs(user, now, f))
	if err != nil {
		return InboxPage{}, err
	}
	defer rs.Close()
	var rows []inboxPageRow
	for rs.Next() {
		r, err := scanInboxRow(rs)
		if err != nil {
			return InboxPage{}, err
		}
		rows = append(rows, r)
	}
	if err := rs.Err(); err != nil {
		return InboxPage{}, err
	}
	var out InboxPage
	for _, r := range rows {
		if r.Kind != "w" {
			req := requestToDomain(r.RequestRow)
			req.RequesterName = r.RequesterName
			if r.Kind == "e" {
				out.Emergencies = append(out.Emergencies, req)
			} else if r.MyDecision != nil && r.MyAt != nil {
				out.Decided = append(out.Decided, Decided{Request: req, Decision: *r.MyDecision, At: r.MyAt.UTC(), By: r.OnBehalfName})
			}
			continue
		}
		out.Total, out.Matched = r.Total, r.Matched
		if r.ID == "" {
			continue
		}
		req := requestToDomain(r.RequestRow)
		req.RequesterName, req.RequesterEmail = r.RequesterName, r.RequesterEmail
		out.Waiting = append(out.Waiting, Waiting{Request: req, Approvals: r.Approvals, Escalated: r.EscalatedToMe, OnBehalfOf: r.OnBehalfName})
	}
	// A union keeps no order: each part is put back in its own.
	key := func(w Waiting) time.Time { return w.CreatedAt }
	if f.Sort == pam.InboxByTimeLeft {
		key = func(w Waiting) time.Time { return w.PendingUntil }
	}
	sort.SliceStable(out.Waiting, func(i, j int) bool {
		if a, b := key(out.Waiting[i]), key(out.Waiting[j]); !a.Equal(b) {
			return a.Before(b)
		}
		return out.Waiting[i].ID < out.Waiting[j].ID
	})
	sortDecidedAndEmergencies(out.Decided, out.Emergencies)
	if len(out.Waiting) > f.Limit {
		out.Waiting, out.More = out.Waiting[:f.Limit], true
	}
	return out, nil
}

// inboxShape is what the text of InboxPage's statement follows: the filter's parts that are
// set, not their values. Every page size and count comes from the code, so there are few.
type inboxShape struct {
	dialect                               string
	sort                                  pam.InboxSort
	requester, policy, scope, soon, after bool
	delegated                             bool
	limit, decided, emergencies           int
}

// inboxQueries caches inboxPageCompiled by shape.
var inboxQueries sync.Map

// inboxPageCompiled is InboxPage's statement for f, compiled, built once for each shape rather
// than on every view of the inbox (eight kilobytes of text, built and then hashed to be looked up).
func (s *Store) inboxPageCompiled(f pam.InboxFilter) compiledQuery {
	shape := inboxShape{dialect: s.dialect, sort: f.Sort, requester: f.RequesterID != "", policy: f.PolicyID != "",
		scope: f.ScopeID != "", soon: !f.TimesOutBy.IsZero(), after: f.After != nil, delegated: !f.NoDelegations,
		limit: f.Limit, decided: max(f.Decided, 0), emergencies: max(f.Emergencies, 0)}
	if c, ok := inboxQueries.Load(shape); ok {
		return c.(compiledQuery)
	}
	c := compileNamed(s.dialect, s.inboxPageText(f))
	inboxQueries.Store(shape, c)
	return c
}

// inboxArgs are the named values of InboxPage's statement for f.
func inboxArgs(user pam.UserID, now time.Time, f pam.InboxFilter) map[string]any {
	args := map[string]any{"user": string(user), "now": now.UTC()}
	if f.RequesterID != "" {
		args["requester"] = string(f.RequesterID)
	}
	if f.PolicyID != "" {
		args["policy"] = f.PolicyID
	}
	if f.ScopeID != "" {
		args["scope_type"], args["scope_id"] = string(f.ScopeType), f.ScopeID
	}
	if !f.TimesOutBy.IsZero() {
		args["by"] = f.TimesOutBy.UTC()
	}
	if f.After != nil {
		args["at"], args["id"] = f.After.At.UTC(), f.After.ID
	}
	return args
}

// inboxPageText is the text of InboxPage's statement for f (inboxPageCompiled keeps it by
// shape). Every part of it reads the waiting requests from the user's groups on the waiting
// indexes (waitingArms), with the filter inside each group's read: w, the first InboxCountCap+1
// that the filter keeps in the page's order, gives the filter's count and, on a first page, the
// page itself; a filtered inbox counts all its requests apart, and a page after a cursor reads
// from the cursor on. No part reads more than InboxCountCap+1 or the page's limit of rows a group,
// however many wait. Only the page's requests are read whole, by key; the one-row count keeps a
// page past the end answering with the counts.
func (s *Store) inboxPageText(f pam.InboxFilter) string {
	key := "created_at"
	if f.Sort == pam.InboxByTimeLeft {
		key = "pending_until"
	}
	var match []string
	if f.RequesterID != "" {
		match = append(match, "r.requester_id = @requester")
	}
	if f.PolicyID != "" {
		match = append(match, "r.policy_id = @policy")
	}
	if f.ScopeID != "" {
		match = append(match, "r.scope_type = @scope_type AND r.scope_id = @scope_id")
	}
	if !f.TimesOutBy.IsZero() {
		match = append(match, "r.pending_until <= @by")
	}
	// w holds the first InboxCountCap+1 requests the filter keeps, in the page's order: it
	// counts them, and without a cursor it is also the page.
	cond := strings.Join(match, " AND ")
	delegated := !f.NoDelegations
	counted := waitingArms(s.dialect, "@user", "r.id, r."+key, cond, "ORDER BY r."+key+", r.id "+limitClause(InboxCountCap+1), delegated)
	total := "(SELECT COUNT(*) FROM w)"
	if len(match) > 0 {
		total = waitingCount(s.dialect, "@user", "", InboxCountCap+1, delegated)
	}
	keys := "SELECT w.id, w." + key + " FROM w ORDER BY w." + key + ", w.id " + limitClause(f.Limit+1)
	if f.After != nil {
		// The leading bound lets each group's read start at the cursor in the index.
		after := "r." + key + " >= @at AND (r." + key + " > @at OR r.id > @id)"
		if cond != "" {
			after = cond + " AND " + after
		}
		keys = "SELECT DISTINCT k.id, k." + key + " FROM (" + waitingArms(s.dialect, "@user", "r.id, r."+key, after,
			"ORDER BY r."+key+", r.id "+limitClause(f.Limit+1), delegated) + ") k ORDER BY k." + key + ", k.id " + limitClause(f.Limit+1)
	}
	// With the viewer's recent decisions and emergency reviews asked for, they come in the same
	// statement (decidedAndEmergencies).
	// They come first: SQLite takes a union's column types from its first part, where the
	// decision's time is a column (in the waiting part it is NULL, typed for PostgreSQL).
	before, myDecision, myAt := "", "NULL", "NULL"
	if s.dialect == Postgres {
		myDecision, myAt = "CAST(NULL AS text)", "CAST(NULL AS timestamptz)"
	}
	// Without delegations no request waits on behalf of another approver.
	behalf := "''"
	if delegated {
		behalf = onBehalfName("@user")
	}
	if f.Decided > 0 || f.Emergencies > 0 {
		before = decidedAndEmergencies(max(f.Decided, 0), max(f.Emergencies, 0)) + "\n\t\tUNION ALL "
	}
	return `WITH w AS MATERIALIZED (SELECT DISTINCT c.id, c.` + key + ` FROM (` + counted + `) c ORDER BY c.` + key + `, c.id ` + limitClause(InboxCountCap+1) + `)
		` + before + `SELECT * FROM (SELECT 'w' AS kind, p.*, t.total, t.matched, ` + myDecision + ` AS my_decision, ` + myAt + ` AS my_at
		FROM (SELECT ` + total + ` AS total, (SELECT COUNT(*) FROM w) AS matched) t
		LEFT JOIN (SELECT ` + listColumns + `, u.name AS requester_name, u.email AS requester_email,
				(SELECT COUNT(*) FROM reviews v WHERE v.request_id = r.id AND v.decision = 'approve'
					AND ` + stillApprover("v", "r.approver_group_id", "CASE WHEN r.escalated_at IS NOT NULL THEN r.escalation_group_id END") + `) AS approvals,
				(r.escalated_at IS NOT NULL AND EXISTS (SELECT 1 FROM group_members gm
					WHERE gm.group_id = r.escalation_group_id AND gm.user_id = @user) AND NOT EXISTS (SELECT 1 FROM group_members gm
					WHERE gm.group_id = r.approver_group_id AND gm.user_id = @user)) AS escalated_to_me,
				` + behalf + ` AS on_behalf_name
			FROM (` + keys + `) k
			JOIN requests r ON r.id = k.id LEFT JOIN users u ON u.id = r.requester_id) p ON 1 = 1) pw`
}

// RequesterHistory returns the requester's other requests for r's scope, at most limit: those
// still open at now (a grant not ended, a request still pending) first, then the newest, in one
// statement on requests_requester_scope_idx. Reviews and free texts are not read.
func (s *Store) RequesterHistory(ctx context.Context, r pam.Request, now time.Time, limit int) ([]pam.Request, error) {
	var rows []RequestRow
	err := s.conn(ctx).Raw(`SELECT `+listColumns+` FROM requests r
		WHERE r.requester_id = @user AND r.scope_type = @type AND r.scope_id = @scope AND r.id <> @id
		ORDER BY CASE WHEN (r.status = 'approved' AND r.ends_at > @now) OR (r.status = 'pending' AND r.pending_until > @now)
			THEN 0 ELSE 1 END, r.created_at DESC, r.id `+limitClause(limit),
		map[string]any{"user": string(r.RequesterID), "type": string(r.ScopeType), "scope": r.ScopeID, "id": r.ID,
			"now": now.UTC()}).Find(&rows).Error
	out := make([]pam.Request, len(rows))
	for i, row := range rows {
		out[i] = requestToDomain(row)
	}
	return out, err
}

// InboxCount counts the requests waiting for a user's decision and the emergency requests
// waiting for their review, up to NavCountCap each (for the navigation badge of a page whose
// session was read without it). The count is read from the user's row, as the session's
// statement reads it: with the user a column rather than a value, PostgreSQL keeps one generic
// plan for it instead of planning each call for the user it names.
func (s *Store) InboxCount(ctx context.Context, user pam.UserID, now time.Time) (int64, error) {
	var n []int64
	err := s.inboxCountQuery(ctx, user, now).Find(&n).Error
	if err != nil || len(n) == 0 {
		return 0, err
	}
	return n[0], nil
}

// inboxCountQuery is InboxCount's statement.
func (s *Store) inboxCountQuery(ctx context.Context, user pam.UserID, now time.Time) *gorm.DB {
	return s.conn(ctx).Raw("SELECT "+navCount(s.dialect, "u.id")+" AS n FROM users u WHERE u.id = @user",
		map[string]any{"user": string(user), "now": now.UTC()})
}

// NavCountCap is where the navigation's count of waiting requests stops counting (InboxCount
// and the session's statement): the badge then says "99+", and an approver with thousands
// waiting costs every page a hundred index entries, not thousands.
const NavCountCap = 100

// InboxCountCap is where the inbox page's counts stop counting: past it the page says "more
// than 100" rather than read every waiting request on every view to tell 1,000 from 1,001.
const InboxCountCap = NavCountCap

// Decided is a request someone reviewed, with their decision on it: their own, or one their
// delegate made on their behalf.
type Decided struct {
	// Request carries its listColumns and its requester's name; Reviews is empty.
	pam.Request
	Decision string
	At       time.Time
	// By names the delegate who decided it on their behalf; "" when they decided it themselves.
	By string
}

// IsActiveMember reports whether an enabled user is in a group.
func (s *Store) IsActiveMember(ctx context.Context, groupID string, user pam.UserID) (bool, error) {
	if groupID == "" {
		return false, nil
	}
	var n int64
	err := s.conn(ctx).Table("group_members gm").Joins("JOIN users u ON u.id = gm.user_id AND u.disabled_at IS NULL").
		Where("gm.group_id = ? AND gm.user_id = ?", groupID, string(user)).Count(&n).Error
	return n > 0, err
}

// ActiveGroupIDs lists the groups an enabled user is in (none for a disabled one): the
// approver groups whose requests they may review, read once for a whole page.
func (s *Store) ActiveGroupIDs(ctx context.Context, user pam.UserID) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Table("group_members gm").Joins("JOIN users u ON u.id = gm.user_id AND u.disabled_at IS NULL").
		Where("gm.user_id = ?", string(user)).Order("gm.group_id").Pluck("gm.group_id", &ids).Error
	return ids, err
}

// GrantFor returns the grant in force at now that lets a user run a task: an approved request
// whose window contains now and whose scope is the task, a role holding it, or a role group
// holding such a role. The times decide, not the status a sweeper may not have written yet.
//
// An extension counts only while its chain holds: its base exists, was not revoked or ended
// early (it is approved or expired), and ran up to the extension's start — or had already run
// out by itself when the extension was approved, which then started on its own approval.
// A revoke takes the chain down in its own transaction; this keeps a check from answering from
// a half-ended chain whatever wrote the rows. The base is read by its primary key.
func (s *Store) GrantFor(ctx context.Context, user pam.UserID, taskID string, now time.Time) (pam.Request, bool, error) {
	var row RequestRow
	err := s.grantQuery(ctx, user, taskID, now).Order("ends_at DESC").Limit(1).Find(&row).Error
	if err != nil || row.ID == "" {
		return pam.Request{}, false, err
	}
	return requestToDomain(row), true, nil
}

func (s *Store) grantQuery(ctx context.Context, user pam.UserID, taskID string, now time.Time) *gorm.DB {
	return s.conn(ctx).Model(&RequestRow{}).
		Where("requester_id = ? AND status = ? AND starts_at <= ? AND ends_at > ?", string(user), string(pam.StatusApproved), now.UTC(), now.UTC()).
		Where(`(scope_type = 'task' AND scope_id = ?)
			OR (scope_type = 'role' AND scope_id IN (SELECT role_id FROM role_tasks WHERE task_id = ?))
			OR (scope_type = 'role_group' AND scope_id IN (SELECT rgr.role_group_id FROM role_group_roles rgr JOIN role_tasks rt ON rt.role_id = rgr.role_id WHERE rt.task_id = ?))`,
			taskID, taskID, taskID).
		Where(`requests.extends_id = '' OR EXISTS (SELECT 1 FROM requests b WHERE b.id = requests.extends_id
			AND b.status IN (?, ?) AND (b.ends_at >= requests.starts_at OR b.ends_at < requests.decided_at))`,
			string(pam.StatusApproved), string(pam.StatusExpired))
}

// OpenForScope returns a user's requests for one scope that are still open at now, at most
// limit: grants approved and not yet ended (in force or scheduled), then requests pending and
// not timed out, latest end first. It reads the requester's index (requests_grant_idx), so it
// costs the same however many requests others have.
func (s *Store) OpenForScope(ctx context.Context, user pam.UserID, scope pam.ScopeType, scopeID string, now time.Time, limit int) ([]pam.Request, error) {
	at := now.UTC()
	q := s.conn(ctx).Model(&RequestRow{}).
		Where("requester_id = ? AND status IN ? AND scope_type = ? AND scope_id = ?", string(user),
			[]string{string(pam.StatusApproved), string(pam.StatusPending)}, string(scope), scopeID).
		Where("(status = ? AND ends_at > ?) OR (status = ? AND pending_until > ?)",
			string(pam.StatusApproved), at, string(pam.StatusPending), at).
		Order("status, ends_at DESC, created_at DESC, id").Limit(limit)
	var rows []RequestRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.Request, len(rows))
	for i, r := range rows {
		out[i] = requestToDomain(r)
	}
	return out, nil
}

// DueForSweep returns ids of requests whose recorded state lags their times: pending past
// their deadline or approved past their end (bounded batch), the longest overdue first. Each
// kind is read on its own index, (status, pending_until) and (status, ends_at), from its
// oldest deadline up to now, so a sweep reads the requests it returns and no others, however
// many requests the table holds.
func (s *Store) DueForSweep(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Raw(dueForSweepSQL(limit), now.UTC(), now.UTC()).Pluck("id", &ids).Error
	return ids, err
}

func dueForSweepSQL(limit int) string {
	return `SELECT id FROM (
		SELECT * FROM (SELECT id, pending_until AS due FROM requests WHERE status = '` + string(pam.StatusPending) + `'
			AND pending_until <= ? ORDER BY pending_until ` + limitClause(limit) + `) p
		UNION ALL
		SELECT * FROM (SELECT id, ends_at AS due FROM requests WHERE status = '` + string(pam.StatusApproved) + `'
			AND ends_at <= ? ORDER BY ends_at ` + limitClause(limit) + `) e) d
	ORDER BY due, id ` + limitClause(limit)
}

// ActiveMembersExcept counts enabled members of a group other than one user.
func (s *Store) ActiveMembersExcept(ctx context.Context, groupID string, user pam.UserID) (int64, error) {
	if groupID == "" {
		return 0, nil
	}
	var n int64
	err := s.conn(ctx).Table("group_members gm").Joins("JOIN users u ON u.id = gm.user_id AND u.disabled_at IS NULL").
		Where("gm.group_id = ? AND gm.user_id <> ?", groupID, string(user)).Count(&n).Error
	return n, err
}

// EligiblePolicies lists the enabled policies a user may ask under (bounded), with scope names.
func (s *Store) EligiblePolicies(ctx context.Context, user pam.UserID, limit int) ([]pam.Policy, error) {
	var rows []PolicyRow
	err := s.conn(ctx).Model(&PolicyRow{}).Where("enabled").
		Where("eligible_group_id IS NULL OR eligible_group_id IN (SELECT group_id FROM group_members WHERE user_id = ?)", string(user)).
		Order("created_at, id").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]pam.Policy, 0, len(rows))
	for _, r := range rows {
		p := policyToDomain(r)
		if p.ScopeName, err = s.scopeName(ctx, p.ScopeType, p.ScopeID); err != nil {
			continue // its scope was deleted
		}
		out = append(out, p)
	}
	return out, nil
}

// GroupName returns a group's name, or "" if it does not exist.
func (s *Store) GroupName(ctx context.Context, id string) string {
	var r GroupRow
	if id == "" || s.conn(ctx).Where("id = ?", id).Take(&r).Error != nil {
		return ""
	}
	return r.Name
}

// approverExists is an SQL condition true when the enabled user whose id is the SQL expression
// user may decide requests, now or later: a member of an approver group (one a policy names, the
// organisation's default approver group, or one an emergency request waits on for its review),
// of an escalation group (one a policy names, or one a pending request escalated to), or a
// delegate whose delegation has not ended at @now.
// IsApprover, SessionWithUser and APITokenWithUser share it, so the rule that approvers must
// use two-step verification holds everyone who decides.
func approverExists(user string) string {
	return `(EXISTS (SELECT 1 FROM group_members gm JOIN users gu ON gu.id = gm.user_id AND gu.disabled_at IS NULL
		WHERE gm.user_id = ` + user + `
		AND (gm.group_id IN (SELECT approver_group_id FROM policies WHERE approver_group_id IS NOT NULL)
			OR gm.group_id IN (SELECT escalation_group_id FROM policies WHERE escalation_group_id IS NOT NULL)
			OR gm.group_id IN (SELECT default_approver_group_id FROM org_settings WHERE default_approver_group_id IS NOT NULL)
			OR EXISTS (SELECT 1 FROM requests er WHERE er.escalation_group_id = gm.group_id
				AND er.status = 'pending' AND er.escalated_at IS NOT NULL)
			OR EXISTS (SELECT 1 FROM requests r WHERE r.approver_group_id = gm.group_id AND ` + unreviewedEmergency + `)))
		OR EXISTS (SELECT 1 FROM delegations ad JOIN users au ON au.id = ad.delegate_id AND au.disabled_at IS NULL
			WHERE ad.delegate_id = ` + user + ` AND ad.ended_at IS NULL AND ad.ends_at > @now))`
}

// IsApprover reports whether an enabled user may decide requests (see approverExists).
func (s *Store) IsApprover(ctx context.Context, user pam.UserID) (bool, error) {
	var r struct{ Approver bool }
	err := s.conn(ctx).Raw(`SELECT `+approverExists("@user")+` AS approver`,
		map[string]any{"user": string(user), "now": s.now().UTC()}).Find(&r).Error
	return r.Approver, err
}

// DueReminders returns ids of pending requests whose reminder is due at now and was not sent
// (bounded batch), read from requests_remind_due_idx.
func (s *Store) DueReminders(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Model(&RequestRow{}).
		Where("status = ? AND reminded_at IS NULL AND remind_at IS NOT NULL AND remind_at <= ?", string(pam.StatusPending), now.UTC()).
		Order("remind_at").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// DueEscalations returns ids of pending requests whose escalation is due at now and was not
// made (bounded batch), read from requests_escalate_due_idx.
func (s *Store) DueEscalations(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Model(&RequestRow{}).
		Where("status = ? AND escalated_at IS NULL AND escalate_at IS NOT NULL AND escalate_at <= ? AND escalation_group_id IS NOT NULL", string(pam.StatusPending), now.UTC()).
		Order("escalate_at").Limit(limit).Pluck("id", &ids).Error
	return ids, err
}

// MarkReminded records that a request's reminder is sent at now, when it is pending, due and
// not yet sent; it reports whether this call recorded it. Of several sweeps at once exactly one
// gets true (the conditional UPDATE decides), and only it sends the reminder.
func (s *Store) MarkReminded(ctx context.Context, id string, now time.Time) (bool, error) {
	res := s.conn(ctx).Model(&RequestRow{}).
		Where("id = ? AND status = ? AND reminded_at IS NULL AND remind_at <= ? AND pending_until > ?", id, string(pam.StatusPending), now.UTC(), now.UTC()).
		Update("reminded_at", now.UTC())
	return res.RowsAffected == 1, res.Error
}

// MarkEscalated records that a request is escalated at now, when it is pending, due and not yet
// escalated; it reports whether this call recorded it (see MarkReminded). From then on the
// enabled members of its escalation group may decide it (escalationMember).
func (s *Store) MarkEscalated(ctx context.Context, id string, now time.Time) (bool, error) {
	res := s.conn(ctx).Model(&RequestRow{}).
		Where("id = ? AND status = ? AND escalated_at IS NULL AND escalate_at <= ? AND pending_until > ? AND escalation_group_id IS NOT NULL",
			id, string(pam.StatusPending), now.UTC(), now.UTC()).
		Update("escalated_at", now.UTC())
	return res.RowsAffected == 1, res.Error
}

// Deciders returns the names of the enabled people who may still decide r (members of its
// approver group and, once escalated, of its escalation group; not its requester, not those
// who already reviewed it), by name, at most limit, with how many there are in all: one
// statement.
func (s *Store) Deciders(ctx context.Context, r pam.Request, limit int) ([]string, int, error) {
	var rows []struct {
		Name  string
		Total int
	}
	err := s.conn(ctx).Raw(`SELECT u.name, COUNT(*) OVER () AS total FROM users u
		WHERE u.disabled_at IS NULL AND u.id <> @requester
		AND (u.id IN (SELECT user_id FROM group_members WHERE group_id = @group)
			OR (@escalated AND u.id IN (SELECT user_id FROM group_members WHERE group_id = @egroup)))
		AND NOT EXISTS (SELECT 1 FROM reviews v WHERE v.request_id = @id AND v.reviewer_id = u.id)
		ORDER BY u.name, u.id `+limitClause(limit),
		map[string]any{"requester": string(r.RequesterID), "group": r.ApproverGroupID, "escalated": r.Escalated(),
			"egroup": r.EscalationGroupID, "id": r.ID}).Find(&rows).Error
	if err != nil || len(rows) == 0 {
		return nil, 0, err
	}
	names := make([]string, len(rows))
	for i, row := range rows {
		names[i] = row.Name
	}
	return names, rows[0].Total, nil
}
