package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"gorm.io/gorm"
)

// PolicyToAsk is what a submission under a policy needs to know, read in one statement: the
// policy with its scope's name, the organisation's ceiling and default approver group, and
// whether the user asking is in the policy's eligible group (always, when it has none).
type PolicyToAsk struct {
	Policy pam.Policy
	// MaxDuration and DefaultApproverGroupID are the organisation's settings.
	MaxDuration            time.Duration
	DefaultApproverGroupID string
	// Eligible reports whether the user is a member of the eligible group, or there is none.
	Eligible bool
}

type policyToAskRow struct {
	PolicyRow
	ScopeName                 *string
	OrgMaxDurationMin         *int
	OrgDefaultApproverGroupID *string
	Eligible                  bool
}

// PolicyToAskFor returns policy id as user would ask under it (see PolicyToAsk). ENOTFOUND when
// the policy, or the task, role or role group it is for, does not exist. Inside a transaction on
// PostgreSQL it holds a share lock on the policy row until the end, so an edit, a disable or a
// delete of the policy waits for the submission and then reaches the request it made (or the
// submission waits for the change and reads the policy as it is after it).
func (s *Store) PolicyToAskFor(ctx context.Context, id string, user pam.UserID) (PolicyToAsk, error) {
	var r policyToAskRow
	lock := ""
	if s.dialect == Postgres && s.inTx {
		lock = " FOR SHARE OF p"
	}
	res := s.conn(ctx).Raw(`SELECT p.*,
			CASE p.scope_type
				WHEN 'task' THEN (SELECT t.key FROM tasks t WHERE t.id = p.scope_id)
				WHEN 'role' THEN (SELECT ro.name FROM roles ro WHERE ro.id = p.scope_id)
				WHEN 'role_group' THEN (SELECT rg.name FROM role_groups rg WHERE rg.id = p.scope_id)
			END AS scope_name,
			o.max_duration_min AS org_max_duration_min, o.default_approver_group_id AS org_default_approver_group_id,
			(p.eligible_group_id IS NULL OR EXISTS (SELECT 1 FROM group_members e
				WHERE e.group_id = p.eligible_group_id AND e.user_id = @user)) AS eligible
		FROM policies p LEFT JOIN org_settings o ON o.id = 1
		WHERE p.id = @id`+lock, map[string]any{"id": id, "user": string(user)}).Find(&r)
	if res.Error != nil {
		return PolicyToAsk{}, res.Error
	}
	if res.RowsAffected == 0 {
		return PolicyToAsk{}, pam.Errorf(pam.ENOTFOUND, "Policy not found.")
	}
	p := policyToDomain(r.PolicyRow)
	if r.ScopeName == nil {
		// The same answer PolicyByID gives for a policy whose scope was deleted.
		noun := map[pam.ScopeType]string{pam.ScopeTask: "Task", pam.ScopeRole: "Role", pam.ScopeRoleGroup: "Role group"}[p.ScopeType]
		if noun == "" {
			return PolicyToAsk{}, pam.Errorf(pam.EINVALID, "Unknown scope.")
		}
		return PolicyToAsk{}, pam.Errorf(pam.ENOTFOUND, "%s not found.", noun)
	}
	if r.OrgMaxDurationMin == nil {
		return PolicyToAsk{}, fmt.Errorf("policy to ask %s: the organisation settings are missing", id)
	}
	p.ScopeName = *r.ScopeName
	return PolicyToAsk{Policy: p, MaxDuration: time.Duration(*r.OrgMaxDurationMin) * time.Minute,
		DefaultApproverGroupID: deref(r.OrgDefaultApproverGroupID), Eligible: r.Eligible}, nil
}

