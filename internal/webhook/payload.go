package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
)

// Event is one thing that happened, as every endpoint hears of it. Request events carry the
// request; other events (review campaigns) carry Summary and Data instead.
type Event struct {
	ID      string
	Type    EventType
	At      time.Time
	Actor   string // the name of who did it ("system" for the sweep)
	Request *RequestFields
	// Summary is the one-line headline of an event without a request.
	Summary string
	// Data is an event's own public fields, for events without a request.
	Data map[string]any
	// Link opens what the event is about, in the portal (sign-in required).
	Link string
}

// RequestFields are a request's public fields: what its page shows to the people involved.
// Nothing here opens anything by itself: no tokens, no one-time links.
type RequestFields struct {
	ID                string     `json:"id"`
	Status            string     `json:"status"`
	Requester         Person     `json:"requester"`
	Scope             Scope      `json:"scope"`
	Tasks             []string   `json:"tasks"`
	MoreTasks         bool       `json:"more_tasks,omitempty"`
	DurationMinutes   int        `json:"duration_minutes"`
	Justification     string     `json:"justification"`
	Ticket            string     `json:"ticket,omitempty"`
	CreatedAt         time.Time  `json:"created_at"`
	PendingUntil      *time.Time `json:"pending_until,omitempty"`
	StartsAt          *time.Time `json:"starts_at,omitempty"`
	EndsAt            *time.Time `json:"ends_at,omitempty"`
	Approvals         int        `json:"approvals"`
	ApprovalsRequired int        `json:"approvals_required"`
	RevokedBy         string     `json:"revoked_by,omitempty"`
	RevokeReason      string     `json:"revoke_reason,omitempty"`
	// CancelReason says why a cancelled request was cancelled: "grant revoked", "grant ended",
	// "policy disabled" or "no longer eligible".
	CancelReason string `json:"cancel_reason,omitempty"`
}

// Person names someone.
type Person struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// Scope is what a request covers: a task, a role or a role group.
type Scope struct {
	Type string `json:"type"`
	Name string `json:"name"`
}

