package web

import (
	"encoding/json"
	"errors"
	"github.com/elevate-pam/elevate/internal/admin"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/labstack/echo/v4"
)

// policyJSON is a policy on the JSON API; durations are whole minutes.
type policyJSON struct {
	ID                    string `json:"id,omitempty"`
	ScopeType             string `json:"scope_type"`
	ScopeID               string `json:"scope_id"`
	ScopeName             string `json:"scope_name,omitempty"`
	ApprovalType          string `json:"approval_type"`
	ApproverGroupID       string `json:"approver_group_id"`
	ApprovalsRequired     int    `json:"approvals_required"`
	DefaultDurationMin    int    `json:"default_duration_min"`
	MaxDurationMin        int    `json:"max_duration_min"`
	JustificationRequired bool   `json:"justification_required"`
	TicketRequired        bool   `json:"ticket_required"`
	EligibleGroupID       string `json:"eligible_group_id"`
	MFARequired           bool   `json:"mfa_required"`
	PendingTimeoutMin     int    `json:"pending_timeout_min"`
	// RemindAfterMin is when the approvers who have not acted are reminded: 0 (or left out)
	// for half of the time to decide, -1 for no reminder.
	RemindAfterMin int `json:"remind_after_min"`
	// EscalationGroupID and EscalateAfterMin: the group that may also decide once a request is
	// this old ("" and 0 = no escalation).
	EscalationGroupID string `json:"escalation_group_id"`
	EscalateAfterMin  int    `json:"escalate_after_min"`
	// EmergencyAllowed lets eligible people take emergency access, granted at once for
	// EmergencyDurationMin (0 or omitted: one hour, at most the maximum).
	EmergencyAllowed     bool `json:"emergency_allowed"`
	EmergencyDurationMin int  `json:"emergency_duration_min"`
	Enabled              bool `json:"enabled"`
	Version              int  `json:"version"`
	// ConfirmDeadEnd, sent with a save, says to save an enabled policy nobody can approve
	// anyway; without it such a save is refused (400, field confirm_dead_end), as on the pages.
	ConfirmDeadEnd bool   `json:"confirm_dead_end,omitempty"`
	CreatedAt      string `json:"created_at,omitempty"`
	UpdatedAt      string `json:"updated_at,omitempty"`
}

func toPolicyJSON(p pam.Policy) policyJSON {
	return policyJSON{
		ID: p.ID, ScopeType: string(p.ScopeType), ScopeID: p.ScopeID, ScopeName: p.ScopeName, ApprovalType: p.ApprovalType,
		ApproverGroupID: p.ApproverGroupID, ApprovalsRequired: p.ApprovalsRequired,
		DefaultDurationMin: int(p.DefaultDuration / time.Minute), MaxDurationMin: int(p.MaxDuration / time.Minute),
		JustificationRequired: p.JustificationRequired, TicketRequired: p.TicketRequired, EligibleGroupID: p.EligibleGroupID,
		MFARequired: p.MFARequired, PendingTimeoutMin: int(p.PendingTimeout / time.Minute), Enabled: p.Enabled, Version: p.Version,
		RemindAfterMin: apiRemindMin(p.RemindAfter), EscalationGroupID: p.EscalationGroupID, EscalateAfterMin: int(p.EscalateAfter / time.Minute),
		EmergencyAllowed: p.EmergencyAllowed, EmergencyDurationMin: int(p.EmergencyLength() / time.Minute),
		CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: p.UpdatedAt.UTC().Format(time.RFC3339),
	}
}

