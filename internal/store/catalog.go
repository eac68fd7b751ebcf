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

// RoleRow is a row of roles.
type RoleRow struct {
	ID          string
	Name        string
	NameKey     string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TableName fixes the table name.
func (RoleRow) TableName() string { return "roles" }

// RoleTaskRow links a role to a task.
type RoleTaskRow struct {
	RoleID string `gorm:"primaryKey"`
	TaskID string `gorm:"primaryKey"`
}

// TableName fixes the table name.
func (RoleTaskRow) TableName() string { return "role_tasks" }

// RoleGroupRow is a row of role_groups.
type RoleGroupRow struct {
	ID          string
	Name        string
	NameKey     string
	Description string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TableName fixes the table name.
func (RoleGroupRow) TableName() string { return "role_groups" }

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
func (s *Store) namedPage(ctx context.Context, model any, p pam.Page) *gorm.DB {
	q := s.conn(ctx).Model(model).Order("name_key").Limit(pageLimit(p))
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
func (s *Store) createNamed(ctx context.Context, row any, what, name string) error {
	return nameConflict(s.conn(ctx).Create(row).Error, "name", what, name)
}

// updateNamed renames or re-describes a row of a named table.
func (s *Store) updateNamed(ctx context.Context, model any, id, name, desc string, now time.Time, what string) error {
	res := s.conn(ctx).Model(model).Where("id = ?", id).Updates(map[string]any{
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
	return pam.Group{ID: r.ID, Name: r.Name, Description: r.Description, MemberCount: members}
}

// CreateGroup inserts a group; a name clash (ignoring case) is a field error.
func (s *Store) CreateGroup(ctx context.Context, g pam.Group, now time.Time) error {
	return s.createNamed(ctx, &GroupRow{ID: g.ID, Name: g.Name, NameKey: strings.ToLower(g.Name), Description: g.Description,
		CreatedAt: now.UTC(), UpdatedAt: now.UTC()}, "group", g.Name)
}

// UpdateGroup renames or re-describes a group.
func (s *Store) UpdateGroup(ctx context.Context, g pam.Group, now time.Time) error {
	return s.updateNamed(ctx, &GroupRow{}, g.ID, g.Name, g.Description, now, "group")
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
	q := s.namedPage(ctx, &GroupRow{}, p)
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
		Where("gm.group_id IN ?", groupIDs).Group("gm.group_id").Scan(&rows).Error
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

// ---- roles

// CreateRole inserts a role.
func (s *Store) CreateRole(ctx context.Context, r pam.Role, now time.Time) error {
	return s.createNamed(ctx, &RoleRow{ID: r.ID, Name: r.Name, NameKey: strings.ToLower(r.Name), Description: r.Description,
		CreatedAt: now.UTC(), UpdatedAt: now.UTC()}, "role", r.Name)
}

// UpdateRole renames or re-describes a role.
func (s *Store) UpdateRole(ctx context.Context, r pam.Role, now time.Time) error {
	return s.updateNamed(ctx, &RoleRow{}, r.ID, r.Name, r.Description, now, "role")
}

// RoleByID returns one role with its task count.
func (s *Store) RoleByID(ctx context.Context, id string) (pam.Role, error) {
	var r RoleRow
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return pam.Role{}, translate(err, "Role")
	}
	var n int64
	err := s.conn(ctx).Model(&RoleTaskRow{}).Where("role_id = ?", id).Count(&n).Error
	return pam.Role{ID: r.ID, Name: r.Name, Description: r.Description, TaskCount: int(n)}, err
}

// Roles lists roles by name, keyset-paginated, with task counts.
func (s *Store) Roles(ctx context.Context, p pam.Page) ([]pam.Role, error) {
	q := s.namedPage(ctx, &RoleRow{}, p)
	var rows []RoleRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	counts, err := s.countBy(ctx, "role_tasks", "role_id", ids(rows, func(r RoleRow) string { return r.ID }))
	if err != nil {
		return nil, err
	}
	out := make([]pam.Role, len(rows))
	for i, r := range rows {
		out[i] = pam.Role{ID: r.ID, Name: r.Name, Description: r.Description, TaskCount: counts[r.ID]}
	}
	return out, nil
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
	err := s.conn(ctx).Table(table).Select(col+" AS k, COUNT(*) AS n").Where(col+" IN ?", keys).Group(col).Scan(&rows).Error
	for _, r := range rows {
		out[r.K] = r.N
	}
	return out, err
}

// RoleTasks lists the tasks of a role by key (bounded page).
func (s *Store) RoleTasks(ctx context.Context, roleID string, p pam.Page) ([]pam.Task, error) {
	q := s.conn(ctx).Model(&TaskRow{}).Joins("JOIN role_tasks rt ON rt.task_id = tasks.id AND rt.role_id = ?", roleID).
		Order("tasks.key_lower").Limit(pageLimit(p))
	if p.After != "" {
		q = q.Where("tasks.key_lower > ?", p.After)
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

// AddRoleTask puts a task into a role.
func (s *Store) AddRoleTask(ctx context.Context, roleID, taskID string) error {
	return s.link(ctx, &RoleTaskRow{RoleID: roleID, TaskID: taskID}, "That task is already in the role.")
}

// RemoveRoleTask takes a task out of a role.
func (s *Store) RemoveRoleTask(ctx context.Context, roleID, taskID string) error {
	return s.unlink(ctx, &RoleTaskRow{}, "role_id = ? AND task_id = ?", roleID, taskID)
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

// TaskRoles lists the roles containing a task (bounded).
func (s *Store) TaskRoles(ctx context.Context, taskID string) ([]pam.Role, error) {
	var rows []RoleRow
	err := s.conn(ctx).Model(&RoleRow{}).Joins("JOIN role_tasks rt ON rt.role_id = roles.id AND rt.task_id = ?", taskID).
		Order("roles.name_key").Limit(200).Find(&rows).Error
	out := make([]pam.Role, len(rows))
	for i, r := range rows {
		out[i] = pam.Role{ID: r.ID, Name: r.Name, Description: r.Description}
	}
	return out, err
}

// TaskRoleGroups lists the role groups that reach a task through one of their roles (bounded).
func (s *Store) TaskRoleGroups(ctx context.Context, taskID string) ([]pam.RoleGroup, error) {
	var rows []RoleGroupRow
	err := s.conn(ctx).Model(&RoleGroupRow{}).
		Where("id IN (SELECT rgr.role_group_id FROM role_group_roles rgr JOIN role_tasks rt ON rt.role_id = rgr.role_id WHERE rt.task_id = ?)", taskID).
		Order("name_key").Limit(200).Find(&rows).Error
	out := make([]pam.RoleGroup, len(rows))
	for i, r := range rows {
		out[i] = pam.RoleGroup{ID: r.ID, Name: r.Name, Description: r.Description}
	}
	return out, err
}

// ---- role groups

// CreateRoleGroup inserts a role group.
func (s *Store) CreateRoleGroup(ctx context.Context, r pam.RoleGroup, now time.Time) error {
	return s.createNamed(ctx, &RoleGroupRow{ID: r.ID, Name: r.Name, NameKey: strings.ToLower(r.Name), Description: r.Description,
		CreatedAt: now.UTC(), UpdatedAt: now.UTC()}, "role group", r.Name)
}

// UpdateRoleGroup renames or re-describes a role group.
func (s *Store) UpdateRoleGroup(ctx context.Context, r pam.RoleGroup, now time.Time) error {
	return s.updateNamed(ctx, &RoleGroupRow{}, r.ID, r.Name, r.Description, now, "role group")
}

// RoleGroupByID returns one role group with its role count.
func (s *Store) RoleGroupByID(ctx context.Context, id string) (pam.RoleGroup, error) {
	var r RoleGroupRow
	if err := s.conn(ctx).Where("id = ?", id).Take(&r).Error; err != nil {
		return pam.RoleGroup{}, translate(err, "Role group")
	}
	var n int64
	err := s.conn(ctx).Model(&RoleGroupRoleRow{}).Where("role_group_id = ?", id).Count(&n).Error
	return pam.RoleGroup{ID: r.ID, Name: r.Name, Description: r.Description, RoleCount: int(n)}, err
}

// RoleGroups lists role groups by name, keyset-paginated, with role counts.
func (s *Store) RoleGroups(ctx context.Context, p pam.Page) ([]pam.RoleGroup, error) {
	q := s.namedPage(ctx, &RoleGroupRow{}, p)
	var rows []RoleGroupRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	counts, err := s.countBy(ctx, "role_group_roles", "role_group_id", ids(rows, func(r RoleGroupRow) string { return r.ID }))
	if err != nil {
		return nil, err
	}
	out := make([]pam.RoleGroup, len(rows))
	for i, r := range rows {
		out[i] = pam.RoleGroup{ID: r.ID, Name: r.Name, Description: r.Description, RoleCount: counts[r.ID]}
	}
	return out, nil
}

// RoleGroupRoles lists the roles of a role group by name (bounded page).
func (s *Store) RoleGroupRoles(ctx context.Context, rgID string, p pam.Page) ([]pam.Role, error) {
	q := s.conn(ctx).Model(&RoleRow{}).Joins("JOIN role_group_roles rgr ON rgr.role_id = roles.id AND rgr.role_group_id = ?", rgID).
		Order("roles.name_key").Limit(pageLimit(p))
	if p.After != "" {
		q = q.Where("roles.name_key > ?", p.After)
	}
	var rows []RoleRow
	if err := q.Find(&rows).Error; err != nil {
		return nil, err
	}
	out := make([]pam.Role, len(rows))
	for i, r := range rows {
		out[i] = pam.Role{ID: r.ID, Name: r.Name, Description: r.Description}
	}
	return out, nil
}

// AddRoleGroupRole puts a role into a role group.
func (s *Store) AddRoleGroupRole(ctx context.Context, rgID, roleID string) error {
	return s.link(ctx, &RoleGroupRoleRow{RoleGroupID: rgID, RoleID: roleID}, "That role is already in the role group.")
}

// RemoveRoleGroupRole takes a role out of a role group.
func (s *Store) RemoveRoleGroupRole(ctx context.Context, rgID, roleID string) error {
	return s.unlink(ctx, &RoleGroupRoleRow{}, "role_group_id = ? AND role_id = ?", rgID, roleID)
}

// RoleRoleGroups lists the role groups containing a role (bounded).
func (s *Store) RoleRoleGroups(ctx context.Context, roleID string) ([]pam.RoleGroup, error) {
	var rows []RoleGroupRow
	err := s.conn(ctx).Model(&RoleGroupRow{}).Joins("JOIN role_group_roles rgr ON rgr.role_group_id = role_groups.id AND rgr.role_id = ?", roleID).
		Order("role_groups.name_key").Limit(200).Find(&rows).Error
	out := make([]pam.RoleGroup, len(rows))
	for i, r := range rows {
		out[i] = pam.RoleGroup{ID: r.ID, Name: r.Name, Description: r.Description}
	}
	return out, err
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
		var r RoleRow
		err := s.conn(ctx).Where("id = ?", id).Take(&r).Error
		return r.Name, translate(err, "Role")
	case pam.ScopeRoleGroup:
		var r RoleGroupRow
		err := s.conn(ctx).Where("id = ?", id).Take(&r).Error
		return r.Name, translate(err, "Role group")
	}
	return "", pam.Errorf(pam.EINVALID, "Unknown scope.")
}

// ScopeName returns the display name of a scope, or ENOTFOUND.
func (s *Store) ScopeName(ctx context.Context, scope pam.ScopeType, id string) (string, error) {
	return s.scopeName(ctx, scope, id)
}
