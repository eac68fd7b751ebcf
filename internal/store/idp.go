package store

import (
	"context"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm/clause"
)

// Groups the identity provider manages: a group with an idp_value takes its members from the
// provider's claim at each SSO sign-in, and each of its memberships records when the provider
// last confirmed it (group_members.confirmed_at), so the sweep can end those nobody confirmed
// for too long.

// LockGroup reads a group without its member count and, on PostgreSQL, locks its row until the
// transaction ends, so a hand edit of its members and a change of its mapping take turns
// (SQLite's writers already do).
func (s *Store) LockGroup(ctx context.Context, id string) (pam.Group, error) {
	q := s.conn(ctx).Where("id = ?", id)
	if s.dialect == Postgres && s.inTx {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var r GroupRow
	if err := q.Take(&r).Error; err != nil {
		return pam.Group{}, translate(err, "Group")
	}
	return groupToDomain(r, 0), nil
}

// SetGroupIdP maps a group to a claim value, or unmaps it when value is empty. Mapping makes
// its present members provider memberships confirmed now (they stay until the provider says
// otherwise at a sign-in, or lapse); unmapping makes every membership a hand-made one again.
func (s *Store) SetGroupIdP(ctx context.Context, id, value string, now time.Time) error {
	db := s.conn(ctx)
	res := db.Model(&GroupRow{}).Where("id = ?", id).Updates(map[string]any{"idp_value": value, "updated_at": now.UTC()})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "Group not found.")
	}
	if value == "" {
		return db.Model(&GroupMemberRow{}).Where("group_id = ?", id).Update("confirmed_at", nil).Error
	}
	return db.Model(&GroupMemberRow{}).Where("group_id = ? AND confirmed_at IS NULL", id).Update("confirmed_at", now.UTC()).Error
}

// IdPGroups lists the groups the identity provider manages, by name (at most 1,000). Inside a
// transaction on PostgreSQL their rows are share-locked until it ends: sign-ins syncing at once
// do not wait for each other, but a change of a mapping waits for them (and they for it), so a
// sign-in never changes the members of a group that stopped being managed meanwhile.
func (s *Store) IdPGroups(ctx context.Context) ([]pam.Group, error) {
	q := s.conn(ctx).Where("idp_value <> ''").Order("name_key").Limit(1000)
	if s.dialect == Postgres && s.inTx {
		q = q.Clauses(clause.Locking{Strength: "SHARE"})
	}
	var rows []GroupRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.Group, len(rows))
	for i, r := range rows {
		out[i] = groupToDomain(r, 0)
	}
	return out, nil
}

// HasIdPGroups reports whether the identity provider manages any group.
func (s *Store) HasIdPGroups(ctx context.Context) (bool, error) {
	var ids []string
	err := s.conn(ctx).Model(&GroupRow{}).Where("idp_value <> ''").Limit(1).Pluck("id", &ids).Error
	return len(ids) > 0, err
}

// ProviderManaged reports, inside tx, whether the identity provider manages a group's members;
// it is the admin.ProviderManaged that access reviews consult.
func ProviderManaged(ctx context.Context, tx *Store, groupID string) (bool, error) {
	var vals []string
	err := tx.conn(ctx).Model(&GroupRow{}).Where("id = ?", groupID).Limit(1).Pluck("idp_value", &vals).Error
	return len(vals) == 1 && vals[0] != "", err
}

// ConfirmIdPMember records that the identity provider confirmed userID's membership of groupID
// at now, adding the membership when it is new; added says which. A membership another
// sign-in added a moment ago is confirmed, not added twice.
func (s *Store) ConfirmIdPMember(ctx context.Context, groupID string, userID pam.UserID, now time.Time) (added bool, err error) {
	db := s.conn(ctx)
	confirm := func() (int64, error) {
		res := db.Model(&GroupMemberRow{}).Where("group_id = ? AND user_id = ?", groupID, string(userID)).Update("confirmed_at", now.UTC())
		return res.RowsAffected, res.Error
	}
	if n, err := confirm(); err != nil || n > 0 {
		return false, err
	}
	at := now.UTC()
	res := db.Clauses(clause.OnConflict{DoNothing: true}).
		Create(&GroupMemberRow{GroupID: groupID, UserID: string(userID), AddedAt: at, ConfirmedAt: &at})
	if res.Error != nil {
		return false, res.Error
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	_, err = confirm()
	return false, err
}

// IdPMemberships returns the ids of the provider-managed groups userID is a member of.
func (s *Store) IdPMemberships(ctx context.Context, userID pam.UserID) ([]string, error) {
	var ids []string
	err := s.conn(ctx).Table("group_members gm").Joins("JOIN groups g ON g.id = gm.group_id AND g.idp_value <> ''").
		Where("gm.user_id = ?", string(userID)).Order("gm.group_id").Pluck("gm.group_id", &ids).Error
	return ids, err
}

// LapsedMembership is a provider membership nobody confirmed since before a cut-off.
type LapsedMembership struct {
	GroupID     string
	UserID      string
	ConfirmedAt time.Time
}

// LapsedIdPMembers lists, oldest first, up to limit memberships of provider-managed groups last
// confirmed before cutoff (read on group_members_confirmed_idx).
func (s *Store) LapsedIdPMembers(ctx context.Context, cutoff time.Time, limit int) ([]LapsedMembership, error) {
	var out []LapsedMembership
	err := s.conn(ctx).Table("group_members gm").Select("gm.group_id, gm.user_id, gm.confirmed_at").
		Joins("JOIN groups g ON g.id = gm.group_id AND g.idp_value <> ''").
		Where("gm.confirmed_at < ?", cutoff.UTC()).Order("gm.confirmed_at, gm.group_id, gm.user_id").Limit(limit).Find(&out).Error
	return out, err
}

// RemoveLapsedMember deletes a provider membership only if it is still unconfirmed since before
// cutoff, so a sign-in that confirmed it meanwhile wins; removed says whether it went.
func (s *Store) RemoveLapsedMember(ctx context.Context, groupID string, userID pam.UserID, cutoff time.Time) (removed bool, err error) {
	res := s.conn(ctx).Where("group_id = ? AND user_id = ? AND confirmed_at < ?", groupID, string(userID), cutoff.UTC()).Delete(&GroupMemberRow{})
	return res.RowsAffected == 1, res.Error
}

// IdPConfirmations returns when the provider last confirmed each of users' memberships of
// groupID (only those it confirmed).
func (s *Store) IdPConfirmations(ctx context.Context, groupID string, users []pam.UserID) (map[pam.UserID]time.Time, error) {
	out := map[pam.UserID]time.Time{}
	if len(users) == 0 {
		return out, nil
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = string(u)
	}
	var rows []GroupMemberRow
	if err := s.conn(ctx).Where("group_id = ? AND user_id IN ? AND confirmed_at IS NOT NULL", groupID, ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[pam.UserID(r.UserID)] = r.ConfirmedAt.UTC()
	}
	return out, nil
}