func (j policyJSON) toPolicy() (pam.Policy, error) {
	st, scopeErr := pam.ParseScopeType(j.ScopeType)
	// Every field is read, so a refusal names all that is wrong at once.
	var ps pam.Problems
	ps.Add(scopeErr)
	// Problems name the form's fields, as Validate's do, so each field is told once; the
	// caller renames them all (apiPolicyField).
	minutes := func(field string, n int) time.Duration {
		if n <= 0 || n > 366*24*60 {
			ps.Add(pam.FieldError(field, "Give %s as a positive number of minutes.", apiPolicyFields[field]))
			return 0
		}
		return time.Duration(n) * time.Minute
	}
	p := pam.Policy{ScopeType: st, ScopeID: j.ScopeID, ApprovalType: j.ApprovalType, ApproverGroupID: j.ApproverGroupID,
		ApprovalsRequired: j.ApprovalsRequired, JustificationRequired: j.JustificationRequired, TicketRequired: j.TicketRequired,
		EligibleGroupID: j.EligibleGroupID, MFARequired: j.MFARequired, Enabled: j.Enabled, Version: j.Version,
		EscalationGroupID: j.EscalationGroupID, EmergencyAllowed: j.EmergencyAllowed}
	p.DefaultDuration = minutes("default_duration", j.DefaultDurationMin)
	p.MaxDuration = minutes("max_duration", j.MaxDurationMin)
	p.PendingTimeout = minutes("pending_timeout", j.PendingTimeoutMin)
	switch {
	case j.RemindAfterMin == -1:
		p.RemindAfter = pam.NoReminder
	case j.RemindAfterMin == 0:
	case j.RemindAfterMin < 0 || j.RemindAfterMin > 366*24*60:
		ps.Add(pam.FieldError("remind_after", "Give remind_after_min as minutes, 0 for half of the time to decide, or -1 for no reminder."))
	default:
		p.RemindAfter = minutes("remind_after", j.RemindAfterMin)
	}
	if j.EscalateAfterMin != 0 {
		p.EscalateAfter = minutes("escalate_after", j.EscalateAfterMin)
	}
	if j.EmergencyDurationMin != 0 {
		p.EmergencyDuration = minutes("emergency_duration", j.EmergencyDurationMin)
	}
	return p, ps.Err()
}

// apiPolicyFields are the API's names of the policy form's fields that differ.
var apiPolicyFields = map[string]string{"default_duration": "default_duration_min", "max_duration": "max_duration_min",
	"pending_timeout": "pending_timeout_min", "remind_after": "remind_after_min", "escalate_after": "escalate_after_min",
	"emergency_duration": "emergency_duration_min"}

// apiPolicyField names a policy's refused settings by their API fields (the pages name the
// form's), each problem's.
func apiPolicyField(err error) error {
	var pe *pam.Error
	if !errors.As(err, &pe) || pe.Code != pam.EINVALID {
		return err
	}
	rename := func(e *pam.Error) *pam.Error {
		out := *e
		if f, ok := apiPolicyFields[e.Field]; ok {
			out.Field = f
		}
		return &out
	}
	out := rename(pe)
	out.Also = nil
	for _, e := range pe.Also {
		out.Also = append(out.Also, rename(e))
	}
	return out
}

// apiRemindMin is a policy's reminder on the API: minutes, 0 for the default, -1 for none.
func apiRemindMin(d time.Duration) int {
	if d == pam.NoReminder {
		return -1
	}
	return int(d / time.Minute)
}

// bindJSON decodes a JSON body; fields the API does not know are ignored. A body cut at maxBody
// (see limitBody) is a 413, anything else unreadable an EINVALID.
func bindJSON(c echo.Context, v any) error {
	if err := json.NewDecoder(c.Request().Body).Decode(v); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return bodyTooLarge()
		}
		return pam.Errorf(pam.EINVALID, "The body is not valid JSON for this call: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return checkJSONStrings(reflect.ValueOf(v), "")
}

// checkJSONStrings refuses a decoded body whose strings hold a NUL byte or another control
// character other than line breaks and tabs (JSON can carry them escaped; nothing can store
// them), naming the field by its JSON name.
func checkJSONStrings(v reflect.Value, field string) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			return checkJSONStrings(v.Elem(), field)
		}
	case reflect.String:
		if _, bad := pam.BadChar(v.String(), true); bad {
			return pam.FieldError(field, "The value of %q holds a control character; remove it and send again.", field)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
			if name == "" {
				name = t.Field(i).Name
			}
			if t.Field(i).IsExported() {
				if err := checkJSONStrings(v.Field(i), name); err != nil {
					return err
				}
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if err := checkJSONStrings(v.Index(i), field); err != nil {
				return err
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if err := checkJSONStrings(v.MapIndex(k), field); err != nil {
				return err
			}
		}
	}
	return nil
}

