package web

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/labstack/echo/v4"
)

type auditEventJSON struct {
	Seq        int64           `json:"seq"`
	At         string          `json:"at"`
	ActorType  string          `json:"actor_type"`
	ActorID    string          `json:"actor_id"`
	Actor      string          `json:"actor"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   string          `json:"target_id"`
	RequestID  string          `json:"request_id,omitempty"`
	Outcome    string          `json:"outcome"`
	Details    json.RawMessage `json:"details"`
	IP         string          `json:"ip"`
	UserAgent  string          `json:"user_agent"`
	PrevHash   string          `json:"prev_hash"`
	Hash       string          `json:"hash"`
}

// apiAudit searches the audit trail with the filters of the audit page (times in UTC), newest
// first; "before" pages to older events.
func (s *Server) apiAudit(c echo.Context) error {
	q := c.QueryParams()
	f, _, errs := parseAuditFilter(q, time.UTC)
	if len(errs) > 0 {
		keys := make([]string, 0, len(errs))
		for k := range errs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return pam.FieldError(keys[0], "%s: %s", keys[0], errs[keys[0]])
	}
	if v := q.Get("before"); v != "" {
		b, err := strconv.ParseInt(v, 10, 64)
		if err != nil || b <= 0 {
			return pam.FieldError("before", "before must be a sequence number.")
		}
		f.Before = b
	}
	f.Limit = 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return pam.FieldError("limit", "limit must be between 1 and 500.")
		}
		f.Limit = n
	}
	page, err := s.audit.AuditPage(c.Request().Context(), f)
	if err != nil {
		return err
	}
	out := struct {
		Events     []auditEventJSON `json:"events"`
		NextBefore int64            `json:"next_before,omitempty"`
	}{Events: []auditEventJSON{}}
	for _, e := range page.Events {
		details := json.RawMessage(e.Details)
		if !json.Valid(details) {
			details, _ = json.Marshal(e.Details)
		}
		out.Events = append(out.Events, auditEventJSON{Seq: e.Seq, At: e.At.UTC().Format(time.RFC3339Nano), ActorType: e.ActorType,
			ActorID: e.ActorID, Actor: e.ActorName, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
			RequestID: e.RequestID, Outcome: e.Outcome, Details: details, IP: e.IP, UserAgent: strings.TrimSpace(e.UserAgent),
			PrevHash: e.PrevHash, Hash: e.Hash})
	}
	if page.HasOlder && len(page.Events) > 0 {
		out.NextBefore = page.Events[len(page.Events)-1].Seq
	}
	return c.JSON(http.StatusOK, out)
}