// AudienceOf names what Audience reads: the people of one request and the scope its mail lists.
type AudienceOf struct {
	Requester pam.UserID
	// Revoker is read when set.
	Revoker pam.UserID
	// ApproverGroup's enabled members are read, at most Approvers of them (by email), when
	// both are set.
	ApproverGroup string
	Approvers     int
	// EscalationGroup's enabled members are read likewise, at most Approvers of them.
	EscalationGroup string
	// At is when the delegates of those approvers are read (Audience.Delegates); zero means the
	// store's clock.
	At time.Time
	// Scope's tasks are read, at most Tasks of them (by key), when Tasks is set.
	Scope   pam.ScopeType
	ScopeID string
	Tasks   int
	// Webhooks asks for the events the enabled webhook endpoints subscribe to
	// (Audience.Webhooks), so a change with no endpoint listening writes no delivery.
	Webhooks bool
}

// Audience is who hears of a change of a request, as they are now, and the tasks it covers.
type Audience struct {
	Requester pam.User // zero when missing
	Revoker   pam.User // zero when not asked for or missing
	Approvers []pam.User
	// Escalators are the enabled members of the escalation group, when it was asked for.
	Escalators []pam.User
	// Delegates are the enabled people an approver other than the requester delegated to, in
	// force at AudienceOf.At (delegatedApprovers), by email, each once; they hear what approvers
	// hear.
	Delegates []pam.User
	// Principals are, for each of Delegates, the approvers they stand in for (by name, or by
	// email when nameless, then by id); most have one.
	Principals map[pam.UserID][]Principal
	Tasks      []pam.Task
	// Webhooks are the subscriptions of the enabled webhook endpoints (each a comma-framed list
	// of event types, ",request.created,request.approved,"), when asked for; see Subscribed.
	Webhooks []string
}

// Subscribed reports whether an enabled webhook endpoint subscribes to the event type t, by
// the subscriptions the Audience read (AudienceOf.Webhooks).
func (a Audience) Subscribed(t string) bool {
	return slices.ContainsFunc(a.Webhooks, func(events string) bool { return strings.Contains(events, ","+t+",") })
}

// Principal is an approver a delegate stands in for: their id, so a review for them is known
// (pam.Request.ReviewedBy), and their name (or email when nameless), so mail can say it.
type Principal struct {
	ID   pam.UserID
	Name string
}

// audienceRow is one row of Audience's statement: a user (part r, v, a, e or d) or a task (part
// t, whose key, name, description and creation time come in the user's columns). A delegate
// (part d) comes once for each approver they stand in for, named in Principal, PrincipalID.
type audienceRow struct {
	Part        string
	ID          string
	Email       string
	Name        string
	TimeZone    string
	Admin       bool
	Auditor     bool
	DisabledAt  *time.Time
	CreatedAt   time.Time
	Principal   string
	PrincipalID string
}

