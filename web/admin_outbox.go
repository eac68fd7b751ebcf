package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	adminview "github.com/elevate-pam/elevate/views/admin"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/labstack/echo/v4"
)

// Outbox is the mail queue as the admin pages see it; *mail.Outbox provides it.
type Outbox interface {
	Messages(ctx context.Context, f pam.MailFilter) ([]pam.OutboxMessage, error)
	Counts(ctx context.Context) (map[string]int64, error)
	Message(ctx context.Context, id string) (pam.OutboxMessage, error)
	Retry(ctx context.Context, a audit.Actor, id string) (pam.OutboxMessage, error)
}

var mailStateLabels = map[string]string{
	pam.MailQueued: "Queued", pam.MailRetrying: "Retrying", pam.MailSent: "Sent", pam.MailFailed: "Failed",
}

// mailBadge picks the badge colour of a mail state.
func mailBadge(state string) string {
	return map[string]string{pam.MailQueued: "info", pam.MailRetrying: "timed_out", pam.MailSent: "ok", pam.MailFailed: "danger"}[state]
}

func (s *Server) showOutbox(c echo.Context) error {
	ctx := c.Request().Context()
	state, after := c.QueryParam("state"), c.QueryParam("after")
	if _, ok := mailStateLabels[state]; !ok {
		state = ""
	}
	before, err := listCursor(c)
	if err != nil {
		return s.badCursor(c, err)
	}
	msgs, err := s.outbox.Messages(ctx, pam.MailFilter{State: state, Before: before, Limit: pageSize})
	if err != nil {
		return err
	}
	counts, err := s.outbox.Counts(ctx)
	if err != nil {
		return err
	}
	loc, now := viewerZone(c), s.now()
	when := func(t time.Time) components.TimeVM { return timeVM(t, now, loc) }
	vm := adminview.OutboxVM{
		Meta: s.meta(c, "Outbox"),
		Header: components.HeaderVM{Title: "Outbox",
			Subtitle: "Every mail Elevate queued, newest first: who it is for, where it stands, and why it failed. Failed mail can be sent again."},
		Empty: "No mail here yet. Mail is queued when requests change and when administrators add users.",
	}
	if s.cfg.SMTP == nil {
		vm.Notice = "No SMTP server is configured (ELEVATE_SMTP_URL), so mail waits here. Once one is configured, everything waiting is delivered; nothing is dropped."
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	vm.States = append(vm.States, adminview.StateLink{Label: "All", Href: "/admin/outbox", Count: strconv.FormatInt(total, 10), Active: state == "", Key: "all"})
	for _, st := range pam.MailStates {
		vm.States = append(vm.States, adminview.StateLink{Label: mailStateLabels[st], Href: "/admin/outbox?state=" + st,
			Count: strconv.FormatInt(counts[st], 10), Active: state == st, Key: st})
	}
	if state != "" {
		vm.Empty = "No " + strings.ToLower(mailStateLabels[state]) + " mail. Choose All to see every message."
	}
	for _, m := range msgs {
		r := adminview.OutboxRow{ID: m.ID, Recipient: m.Recipient, RecipientName: m.RecipientName, Subject: m.Subject,
			State: mailBadge(m.State), StateLabel: mailStateLabels[m.State], Attempts: strconv.Itoa(m.Attempts), LastError: m.LastError}
		r.Queued = when(m.CreatedAt)
		if m.State == pam.MailQueued || m.State == pam.MailRetrying {
			r.NextTry = when(m.NextAttemptAt)
			if s.cfg.SMTP == nil {
				r.NextTryNote = "when SMTP is configured"
			}
		}
		if m.SentAt != nil {
			r.Sent = when(*m.SentAt)
		}
		r.Href = "/admin/outbox/" + url.PathEscape(m.ID)
		if m.State == pam.MailFailed {
			r.RetryAction = "/admin/outbox/" + url.PathEscape(m.ID) + "/retry"
		}
		if m.RequestID != "" {
			r.RequestHref = "/requests/" + url.PathEscape(m.RequestID)
		}
		vm.Rows = append(vm.Rows, r)
	}
	last := ""
	if len(msgs) > 0 {
		l := msgs[len(msgs)-1]
		last = pam.CursorAt(l.CreatedAt, l.ID).String()
	}
	vm.FirstHref, vm.NextHref = pageLinks("/admin/outbox", c.QueryParams(), after, last, len(msgs) == pageSize)
	return render(c, http.StatusOK, adminview.Outbox(vm))
}

// showMail shows one message as it was queued: who it is for, where it stands, and its text.
func (s *Server) showMail(c echo.Context) error {
	m, err := s.outbox.Message(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	loc, now := viewerZone(c), s.now()
	vm := adminview.MailVM{Meta: s.meta(c, "Mail: "+m.Subject), To: m.Recipient, ToName: m.RecipientName, Subject: m.Subject,
		State: mailBadge(m.State), StateLabel: mailStateLabels[m.State], Attempts: pam.Count(m.Attempts, "attempt", "attempts"), LastError: m.LastError,
		Queued: timeVM(m.CreatedAt, now, loc), Text: m.Text, Kind: m.Kind}
	if m.SentAt != nil {
		vm.Sent = timeVM(*m.SentAt, now, loc)
	}
	if m.RequestID != "" {
		vm.RequestHref = "/requests/" + url.PathEscape(m.RequestID)
	}
	return render(c, http.StatusOK, adminview.Mail(vm))
}

func (s *Server) retryMail(c echo.Context) error {
	m, err := s.outbox.Retry(c.Request().Context(), actor(c), c.Param("id"))
	return s.posted(c, err, outcome{Next: "/admin/outbox?state=" + pam.MailFailed, Done: "The message to " + m.Recipient + " is queued again."})
}