// requireAdminOrAuditor lets auditors read what admins may change.
func requireAdminOrAuditor(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u, ok := CurrentUser(c); ok && (u.Admin || u.Auditor) {
			return next(c)
		}
		return pam.Errorf(pam.EFORBIDDEN, "Only administrators and auditors may read policies.")
	}
}

func (s *Server) apiListPolicies(c echo.Context) error {
	after, err := listCursor(c)
	if err != nil {
		return err
	}
	limit := 100
	pols, err := s.policies.Policies(c.Request().Context(), after, limit)
	if err != nil {
		return err
	}
	out := struct {
		Policies []policyJSON `json:"policies"`
		Next     string       `json:"next,omitempty"`
	}{Policies: []policyJSON{}}
	for _, p := range pols {
		out.Policies = append(out.Policies, toPolicyJSON(p))
	}
	if len(pols) == limit {
		l := pols[len(pols)-1]
		out.Next = pam.CursorAt(l.CreatedAt, l.ID).String()
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) apiGetPolicy(c echo.Context) error {
	p, err := s.policies.PolicyByID(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPolicyJSON(p))
}

func (s *Server) apiCreatePolicy(c echo.Context) error {
	var in policyJSON
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	p, err := in.toPolicy()
	if err != nil {
		return apiPolicyField(s.withPolicyProblems(c.Request().Context(), p, err))
	}
	p, err = s.admin.CreatePolicy(c.Request().Context(), actor(c), p, admin.SaveCheck{RefuseDeadEnd: !in.ConfirmDeadEnd})
	if err != nil {
		return apiPolicyField(err)
	}
	saved, err := s.policies.PolicyByID(c.Request().Context(), p.ID)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/v1/policies/"+p.ID)
	return c.JSON(http.StatusCreated, toPolicyJSON(saved))
}

func (s *Server) apiUpdatePolicy(c echo.Context) error {
	ctx := c.Request().Context()
	cur, err := s.policies.PolicyByID(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	var in policyJSON
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	in.ScopeType, in.ScopeID = string(cur.ScopeType), cur.ScopeID
	if in.Version == 0 {
		in.Version = cur.Version // no version sent: the caller accepts last-write-wins
	}
	p, err := in.toPolicy()
	if err != nil {
		return apiPolicyField(s.withPolicyProblems(ctx, p, err))
	}
	p.ID = cur.ID
	if err := s.admin.UpdatePolicy(ctx, actor(c), p, admin.SaveCheck{RefuseDeadEnd: !in.ConfirmDeadEnd}); err != nil {
		return apiPolicyField(err)
	}
	saved, err := s.policies.PolicyByID(ctx, p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toPolicyJSON(saved))
}

// apiDeletePolicy deletes a policy, cancelling its pending requests. While grants under it are
// in force or scheduled it answers 409 (field revoke_grants, with the count) unless the call
// says ?revoke_grants=true, which revokes them in the same transaction.
func (s *Server) apiDeletePolicy(c echo.Context) error {
	revoke := false
	switch v := c.QueryParam("revoke_grants"); v {
	case "", "false":
	case "true":
		revoke = true
	default:
		return pam.FieldError("revoke_grants", "Say true or false.")
	}
	if err := s.admin.DeletePolicyRevoking(c.Request().Context(), actor(c), c.Param("id"), revoke, ""); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// apiRevokePolicyGrants revokes every grant in force or scheduled under a policy, with the reason
// given (`reason`, or failing that `comment`), as "Revoke" on the policy's page does: each revoke
// with its chain, event and mail, all in one transaction. It answers how many it revoked.
func (s *Server) apiRevokePolicyGrants(c echo.Context) error {
	u, _ := CurrentUser(c)
	in, err := bindAction(c)
	if err != nil {
		return err
	}
	n, err := s.access.RevokeUnderPolicy(c.Request().Context(), tokenActor(c), u, c.Param("id"), in.reason())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"revoked": n})
}