// Audience reads the requester, the revoker, the enabled members of the approver group and the
// scope's tasks in one statement (a UNION ALL of bounded parts), for the mail of one change.
func (s *Store) Audience(ctx context.Context, of AudienceOf) (Audience, error) {
	// Only a delegate's row names a principal; the others carry an empty one, so the parts unite.
	const cols = `id, email, name, time_zone, admin, auditor, disabled_at, created_at, '' AS principal, '' AS principal_id`
	parts := []string{`SELECT 'r' AS part, ` + cols + ` FROM users WHERE id = @requester`}
	args := map[string]any{"requester": string(of.Requester)}
	if of.Revoker != "" {
		parts = append(parts, `SELECT 'v' AS part, `+cols+` FROM users WHERE id = @revoker`)
		args["revoker"] = string(of.Revoker)
	}
	if of.ApproverGroup != "" && of.Approvers > 0 {
		parts = append(parts, `SELECT * FROM (SELECT 'a' AS part, `+cols+` FROM users
			WHERE disabled_at IS NULL AND id IN (SELECT user_id FROM group_members WHERE group_id = @group)
			ORDER BY email `+limitClause(of.Approvers)+`) a`)
		args["group"] = of.ApproverGroup
		at := of.At
		if at.IsZero() {
			at = s.now()
		}
		// One row per delegation in force, so each delegate's mail can say for whom they are
		// asked; a principal has at most one, so these are at most as many as the approvers.
		parts = append(parts, `SELECT * FROM (SELECT 'd' AS part, u.id, u.email, u.name, u.time_zone, u.admin, u.auditor,
				u.disabled_at, u.created_at, COALESCE(NULLIF(pu.name, ''), pu.email) AS principal, pu.id AS principal_id
			FROM delegations dd JOIN users u ON u.id = dd.delegate_id AND u.disabled_at IS NULL
				JOIN users pu ON pu.id = dd.principal_id
			WHERE dd.ends_at > @now AND dd.starts_at <= @now AND dd.ended_at IS NULL AND dd.principal_id IN (`+
			delegatedPrincipals("@group", "@requester")+`)
			ORDER BY u.email, principal, principal_id `+limitClause(of.Approvers)+`) d`)
		args["now"] = at.UTC()
	}
	if of.EscalationGroup != "" && of.Approvers > 0 {
		parts = append(parts, `SELECT * FROM (SELECT 'e' AS part, `+cols+` FROM users
			WHERE disabled_at IS NULL AND id IN (SELECT user_id FROM group_members WHERE group_id = @egroup)
			ORDER BY email `+limitClause(of.Approvers)+`) e`)
		args["egroup"] = of.EscalationGroup
	}
	if of.Tasks > 0 {
		var in string
		switch of.Scope {
		case pam.ScopeTask:
			in = `@scope`
		case pam.ScopeRole:
			in = `SELECT task_id FROM role_tasks WHERE role_id = @scope`
		case pam.ScopeRoleGroup:
			in = `SELECT rt.task_id FROM role_tasks rt JOIN role_group_roles rgr ON rgr.role_id = rt.role_id WHERE rgr.role_group_id = @scope`
		}
		if in != "" {
			// A task has no time zone, flags or disabled time; the cast gives its NULL the type
			// of users.disabled_at, which PostgreSQL needs to unite the parts.
			parts = append(parts, `SELECT * FROM (SELECT 't' AS part, id, key AS email, name, description AS time_zone,
				false AS admin, false AS auditor, `+s.nullTime()+` AS disabled_at, created_at,
				'' AS principal, '' AS principal_id FROM tasks
				WHERE id IN (`+in+`) ORDER BY key_lower `+limitClause(of.Tasks)+`) t`)
			args["scope"] = of.ScopeID
		}
	}
	if of.Webhooks {
		// The endpoints are few (an administrator adds each); their subscriptions ride along.
		parts = append(parts, `SELECT * FROM (SELECT 'h' AS part, id, events AS email, name, '' AS time_zone,
			false AS admin, false AS auditor, `+s.nullTime()+` AS disabled_at, created_at, '' AS principal, '' AS principal_id FROM webhooks
			WHERE enabled = @hooked ORDER BY id `+limitClause(MaxWebhooks)+`) h`)
		args["hooked"] = true
	}
	var rows []audienceRow
	if err := s.conn(ctx).Raw(strings.Join(parts, "\nUNION ALL\n"), args).Find(&rows).Error; err != nil {
		return Audience{}, err
	}
	var a Audience
	for _, r := range rows {
		u := userToDomain(UserRow{ID: r.ID, Email: r.Email, Name: r.Name, TimeZone: r.TimeZone, Admin: r.Admin,
			Auditor: r.Auditor, DisabledAt: utcPtr(r.DisabledAt), CreatedAt: r.CreatedAt})
		switch r.Part {
		case "r":
			a.Requester = u
		case "v":
			a.Revoker = u
		case "a":
			a.Approvers = append(a.Approvers, u)
		case "e":
			a.Escalators = append(a.Escalators, u)
		case "d":
			if _, ok := a.Principals[u.ID]; !ok {
				a.Delegates = append(a.Delegates, u)
			}
			if a.Principals == nil {
				a.Principals = map[pam.UserID][]Principal{}
			}
			a.Principals[u.ID] = append(a.Principals[u.ID], Principal{ID: pam.UserID(r.PrincipalID), Name: r.Principal})
		case "h":
			a.Webhooks = append(a.Webhooks, r.Email)
		case "t":
			a.Tasks = append(a.Tasks, pam.Task{ID: r.ID, Key: r.Email, Name: r.Name, Description: r.TimeZone, CreatedAt: r.CreatedAt})
		}
	}
	// A union keeps no order of its own: each part's comes back here.
	slices.SortStableFunc(a.Approvers, func(x, y pam.User) int { return strings.Compare(x.Email, y.Email) })
	slices.SortStableFunc(a.Escalators, func(x, y pam.User) int { return strings.Compare(x.Email, y.Email) })
	slices.SortStableFunc(a.Delegates, func(x, y pam.User) int { return strings.Compare(x.Email, y.Email) })
	for _, ps := range a.Principals {
		slices.SortFunc(ps, func(x, y Principal) int {
			if c := strings.Compare(x.Name, y.Name); c != 0 {
				return c
			}
			return strings.Compare(string(x.ID), string(y.ID))
		})
	}
	slices.SortStableFunc(a.Tasks, func(x, y pam.Task) int { return strings.Compare(strings.ToLower(x.Key), strings.ToLower(y.Key)) })
	return a, nil
}