// generic is the documented JSON body of a generic endpoint.
type generic struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Time    time.Time      `json:"time"`
	Actor   string         `json:"actor"`
	Request *RequestFields `json:"request,omitempty"`
	Summary string         `json:"summary,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
	Link    string         `json:"link"`
}

// Body renders e in format f, as compact JSON (with <, > and & as they are: Slack's links
// read better so, and every receiver decodes either).
func Body(f string, e Event) ([]byte, error) {
	var v any
	switch f {
	case pam.WebhookGeneric:
		v = generic{ID: e.ID, Type: e.Type.Type, Time: e.At.UTC(), Actor: e.Actor, Request: e.Request,
			Summary: e.Summary, Data: e.Data, Link: e.Link}
	case pam.WebhookSlack:
		v = slack(e)
	case pam.WebhookTeams:
		v = teams(e)
	default:
		return nil, fmt.Errorf("webhook format %q", f)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// headline is the message's first line: who and what.
func headline(e Event) string {
	if e.Request == nil {
		if e.Summary == "" {
			return e.Type.Label
		}
		return e.Summary
	}
	r := e.Request
	what := scopeWord(r.Scope.Type) + " " + r.Scope.Name
	if e.Type.Type == "request.created" {
		return fmt.Sprintf("%s asks for %s for %s", r.Requester.Name, what, pam.FormatDuration(time.Duration(r.DurationMinutes)*time.Minute))
	}
	return fmt.Sprintf("%s %s (%s)", r.Requester.Name, e.Type.Title, what)
}

func scopeWord(t string) string {
	switch t {
	case string(pam.ScopeRoleGroup):
		return "role group"
	case string(pam.ScopeRole):
		return "role"
	}
	return "task"
}

// fact is one labelled value of a chat message.
type fact struct{ Title, Value string }

// facts are the request's fields worth reading in a chat message.
func facts(e Event) []fact {
	r := e.Request
	if r == nil {
		return nil
	}
	fs := []fact{
		{"Requester", r.Requester.Name + " (" + r.Requester.Email + ")"},
		{"Scope", scopeWord(r.Scope.Type) + " " + r.Scope.Name},
		{"Duration", pam.FormatDuration(time.Duration(r.DurationMinutes) * time.Minute)},
		{"Status", strings.ReplaceAll(r.Status, "_", " ")},
	}
	if r.Ticket != "" {
		fs = append(fs, fact{"Ticket", r.Ticket})
	}
	if r.ApprovalsRequired > 0 {
		fs = append(fs, fact{"Approvals", fmt.Sprintf("%d of %d", r.Approvals, r.ApprovalsRequired)})
	}
	if r.EndsAt != nil {
		fs = append(fs, fact{"Ends", r.EndsAt.UTC().Format("2006-01-02 15:04 UTC")})
	}
	if r.RevokedBy != "" {
		fs = append(fs, fact{"Revoked by", r.RevokedBy})
	}
	if r.RevokeReason != "" {
		fs = append(fs, fact{"Reason", r.RevokeReason})
	}
	if r.CancelReason != "" {
		fs = append(fs, fact{"Cancelled because", r.CancelReason})
	}
	return fs
}

// slackEscape escapes the three characters Slack's mrkdwn treats as control characters.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cut shortens s to at most n characters, marking the cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// slack is a Slack incoming-webhook message: text (the notification's fallback) and blocks. The
// link is a link: no button, nothing acts by itself.
func slack(e Event) map[string]any {
	head := headline(e)
	text := slackEscape(head) + " <" + e.Link + "|Open in Elevate>"
	blocks := []any{
		map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": cut("*"+slackEscape(head)+"*", 3000)}},
	}
	if fs := facts(e); len(fs) > 0 {
		var fields []any
		for _, f := range fs {
			if len(fields) == 10 { // Slack's limit per section
				break
			}
			fields = append(fields, map[string]any{"type": "mrkdwn", "text": cut("*"+f.Title+"*\n"+slackEscape(f.Value), 2000)})
		}
		blocks = append(blocks, map[string]any{"type": "section", "fields": fields})
	}
	if e.Request != nil && e.Request.Justification != "" {
		blocks = append(blocks, map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn",
			"text": cut("*Justification*\n"+slackEscape(e.Request.Justification), 3000)}})
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []any{
		map[string]any{"type": "mrkdwn", "text": "<" + e.Link + "|Open in Elevate> to see it" + decideHint(e) + "."},
	}})
	return map[string]any{"text": cut(text, 3000), "blocks": blocks}
}

// decideHint says where a decision is made, for events that wait for one.
func decideHint(e Event) string {
	if e.Request != nil && e.Request.Status == string(pam.StatusPending) {
		return " and decide there after signing in"
	}
	return ""
}

// teams is a Microsoft Teams incoming-webhook (Workflows) message: one Adaptive Card
// attachment. Its only action opens the request; nothing acts by itself.
func teams(e Event) map[string]any {
	body := []any{
		map[string]any{"type": "TextBlock", "text": headline(e), "weight": "Bolder", "size": "Medium", "wrap": true},
	}
	if fs := facts(e); len(fs) > 0 {
		var items []any
		for _, f := range fs {
			items = append(items, map[string]any{"title": f.Title, "value": f.Value})
		}
		body = append(body, map[string]any{"type": "FactSet", "facts": items})
	}
	if e.Request != nil && e.Request.Justification != "" {
		body = append(body,
			map[string]any{"type": "TextBlock", "text": "Justification", "weight": "Bolder", "wrap": true, "spacing": "Medium"},
			map[string]any{"type": "TextBlock", "text": e.Request.Justification, "wrap": true})
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.4",
		"body":    body,
		"actions": []any{map[string]any{"type": "Action.OpenUrl", "title": "Open in Elevate", "url": e.Link}},
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	}
}
