package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/elevate-pam/elevate/internal/audit"
)

// nameSources says, per target type, how its names are read: one SELECT giving id, name and
// detail for the ids bound to @<type>. Requests read as "requester · scope", policies as their
// scope, tokens from either token table; a task is named by its id or (in a check) its key.
var nameSources = map[string]string{
	"request": `SELECT r.id AS id, u.name AS name, r.scope_name AS detail FROM requests r
		JOIN users u ON u.id = r.requester_id WHERE r.id IN @request`,
	"user":       `SELECT id, name, email AS detail FROM users WHERE id IN @user`,
	"group":      `SELECT id, name, '' AS detail FROM groups WHERE id IN @group`,
	"role":       `SELECT id, name, '' AS detail FROM roles WHERE id IN @role`,
	"role_group": `SELECT id, name, '' AS detail FROM role_groups WHERE id IN @role_group`,
	"task": `SELECT id, key AS name, name AS detail FROM tasks WHERE id IN @task
		UNION ALL SELECT key AS id, key AS name, name AS detail FROM tasks WHERE key IN @task`,
	"policy": `SELECT p.id AS id, COALESCE(t.key, ro.name, rg.name, '') AS name, 'policy' AS detail FROM policies p
		LEFT JOIN tasks t ON p.scope_type = 'task' AND t.id = p.scope_id
		LEFT JOIN roles ro ON p.scope_type = 'role' AND ro.id = p.scope_id
		LEFT JOIN role_groups rg ON p.scope_type = 'role_group' AND rg.id = p.scope_id
		WHERE p.id IN @policy`,
	"token": `SELECT id, name, 'check token' AS detail FROM check_tokens WHERE id IN @token
		UNION ALL SELECT id, name, 'API token' AS detail FROM api_tokens WHERE id IN @token`,
	"mail":            `SELECT id, recipient AS name, subject AS detail FROM mail_outbox WHERE id IN @mail`,
	"review_campaign": `SELECT id, name, 'access review' AS detail FROM review_campaigns WHERE id IN @review_campaign`,
	"webhook":         `SELECT id, name, host AS detail FROM webhooks WHERE id IN @webhook`,
	"webhook_delivery": `SELECT d.id AS id, w.name AS name, d.event_type AS detail FROM webhook_deliveries d
		JOIN webhooks w ON w.id = d.webhook_id WHERE d.id IN @webhook_delivery`,
}

// AuditNames names what a page of events points at, in one statement for every type at once
// (a UNION ALL of one indexed lookup per type present). Refs of unknown types, and those whose
// object is gone, are left out of the map.
func (s *Store) AuditNames(ctx context.Context, refs []audit.Ref) (map[audit.Ref]audit.Name, error) {
	ids := map[string][]string{}
	seen := map[audit.Ref]bool{}
	for _, r := range refs {
		if _, ok := nameSources[r.Type]; !ok || r.ID == "" || seen[r] {
			continue
		}
		seen[r] = true
		ids[r.Type] = append(ids[r.Type], r.ID)
	}
	out := map[audit.Ref]audit.Name{}
	if len(ids) == 0 {
		return out, nil
	}
	// Sorted, so a page with the same types sends the same statement text.
	types := slices.Sorted(maps.Keys(ids))
	var parts []string
	args := map[string]any{}
	for _, typ := range types {
		list := ids[typ]
		parts = append(parts, fmt.Sprintf(`SELECT '%s' AS type, id, name, detail FROM (%s) n_%s`, typ, nameSources[typ], typ))
		args[typ] = list
	}
	var rows []struct{ Type, ID, Name, Detail string }
	if err := s.conn(ctx).Raw(strings.Join(parts, " UNION ALL "), args).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("audit names: %w", err)
	}
	for _, r := range rows {
		out[audit.Ref{Type: r.Type, ID: r.ID}] = audit.Name{Name: r.Name, Detail: r.Detail}
	}
	return out, nil
}