// nullTime is a NULL of the timestamp type of the dialect.
func (s *Store) nullTime() string {
	if s.dialect == Postgres {
		return `CAST(NULL AS timestamptz)`
	}
	return `NULL`
}

// EnqueueMails writes messages to the outbox, due at once (see EnqueueMail). Inside a
// transaction they are written with its audit events just before it commits (flush); outside
// one, at once.
func (s *Store) EnqueueMails(ctx context.Context, ms []pam.OutboxMessage) error {
	if len(ms) == 0 {
		return nil
	}
	rows := make([]outboxRow, len(ms))
	for i, m := range ms {
		now := m.CreatedAt.UTC()
		rows[i] = outboxRow{
			ID: m.ID, Kind: m.Kind, RequestID: m.RequestID, RecipientID: string(m.RecipientID), Recipient: m.Recipient,
			RecipientName: m.RecipientName, Subject: m.Subject, BodyText: m.Text, BodyHTML: m.HTML, State: pam.MailQueued,
			NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
		}
	}
	if s.inTx {
		s.events.mails = append(s.events.mails, rows...)
		return s.flushIfFull()
	}
	return insertMails(s.conn(ctx), s.flushRows(outboxColumns), rows)
}

// outboxColumns are the columns mailInsert binds for each message.
const outboxColumns = 19

// mailInsert writes to b an INSERT of rows into mail_outbox, and returns args with its values.
func mailInsert(b *strings.Builder, args []any, rows []outboxRow) []any {
	b.WriteString(`INSERT INTO mail_outbox (id, kind, request_id, recipient_id, recipient, recipient_name, subject,
		body_text, body_html, state, attempts, next_attempt_at, give_up_at, lease_owner, lease_until, last_error,
		created_at, sent_at, updated_at) VALUES `)
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		args = append(args, r.ID, r.Kind, r.RequestID, r.RecipientID, r.Recipient, r.RecipientName, r.Subject,
			r.BodyText, r.BodyHTML, r.State, r.Attempts, r.NextAttemptAt, r.GiveUpAt, r.LeaseOwner, r.LeaseUntil, r.LastError,
			r.CreatedAt, r.SentAt, r.UpdatedAt)
	}
	return args
}

// insertMails writes rows to the outbox, at most per of them a statement.
func insertMails(db *gorm.DB, per int, rows []outboxRow) error {
	for len(rows) > 0 {
		n := min(len(rows), per)
		var b strings.Builder
		args := mailInsert(&b, nil, rows[:n])
		if err := db.Exec(b.String(), args...).Error; err != nil {
			return fmt.Errorf("queue %d messages: %w", n, err)
		}
		rows = rows[n:]
	}
	return nil
}
