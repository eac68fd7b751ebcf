package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// GroupRow is a row of groups.
type GroupRow struct {
	ID          string
	Name        string
	NameKey     string
	Description string
	IdPValue    string `gorm:"column:idp_value"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TableName fixes the table name.
func (GroupRow) TableName() string { return "groups" }

// GroupMemberRow is a row of group_members.
type GroupMemberRow struct {
	GroupID string `gorm:"primaryKey"`
	UserID  string `gorm:"primaryKey"`
	AddedAt time.Time
	// ConfirmedAt is when the identity provider last confirmed the membership (groups it
	// manages only).
	ConfirmedAt *time.Time
}

// TableName fixes the table name.
func (GroupMemberRow) TableName() string { return "group_members" }

// TaskRow is a row of tasks.
type TaskRow struct {
	ID          string
	Key         string
	KeyLower    string
	Name        string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TableName fixes the table name.
func (TaskRow) TableName() string { return "tasks" }

// SetRow is a row of roles or role_groups: a named set whose members are held in a link table
// (see setKind).
type SetRow struct {
	ID          string
	Name        string
	NameKey     string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// RoleTaskRow links a role to a task.
type RoleTaskRow struct {
	RoleID string `gorm:"primaryKey"`
	TaskID string `gorm:"primaryKey"`
}

// TableName fixes the table name.
func (RoleTaskRow) TableName() string { return "role_tasks" }

// RoleGroupRoleRow links a role group to a role.
type RoleGroupRoleRow struct {
	RoleGroupID string `gorm:"primaryKey"`
	RoleID      string `gorm:"primaryKey"`
}

// TableName fixes the table name.
func (RoleGroupRoleRow) TableName() string { return "role_group_roles" }

func pageLimit(p pam.Page) int {
	if p.Limit <= 0 || p.Limit > 200 {
		return 50
	}
	return p.Limit
}

func likePattern(q string) string {
	q = strings.ToLower(strings.TrimSpace(q))
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(q) + "%"
}

// namedPage selects one keyset page of a named table by name, optionally searching the name.
func (s *Store) namedPage(ctx context.Context, table string, p pam.Page) *gorm.DB {
	q := s.conn(ctx).Table(table).Order("name_key").Limit(pageLimit(p))
	if p.After != "" {
		q = q.Where("name_key > ?", p.After)
	}
	if p.Query != "" {
		q = q.Where("name_key LIKE ? ESCAPE '\\'", likePattern(p.Query))
	}
	return q
}

// createNamed inserts a row of a named table (groups, roles, role groups), whose names are
// unique ignoring case.
func (s *Store) createNamed(ctx context.Context, table string, row any, what, name string) error {
	return nameConflict(s.conn(ctx).Table(table).Create(row).Error, "name", what, name)
}

// updateNamed renames or re-describes a row of a named table.
func (s *Store) updateNamed(ctx context.Context, table, id, name, desc string, now time.Time, what string) error {
	res := s.conn(ctx).Table(table).Where("id = ?", id).Updates(map[string]any{
		"name": name, "name_key": strings.ToLower(name), "description": desc, "updated_at": now.UTC()})
	if res.Error != nil {
		return nameConflict(res.Error, "name", what, name)
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "%s not found.", strings.ToUpper(what[:1])+what[1:])
	}
	return nil
}

// nameConflict turns a unique violation into a field error naming the clash.
func nameConflict(err error, field, what, value string) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return pam.FieldError(field, "A %s named %s already exists.", what, value)
	}
	return err
}

// ---- groups

func groupToDomain(r GroupRow, members int) pam.Group {
	return pam.Group{ID: r.ID, Name: r.Name, Description: r.Description, MemberCount: members, IdPValue: r.IdPValue}
}

// CreateGroup inserts a group; a name clash (ignoring case) is a field error.
func (s *Store) CreateGroup(ctx context.Context, g pam.Group, now time.Time) error {
	return s.createNamed(ctx, "groups", &GroupRow{ID: g.ID, Name: g.Name, NameKey: strings.ToLower(g.Name), Description: g.Description,
		CreatedAt: now.UTC(), UpdatedAt: now.UTC()}, "group", g.Name)
}

// UpdateGroup renames or re-describes a group.
func (s *Store) UpdateGroup(ctx context.Context, g pam.Group, now time.Time) error {
	return s.updateNamed(ctx, "groups", g.ID, g.Name, g.Description, now, "group")
}

// GroupByID returns a group with its member count (active members only).
func (s *Store) GroupByID(ctx context.Context, id string) (pam.Group, error) {
	var r GroupRow
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return pam.Group{}, translate(err, "Group")
	}
	n, err := s.ActiveMemberCount(ctx, id)
	return groupToDomain(r, int(n)), err
}

// Groups lists groups by name, one keyset page at a time, with active member counts.
func (s *Store) Groups(ctx context.Context, p pam.Page) ([]pam.Group, error) {
	q := s.namedPage(ctx, "groups", p)
	var rows []GroupRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.Group, len(rows))
	counts, err := s.activeMemberCounts(ctx, ids(rows, func(r GroupRow) string { return r.ID }))
	if err != nil {
		return nil, err
	}
	for i, r := range rows {
		out[i] = groupToDomain(r, counts[r.ID])
	}
	return out, nil
}

func ids[T any](rows []T, f func(T) string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}

func (s *Store) activeMemberCounts(ctx context.Context, groupIDs []string) (map[string]int, error) {
	out := map[string]int{}
	if len(groupIDs) == 0 {
		return out, nil
	}
	var rows []struct {
		GroupID string
		N       int
	}
	err := s.conn(ctx).Table("group_members gm").Select("gm.group_id, COUNT(*) AS n").
		Joins("JOIN users u ON u.id = gm.user_id AND u.disabled_at IS NULL").
		Where("gm.group_id IN ?", groupIDs).Group("gm.group_id").Find(&rows).Error
	for _, r := range rows {
		out[r.GroupID] = r.N
	}
	return out, err
}

// ActiveMemberCount counts the enabled members of a group.
func (s *Store) ActiveMemberCount(ctx context.Context, groupID string) (int64, error) {
	var n int64
	err := s.conn(ctx).Table("group_members gm").Joins("JOIN users u ON u.id = gm.user_id AND u.disabled_at IS NULL").
		Where("gm.group_id = ?", groupID).Count(&n).Error
	return n, err
}

// GroupMembers lists a group's members (disabled ones too, marked) by email, keyset by email.
func (s *Store) GroupMembers(ctx context.Context, groupID string, p pam.Page) ([]pam.User, error) {
	q := s.conn(ctx).Model(&UserRow{}).Joins("JOIN group_members gm ON gm.user_id = users.id AND gm.group_id = ?", groupID).
		Order("users.email").Limit(pageLimit(p))
	if p.After != "" {
		q = q.Where("users.email > ?", p.After)
	}
	var rows []UserRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.User, len(rows))
	for i, r := range rows {
		out[i] = userToDomain(r)
	}
	return out, nil
}

// IsMember reports whether a user is in a group.
func (s *Store) IsMember(ctx context.Context, groupID string, userID pam.UserID) (bool, error) {
	var n int64
	err := s.conn(ctx).Model(&GroupMemberRow{}).Where("group_id = ? AND user_id = ?", groupID, string(userID)).Count(&n).Error
	return n > 0, err
}

// AddMember puts a user in a group; adding an existing member is a conflict.
func (s *Store) AddMember(ctx context.Context, groupID string, userID pam.UserID, now time.Time) error {
	res := s.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&GroupMemberRow{GroupID: groupID, UserID: string(userID), AddedAt: now.UTC()})
	if res.Error != nil {
		if errors.Is(res.Error, gorm.ErrForeignKeyViolated) {
			return pam.Errorf(pam.ENOTFOUND, "That user or group does not exist.")
		}
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ECONFLICT, "That user is already a member.")
	}
	return nil
}

// RemoveMember takes a user out of a group.
func (s *Store) RemoveMember(ctx context.Context, groupID string, userID pam.UserID) error {
	res := s.conn(ctx).Where("group_id = ? AND user_id = ?", groupID, string(userID)).Delete(&GroupMemberRow{})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "That user is not a member.")
	}
	return nil
}

// UserGroups lists the groups a user belongs to (bounded).
func (s *Store) UserGroups(ctx context.Context, userID pam.UserID) ([]pam.Group, error) {
	var rows []GroupRow
	err := s.conn(ctx).Model(&GroupRow{}).Joins("JOIN group_members gm ON gm.group_id = groups.id AND gm.user_id = ?", string(userID)).
		Order("groups.name_key").Limit(200).Find(&rows).Error
	out := make([]pam.Group, len(rows))
	for i, r := range rows {
		out[i] = groupToDomain(r, 0)
	}
	return out, err
}

// GroupUsage names what still uses a group: policies (by scope name) and settings.
func (s *Store) GroupUsage(ctx context.Context, groupID string) ([]string, error) {
	var uses []string
	var pols []PolicyRow
	if err := s.conn(ctx).Where("approver_group_id = ? OR eligible_group_id = ?", groupID, groupID).Limit(20).Find(&pols).Error; err != nil {
		return nil, err
	}
	for _, p := range pols {
		name, _ := s.scopeName(ctx, pam.ScopeType(p.ScopeType), p.ScopeID)
		role := "approver group"
		if p.EligibleGroupID != nil && *p.EligibleGroupID == groupID {
			role = "eligible group"
		}
		uses = append(uses, "the policy for "+name+" ("+role+")")
	}
	var st OrgSettingsRow
	if err := s.conn(ctx).Where("id = 1").Take(&st).Error; err != nil {
		return nil, err
	}
	if st.DefaultApproverGroupID != nil && *st.DefaultApproverGroupID == groupID {
		uses = append(uses, "the organisation settings (default approver group)")
	}
	if st.ExemptGroupID != nil && *st.ExemptGroupID == groupID {
		uses = append(uses, "the organisation settings (exempt group)")
	}
	return uses, nil
}

// DeleteGroup deletes a group. A foreign key refuses it while a policy or setting uses it,
// even if that use was added a moment ago by another request.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	res := s.conn(ctx).Where("id = ?", id).Delete(&GroupRow{})
	if res.Error != nil {
		if errors.Is(res.Error, gorm.ErrForeignKeyViolated) {
			return pam.Errorf(pam.ECONFLICT, "The group is still in use.")
		}
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "Group not found.")
	}
	return nil
}

// ---- tasks

func taskToDomain(r TaskRow) pam.Task {
	return pam.Task{ID: r.ID, Key: r.Key, Name: r.Name, Description: r.Description, CreatedAt: r.CreatedAt}
}

// CreateTask inserts a task; keys are unique ignoring case.
func (s *Store) CreateTask(ctx context.Context, t pam.Task, now time.Time) error {
	err := s.conn(ctx).Create(&TaskRow{ID: t.ID, Key: t.Key, KeyLower: strings.ToLower(t.Key), Name: t.Name,
		Description: t.Description, CreatedAt: now.UTC(), UpdatedAt: now.UTC()}).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return pam.FieldError("key", "A task with the key %s already exists.", t.Key)
	}
	return err
}

// UpdateTask changes a task's key, name and description.
func (s *Store) UpdateTask(ctx context.Context, t pam.Task, now time.Time) error {
	res := s.conn(ctx).Model(&TaskRow{}).Where("id = ?", t.ID).Updates(map[string]any{
		"key": t.Key, "key_lower": strings.ToLower(t.Key), "name": t.Name, "description": t.Description, "updated_at": now.UTC()})
	if errors.Is(res.Error, gorm.ErrDuplicatedKey) {
		return pam.FieldError("key", "A task with the key %s already exists.", t.Key)
	}
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "Task not found.")
	}
	return nil
}

// TaskByID returns one task.
func (s *Store) TaskByID(ctx context.Context, id string) (pam.Task, error) {
	var r TaskRow
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return pam.Task{}, translate(err, "Task")
	}
	return taskToDomain(r), nil
}

// TaskByKey returns one task by its key, ignoring case.
func (s *Store) TaskByKey(ctx context.Context, key string) (pam.Task, error) {
	var r TaskRow
	if err := s.conn(ctx).Where("key_lower = ?", strings.ToLower(key)).Take(&r).Error; err != nil {
		return pam.Task{}, translate(err, "Task")
	}
	return taskToDomain(r), nil
}

// Tasks lists tasks by key, one keyset page at a time; Query matches key or name.
func (s *Store) Tasks(ctx context.Context, p pam.Page) ([]pam.Task, error) {
	q := s.conn(ctx).Model(&TaskRow{}).Order("key_lower").Limit(pageLimit(p))
	if p.After != "" {
		q = q.Where("key_lower > ?", p.After)
	}
	if p.Query != "" {
		pat := likePattern(p.Query)
		q = q.Where("(key_lower LIKE ? ESCAPE '\\' OR LOWER(name) LIKE ? ESCAPE '\\')", pat, pat)
	}
	var rows []TaskRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.Task, len(rows))
	for i, r := range rows {
		out[i] = taskToDomain(r)
	}
	return out, nil
}

// ---- roles and role groups

// setKind describes a kind of named set, roles (sets of tasks) or role groups (sets of roles),
// so that one implementation reads and changes both: the sets' table, the link table holding
// their members, and the members' own table.
type setKind struct {
	what, noun      string // "role" in messages, "Role" in not-found messages
	table           string // the sets: "roles"
	links           string // the link table: "role_tasks"
	setCol, itemCol string // the link table's columns: "role_id", "task_id"
	items, itemKey  string // the members' table and the column they are listed by
	dup             string // the message for a member added twice
	// link returns a link row; with empty ids it is the model that deletes go through.
	link func(setID, itemID string) any
}

var (
	roleKind = setKind{what: "role", noun: "Role", table: "roles", links: "role_tasks", setCol: "role_id", itemCol: "task_id",
		items: "tasks", itemKey: "key_lower", dup: "That task is already in the role.",
		link: func(set, item string) any { return &RoleTaskRow{RoleID: set, TaskID: item} }}
	roleGroupKind = setKind{what: "role group", noun: "Role group", table: "role_groups", links: "role_group_roles", setCol: "role_group_id", itemCol: "role_id",
		items: "roles", itemKey: "name_key", dup: "That role is already in the role group.",
		link: func(set, item string) any { return &RoleGroupRoleRow{RoleGroupID: set, RoleID: item} }}
)

// counted is a set with the number of its members.
type counted struct {
	SetRow
	n int
}

func (s *Store) createSet(ctx context.Context, k setKind, id, name, desc string, now time.Time) error {
	return s.createNamed(ctx, k.table, &SetRow{ID: id, Name: name, NameKey: strings.ToLower(name), Description: desc,
		CreatedAt: now.UTC(), UpdatedAt: now.UTC()}, k.what, name)
}

func (s *Store) setRow(ctx context.Context, k setKind, id string) (SetRow, error) {
	var r SetRow
	err := s.conn(ctx).Table(k.table).Where("id = ?", id).Take(&r).Error
	return r, translate(err, k.noun)
}

// setByID returns one set with its member count.
func (s *Store) setByID(ctx context.Context, k setKind, id string) (counted, error) {
	r, err := s.setRow(ctx, k, id)
	if err != nil {
		return counted{}, err
	}
	var n int64
	err = s.conn(ctx).Table(k.links).Where(k.setCol+" = ?", id).Count(&n).Error
	return counted{r, int(n)}, err
}

// sets lists sets by name, one keyset page at a time, with their member counts.
func (s *Store) sets(ctx context.Context, k setKind, p pam.Page) ([]counted, error) {
	var rows []SetRow
	if err := s.namedPage(ctx, k.table, p).Find(&rows).Error; err != nil {
		return nil, err
	}
	counts, err := s.countBy(ctx, k.links, k.setCol, ids(rows, func(r SetRow) string { return r.ID }))
	if err != nil {
		return nil, err
	}
	out := make([]counted, len(rows))
	for i, r := range rows {
		out[i] = counted{r, counts[r.ID]}
	}
	return out, nil
}

// setItems lists one page of a set's members, read from their own table as rows R.
func setItems[R any](ctx context.Context, s *Store, k setKind, setID string, p pam.Page) ([]R, error) {
	q := s.conn(ctx).Table(k.items).Select(k.items+".*").
		Joins("JOIN "+k.links+" l ON l."+k.itemCol+" = "+k.items+".id AND l."+k.setCol+" = ?", setID).
		Order(k.items + "." + k.itemKey).Limit(pageLimit(p))
	if p.After != "" {
		q = q.Where(k.items+"."+k.itemKey+" > ?", p.After)
	}
	var rows []R
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	return rows, nil
}

// setsHolding lists the sets that hold an item directly, by name (bounded).
func (s *Store) setsHolding(ctx context.Context, k setKind, itemID string) ([]SetRow, error) {
	var rows []SetRow
	err := s.conn(ctx).Table(k.table).Select(k.table+".*").
		Joins("JOIN "+k.links+" l ON l."+k.setCol+" = "+k.table+".id AND l."+k.itemCol+" = ?", itemID).
		Order(k.table + ".name_key").Limit(200).Find(&rows).Error
	return rows, err
}

func (s *Store) addItem(ctx context.Context, k setKind, setID, itemID string) error {
	return s.link(ctx, k.link(setID, itemID), k.dup)
}

func (s *Store) removeItem(ctx context.Context, k setKind, setID, itemID string) error {
	return s.unlink(ctx, k.link("", ""), k.setCol+" = ? AND "+k.itemCol+" = ?", setID, itemID)
}

func (s *Store) link(ctx context.Context, row any, dup string) error {
	res := s.conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(row)
	if res.Error != nil {
		if errors.Is(res.Error, gorm.ErrForeignKeyViolated) {
			return pam.Errorf(pam.ENOTFOUND, "Not found.")
		}
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ECONFLICT, "%s", dup)
	}
	return nil
}

func (s *Store) unlink(ctx context.Context, model any, where string, args ...any) error {
	res := s.conn(ctx).Where(where, args...).Delete(model)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return pam.Errorf(pam.ENOTFOUND, "Not found.")
	}
	return nil
}

func (s *Store) countBy(ctx context.Context, table, col string, keys []string) (map[string]int, error) {
	out := map[string]int{}
	if len(keys) == 0 {
		return out, nil
	}
	var rows []struct {
		K string
		N int
	}
	err := s.conn(ctx).Table(table).Select(col+" AS k, COUNT(*) AS n").Where(col+" IN ?", keys).Group(col).Find(&rows).Error
	for _, r := range rows {
		out[r.K] = r.N
	}
	return out, err
}

func roleToDomain(r SetRow, tasks int) pam.Role {
	return pam.Role{ID: r.ID, Name: r.Name, Description: r.Description, TaskCount: tasks}
}

func roleGroupToDomain(r SetRow, roles int) pam.RoleGroup {
	return pam.RoleGroup{ID: r.ID, Name: r.Name, Description: r.Description, RoleCount: roles}
}

func mapRows[R, D any](rows []R, f func(R) D) []D {
	out := make([]D, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}

func withoutCount[D any](f func(SetRow, int) D) func(SetRow) D {
	return func(r SetRow) D { return f(r, 0) }
}

// ---- roles

// CreateRole inserts a role.
func (s *Store) CreateRole(ctx context.Context, r pam.Role, now time.Time) error {
	return s.createSet(ctx, roleKind, r.ID, r.Name, r.Description, now)
}

// UpdateRole renames or re-describes a role.
func (s *Store) UpdateRole(ctx context.Context, r pam.Role, now time.Time) error {
	return s.updateNamed(ctx, roleKind.table, r.ID, r.Name, r.Description, now, roleKind.what)
}

// RoleByID returns one role with its task count.
func (s *Store) RoleByID(ctx context.Context, id string) (pam.Role, error) {
	c, err := s.setByID(ctx, roleKind, id)
	return roleToDomain(c.SetRow, c.n), err
}

// Roles lists roles by name, keyset-paginated, with task counts.
func (s *Store) Roles(ctx context.Context, p pam.Page) ([]pam.Role, error) {
	cs, err := s.sets(ctx, roleKind, p)
	return mapRows(cs, func(c counted) pam.Role { return roleToDomain(c.SetRow, c.n) }), err
}

// RoleTasks lists the tasks of a role by key (bounded page).
func (s *Store) RoleTasks(ctx context.Context, roleID string, p pam.Page) ([]pam.Task, error) {
	rows, err := setItems[TaskRow](ctx, s, roleKind, roleID, p)
	return mapRows(rows, taskToDomain), err
}

// AddRoleTask puts a task into a role.
func (s *Store) AddRoleTask(ctx context.Context, roleID, taskID string) error {
	return s.addItem(ctx, roleKind, roleID, taskID)
}

// RemoveRoleTask takes a task out of a role.
func (s *Store) RemoveRoleTask(ctx context.Context, roleID, taskID string) error {
	return s.removeItem(ctx, roleKind, roleID, taskID)
}

// TaskRoles lists the roles containing a task (bounded).
func (s *Store) TaskRoles(ctx context.Context, taskID string) ([]pam.Role, error) {
	rows, err := s.setsHolding(ctx, roleKind, taskID)
	return mapRows(rows, withoutCount(roleToDomain)), err
}

// TaskRoleGroups lists the role groups that reach a task through one of their roles (bounded).
func (s *Store) TaskRoleGroups(ctx context.Context, taskID string) ([]pam.RoleGroup, error) {
	var rows []SetRow
	err := s.conn(ctx).Table(roleGroupKind.table).
		Where("id IN (SELECT rgr.role_group_id FROM role_group_roles rgr JOIN role_tasks rt ON rt.role_id = rgr.role_id WHERE rt.task_id = ?)", taskID).
		Order("name_key").Limit(200).Find(&rows).Error
	return mapRows(rows, withoutCount(roleGroupToDomain)), err
}

// ---- role groups

// CreateRoleGroup inserts a role group.
func (s *Store) CreateRoleGroup(ctx context.Context, r pam.RoleGroup, now time.Time) error {
	return s.createSet(ctx, roleGroupKind, r.ID, r.Name, r.Description, now)
}

// UpdateRoleGroup renames or re-describes a role group.
func (s *Store) UpdateRoleGroup(ctx context.Context, r pam.RoleGroup, now time.Time) error {
	return s.updateNamed(ctx, roleGroupKind.table, r.ID, r.Name, r.Description, now, roleGroupKind.what)
}

// RoleGroupByID returns one role group with its role count.
func (s *Store) RoleGroupByID(ctx context.Context, id string) (pam.RoleGroup, error) {
	c, err := s.setByID(ctx, roleGroupKind, id)
	return roleGroupToDomain(c.SetRow, c.n), err
}

// RoleGroups lists role groups by name, keyset-paginated, with role counts.
func (s *Store) RoleGroups(ctx context.Context, p pam.Page) ([]pam.RoleGroup, error) {
	cs, err := s.sets(ctx, roleGroupKind, p)
	return mapRows(cs, func(c counted) pam.RoleGroup { return roleGroupToDomain(c.SetRow, c.n) }), err
}

// RoleGroupRoles lists the roles of a role group by name (bounded page).
func (s *Store) RoleGroupRoles(ctx context.Context, rgID string, p pam.Page) ([]pam.Role, error) {
	rows, err := setItems[SetRow](ctx, s, roleGroupKind, rgID, p)
	return mapRows(rows, withoutCount(roleToDomain)), err
}

// AddRoleGroupRole puts a role into a role group.
func (s *Store) AddRoleGroupRole(ctx context.Context, rgID, roleID string) error {
	return s.addItem(ctx, roleGroupKind, rgID, roleID)
}

// RemoveRoleGroupRole takes a role out of a role group.
func (s *Store) RemoveRoleGroupRole(ctx context.Context, rgID, roleID string) error {
	return s.removeItem(ctx, roleGroupKind, rgID, roleID)
}

// RoleRoleGroups lists the role groups containing a role (bounded).
func (s *Store) RoleRoleGroups(ctx context.Context, roleID string) ([]pam.RoleGroup, error) {
	rows, err := s.setsHolding(ctx, roleGroupKind, roleID)
	return mapRows(rows, withoutCount(roleGroupToDomain)), err
}

// ScopeTasks lists the tasks a scope covers: the task itself, a role's tasks, or the tasks of
// every role in a role group (bounded).
func (s *Store) ScopeTasks(ctx context.Context, scope pam.ScopeType, id string, limit int) ([]pam.Task, error) {
	if limit <= 0 {
		limit = 200
	}
	q := s.conn(ctx).Model(&TaskRow{}).Order("key_lower").Limit(limit)
	switch scope {
	case pam.ScopeTask:
		q = q.Where("id = ?", id)
	case pam.ScopeRole:
		q = q.Where("id IN (SELECT task_id FROM role_tasks WHERE role_id = ?)", id)
	case pam.ScopeRoleGroup:
		q = q.Where("id IN (SELECT rt.task_id FROM role_tasks rt JOIN role_group_roles rgr ON rgr.role_id = rt.role_id WHERE rgr.role_group_id = ?)", id)
	default:
		return nil, pam.Errorf(pam.EINVALID, "Unknown scope.")
	}
	var rows []TaskRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.Task, len(rows))
	for i, r := range rows {
		out[i] = taskToDomain(r)
	}
	return out, nil
}

// scopeName returns the display name of a scope (a task's key, a role's or role group's name).
func (s *Store) scopeName(ctx context.Context, scope pam.ScopeType, id string) (string, error) {
	switch scope {
	case pam.ScopeTask:
		t, err := s.TaskByID(ctx, id)
		return t.Key, err
	case pam.ScopeRole:
		r, err := s.setRow(ctx, roleKind, id)
		return r.Name, err
	case pam.ScopeRoleGroup:
		r, err := s.setRow(ctx, roleGroupKind, id)
		return r.Name, err
	}
	return "", pam.Errorf(pam.EINVALID, "Unknown scope.")
}

// ScopeName returns the display name of a scope, or ENOTFOUND.
func (s *Store) ScopeName(ctx context.Context, scope pam.ScopeType, id string) (string, error) {
	return s.scopeName(ctx, scope, id)
}
