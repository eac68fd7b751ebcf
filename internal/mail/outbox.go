// Package mail writes Elevate's notifications into the outbox, inside the transaction of the
// change that causes them, and delivers them over SMTP afterwards. A rolled-back change leaves
// no mail; a committed one is delivered (or shown as failed to administrators), never lost.
package mail

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// Message kinds, as stored in the outbox. A message a request change causes is of the kind of
// the change's audit action, so the outbox and the audit trail name it alike.
var (
	KindPending   = audit.RequestCreated.String() // to each approver: a request waits for them
	KindApproved  = audit.RequestApproved.String()
	KindDenied    = audit.RequestDenied.String()
	KindTimedOut  = audit.RequestTimedOut.String()
	KindRevoked   = audit.RequestRevoked.String()
	KindCancelled = audit.RequestCancelled.String()
	KindEnded     = audit.RequestEnded.String()     // to the approvers: the requester ended the grant early
	KindReminded  = audit.RequestReminded.String()  // to those who may decide and have not: it still waits
	KindEscalated = audit.RequestEscalated.String() // to the escalation group: it may decide now
	// KindEmergency goes to every approver and the security address: emergency access was taken.
	KindEmergency = audit.RequestEmergencyGranted.String()
	// KindEmergencyConfirmed and KindMisuse go to the security address and the approvers who were
	// asked to review an emergency access, but its reviewer: it was reviewed, and how.
	KindEmergencyConfirmed = audit.RequestEmergencyConfirmed.String()
	KindMisuse             = audit.RequestMisuseReported.String()
)

// Kinds of messages no single action causes.
const (
	KindExpiring    = "request_expiring" // to the requester, ExpiryNotice before the end
	KindDecided     = "request_decided"  // to the approvers asked: the request no longer needs them
	KindPasswordSet = "password_link"
)

// ExpiryNotice is how long before a grant ends its requester is warned.
const ExpiryNotice = 15 * time.Minute

// maxTasks bounds the tasks listed in one message (a Change holds at most one more).
const maxTasks = access.ChangeTasks

// Outbox queues mail. It is access's Notifier and admin's password-link mailer.
type Outbox struct {
	db   *store.Store
	base string
	now  func() time.Time
}

// NewOutbox returns the outbox on db; links point at cfg.BaseURL.
func NewOutbox(db *store.Store, cfg config.Config, now func() time.Time) *Outbox {
	base := ""
	if cfg.BaseURL != nil {
		base = strings.TrimRight(cfg.BaseURL.String(), "/")
	}
	return &Outbox{db: db, base: base, now: now}
}

func (o *Outbox) requestLink(id string) string { return o.base + "/requests/" + url.PathEscape(id) }

// RequestChanged queues the mail a request change causes, inside the change's transaction tx,
// from c alone. The kind of each message derives from c.Action: a new request asks its
// approvers; a decision, a timeout, a revoke or a cancel tells its requester; the approvers
// who were asked hear when it no longer needs them, and when its requester ended the grant.
func (o *Outbox) RequestChanged(ctx context.Context, tx *store.Store, c access.Change) error {
	if err := o.requestChanged(ctx, tx, c); err != nil {
		return fmt.Errorf("queue mail for request %s (%s): %w", c.Request.ID, c.Action, err)
	}
	return nil
}

func (o *Outbox) requestChanged(ctx context.Context, tx *store.Store, c access.Change) error {
	return tx.EnqueueMails(ctx, o.requestMail(c)) // written with the change's events, in one statement
}

// requestMail renders the messages a request change causes.
func (o *Outbox) requestMail(c access.Change) []pam.OutboxMessage {
	v := view{Request: c.Request, Tasks: c.Tasks, Revoker: c.RevokerName, OnBehalfOf: c.OnBehalfOf}
	var ms []pam.OutboxMessage
	switch c.Action {
	case audit.RequestCreated:
		return o.each(ms, v, c.Approvers, KindPending)
	case audit.RequestApproved, audit.RequestDenied, audit.RequestTimedOut, audit.RequestCancelled, audit.RequestRevoked:
		if ms = o.toRequester(ms, v, c.Requester, c.Action.String()); c.Action == audit.RequestRevoked {
			return ms
		}
		return o.decided(ms, v, asked(c))
	case audit.RequestWithdrawn:
		return o.decided(ms, v, asked(c))
	case audit.RequestEnded:
		if c.ChainOf != "" {
			return nil // ended with its grant: the grant's own mail told them
		}
		return o.each(ms, v, asked(c), KindEnded) // for their information: nothing to decide
	case audit.RequestReminded:
		return o.each(ms, v, v.stillAsked(asked(c)), KindReminded)
	case audit.RequestEscalated:
		// Members of both groups were asked at submission; the escalation tells the others,
		// a delegate among them included, who was asked only in someone else's place.
		approvers := map[pam.UserID]bool{}
		for _, u := range c.Approvers {
			approvers[u.ID] = !c.AskedAsDelegate[u.ID]
		}
		var to []pam.User
		for _, u := range v.stillAsked(c.Escalators) {
			if !approvers[u.ID] {
				to = append(to, u)
			}
		}
		return o.each(ms, v, to, KindEscalated)
	case audit.RequestEmergencyGranted:
		// Everyone who may review it hears at once, and the security team with them.
		to := c.Approvers
		if c.SecurityEmail != "" {
			to = append(append([]pam.User(nil), to...), pam.User{Email: c.SecurityEmail, Name: "Security team"})
		}
		return o.each(ms, v, to, KindEmergency)
	case audit.RequestEmergencyConfirmed, audit.RequestMisuseReported:
		to := c.Approvers
		if c.SecurityEmail != "" {
			to = append(append([]pam.User(nil), to...), pam.User{Email: c.SecurityEmail, Name: "Security team"})
		}
		return o.each(ms, v, to, c.Action.String())
	}
	return nil // expired: the expiring-soon notice already told the requester
}

// asked is everyone a change's request asked to decide: its approvers and, once it was
// escalated, its escalation group's members, each once.
func asked(c access.Change) []pam.User {
	out := append([]pam.User(nil), c.Approvers...)
	seen := map[pam.UserID]bool{}
	for _, u := range out {
		seen[u.ID] = true
	}
	for _, u := range c.Escalators {
		if !seen[u.ID] {
			seen[u.ID] = true
			out = append(out, u)
		}
	}
	return out
}

// view is what a message about a request shows: the request, the tasks it covers, who revoked
// it, and for whom each delegate among its recipients is asked (access.Change.OnBehalfOf).
type view struct {
	Request    pam.Request
	Tasks      []pam.Task
	Revoker    string
	OnBehalfOf map[pam.UserID][]store.Principal
}

// stillAsked is those of people who may still review the request: they have not reviewed it,
// and one there only as a delegate stands in for an approver nobody has reviewed it for yet
// (once a delegate acted for an approver, neither reviews it again).
func (v view) stillAsked(people []pam.User) []pam.User {
	var out []pam.User
	for _, u := range people {
		if v.Request.ReviewedBy(u.ID) {
			continue
		}
		if _, delegate := v.OnBehalfOf[u.ID]; delegate && len(v.toActFor(u.ID)) == 0 {
			continue
		}
		out = append(out, u)
	}
	return out
}

// toActFor names the approvers the delegate-only recipient id stands in for whom nobody has
// reviewed the request for yet; none for one asked in their own right.
func (v view) toActFor(id pam.UserID) []string {
	var out []string
	for _, p := range v.OnBehalfOf[id] {
		if !v.Request.ReviewedBy(p.ID) {
			out = append(out, p.Name)
		}
	}
	return out
}

// decided adds, to ms, the message telling the approvers who were asked, and could still have
// reviewed it (stillAsked), that a request no longer needs them. Automatic approvals asked
// nobody; its revoker knows.
func (o *Outbox) decided(ms []pam.OutboxMessage, v view, approvers []pam.User) []pam.OutboxMessage {
	r := v.Request
	if r.ApprovalType == pam.ApprovalAuto {
		return ms
	}
	var rest []pam.User
	for _, u := range v.stillAsked(approvers) {
		if u.ID != r.RevokedBy {
			rest = append(rest, u)
		}
	}
	return o.each(ms, v, rest, KindDecided)
}

func (o *Outbox) toRequester(ms []pam.OutboxMessage, v view, requester pam.User, kind string) []pam.OutboxMessage {
	if !requester.Active() {
		return ms // disabled people drop out of everything, mail included
	}
	return o.each(ms, v, []pam.User{requester}, kind)
}

// each adds, to ms, the message of kind about v to each of to.
func (o *Outbox) each(ms []pam.OutboxMessage, v view, to []pam.User, kind string) []pam.OutboxMessage {
	for _, u := range to {
		ms = append(ms, o.message(kind, v.Request.ID, u, o.requestContent(v, u, kind)))
	}
	return ms
}

// message renders one message to the outbox.
func (o *Outbox) message(kind, requestID string, to pam.User, c content) pam.OutboxMessage {
	text, html := render(c)
	return pam.OutboxMessage{
		ID: uuid.NewString(), Kind: kind, RequestID: requestID, RecipientID: to.ID, Recipient: to.Email,
		RecipientName: cleanHeader(to.Name), Subject: cleanHeader(c.Subject), Text: text, HTML: html, CreatedAt: o.now(),
	}
}

func (o *Outbox) enqueue(ctx context.Context, tx *store.Store, kind, requestID string, to pam.User, c content) error {
	return tx.EnqueueMail(ctx, o.message(kind, requestID, to, c))
}

// requestContent says what one recipient needs to know about a request.
func (o *Outbox) requestContent(v view, to pam.User, kind string) content {
	r, tasks, revoker := v.Request, v.Tasks, v.Revoker
	loc := pam.ZoneOrUTC(to.TimeZone)
	at := func(t time.Time) string { return formatTime(t, loc) }
	scope := scopeLabel(r)
	dur := pam.FormatDuration(r.Duration)
	who := r.RequesterName
	if who == "" {
		who = r.RequesterEmail
	}
	c := content{Greeting: "Hello " + to.Name + ",", Link: o.requestLink(r.ID), LinkLabel: "Open the request",
		Footer: "You get this mail because of your part in this request in Elevate. Links only open the request; nothing is decided until you confirm on the page."}

	switch kind {
	case KindPending:
		c.Subject = fmt.Sprintf("Approval needed: %s asks for %s for %s", who, scope, dur)
		c.Headline = "A request waits for your decision"
		c.Intro = []string{fmt.Sprintf("%s asks for %s for %s. Please approve or deny it before %s; after that it times out.", who, scope, dur, at(r.PendingUntil))}
		if r.ApprovalsRequired > 1 {
			c.Intro = append(c.Intro, fmt.Sprintf("It needs %d approvals.", r.ApprovalsRequired))
		}
		c.Intro = append(c.Intro, onBehalf(v.toActFor(to.ID))...)
		c.LinkLabel = "Review the request"
	case KindReminded:
		c.Subject = fmt.Sprintf("Reminder: %s's request for %s waits for your decision", who, scope)
		c.Headline = "A request still waits for your decision"
		c.Intro = []string{fmt.Sprintf("%s asked for %s for %s at %s, and nobody has decided it yet. Please approve or deny it before %s; after that it times out.",
			who, scope, dur, at(r.CreatedAt), at(r.PendingUntil))}
		if n := r.ApprovalsRequired - r.Approvals(); n > 0 && r.ApprovalsRequired > 1 {
			c.Intro = append(c.Intro, fmt.Sprintf("It needs %s more.", pam.Count(n, "approval", "approvals")))
		}
		if r.EscalateAt != nil && r.EscalatedAt == nil {
			c.Intro = append(c.Intro, fmt.Sprintf("If it is still undecided at %s, it escalates to other approvers.", at(*r.EscalateAt)))
		}
		c.Intro = append(c.Intro, onBehalf(v.toActFor(to.ID))...)
		c.LinkLabel = "Review the request"
	case KindEscalated:
		c.Subject = fmt.Sprintf("Escalated to you: %s asks for %s for %s", who, scope, dur)
		c.Headline = "A request was escalated to you"
		c.Intro = []string{fmt.Sprintf("Nobody decided %s's request for %s in time, so it was escalated to your group. You may now approve or deny it before %s; after that it times out.",
			who, scope, at(r.PendingUntil))}
		if n := r.ApprovalsRequired - r.Approvals(); n > 0 && r.ApprovalsRequired > 1 {
			c.Intro = append(c.Intro, fmt.Sprintf("It needs %s more.", pam.Count(n, "approval", "approvals")))
		}
		c.LinkLabel = "Review the request"
	case KindApproved:
		c.Subject = fmt.Sprintf("Approved: %s for %s", scope, dur)
		c.Headline = "Your request was approved"
		c.Intro = []string{fmt.Sprintf("You have %s for %s.", scope, dur)}
		c.Intro = append(c.Intro, delegatedDeciders(r, pam.DecisionApprove)...)
	case KindDenied:
		c.Subject = fmt.Sprintf("Denied: your request for %s", scope)
		c.Headline = "Your request was denied"
		c.Intro = []string{fmt.Sprintf("Your request for %s was denied.", scope)}
		c.Intro = append(c.Intro, delegatedDeciders(r, pam.DecisionDeny)...)
	case KindTimedOut:
		c.Subject = fmt.Sprintf("Timed out: your request for %s", scope)
		c.Headline = "Your request timed out"
		c.Intro = []string{fmt.Sprintf("Nobody decided your request for %s before %s, so it timed out. Ask again if you still need it.", scope, at(r.PendingUntil))}
	case KindRevoked:
		c.Subject = fmt.Sprintf("Revoked: your access to %s", scope)
		c.Headline = "Your access was revoked"
		by := revoker
		if by == "" {
			by = "an administrator"
		}
		c.Intro = []string{fmt.Sprintf("%s revoked your access to %s. It no longer works.", by, scope)}
		// The requester reads it: the system's reasons say "you", not "the requester".
		c.Notes = append(c.Notes, Field{"Reason", pam.RevokeReasonToRequester(r.RevokeReason)})
	case KindCancelled:
		c.Subject = fmt.Sprintf("Cancelled: your request for %s", scope)
		c.Headline = "Your request was cancelled"
		c.Intro = []string{fmt.Sprintf("Your request for %s was cancelled before anyone decided it: %s. It grants nothing.", scope, r.CancelReason.Explain())}
	case KindEnded:
		end := ""
		if r.EndsAt != nil {
			end = " at " + at(*r.EndsAt)
		}
		c.Subject = fmt.Sprintf("Ended early: %s gave up %s", who, scope)
		c.Headline = "A grant was ended early by its requester"
		c.Intro = []string{fmt.Sprintf("%s ended their access to %s%s, before its planned end. It no longer works. This is for your information; nothing waits for you.", who, scope, end)}
		// Ended before it started (its window cut to nothing): it never gave access, and an
		// extension lined up behind a grant leaves that grant as it was.
		if r.StartsAt != nil && r.EndsAt != nil && !r.StartsAt.Before(*r.EndsAt) {
			c.Headline = "A grant was given up before it started"
			c.Intro = []string{fmt.Sprintf("%s gave up %s%s, before it started; it never starts. This is for your information; nothing waits for you.", who, scope, end)}
			if r.ExtendsID != "" {
				c.Subject = fmt.Sprintf("Ended early: %s gave up extra time on %s", who, scope)
				c.Headline = "An extension was given up before it started"
				c.Intro = []string{fmt.Sprintf("%s gave up the extra time on %s%s, before it started. The grant it would have extended is not changed and runs to its own end. This is for your information; nothing waits for you.", who, scope, end)}
			}
		}
	case KindExpiring:
		end := ""
		if r.EndsAt != nil {
			end = at(*r.EndsAt)
		}
		c.Subject = fmt.Sprintf("Ending soon: your access to %s", scope)
		c.Headline = "Your access ends soon"
		c.Intro = []string{fmt.Sprintf("Your access to %s ends at %s. If you need more time, ask for an extension on the request page.", scope, end)}
	case KindEmergency:
		end := ""
		if r.EndsAt != nil {
			end = at(*r.EndsAt)
		}
		c.Subject = fmt.Sprintf("Emergency access: %s took %s for %s", who, scope, dur)
		c.Headline = "Emergency access was granted"
		c.Intro = []string{
			fmt.Sprintf("%s took emergency access to %s. It was granted at once, without approval, and works until %s.", who, scope, end),
			"An approver must review it afterwards: confirm it, or mark it as misuse, which revokes it if it is still in force.",
		}
		c.LinkLabel = "Review the emergency access"
	case KindEmergencyConfirmed, KindMisuse:
		reviewer, reason := "An approver", ""
		if e := r.EmergencyReview; e != nil {
			reviewer, reason = e.ReviewerName, e.Reason
		}
		taken := at(r.CreatedAt)
		if kind == KindEmergencyConfirmed {
			c.Subject = fmt.Sprintf("Emergency access confirmed: %s's use of %s", who, scope)
			c.Headline = "An emergency access was reviewed and confirmed"
			c.Intro = []string{fmt.Sprintf("%s reviewed the emergency access %s took to %s at %s and confirmed it was needed. This is for your information; nothing waits for you.", reviewer, who, scope, taken)}
		} else {
			c.Subject = fmt.Sprintf("Misuse reported: %s's emergency access to %s", who, scope)
			c.Headline = "An emergency access was marked as misuse"
			ended := "It had already ended."
			if r.Status == pam.StatusRevoked {
				ended = "It was revoked at once and no longer works."
			}
			c.Intro = []string{fmt.Sprintf("%s reviewed the emergency access %s took to %s at %s and marked it as misuse. %s", reviewer, who, scope, taken, ended)}
		}
		if reason != "" {
			c.Notes = append(c.Notes, Field{"Reason", reason})
		}
	case KindDecided:
		state := strings.ToLower(r.Status.Label())
		c.Subject = fmt.Sprintf("No action needed: %s's request for %s was %s", who, scope, state)
		c.Headline = "This request no longer needs you"
		switch r.Status {
		case pam.StatusApproved, pam.StatusDenied:
			names := []string{}
			for _, v := range r.Reviews {
				if v.Decision == pam.DecisionDeny || (r.Status == pam.StatusApproved && v.Decision == pam.DecisionApprove) {
					names = append(names, v.By())
				}
			}
			by := strings.Join(names, ", ")
			if by == "" {
				by = "the system"
			}
			c.Intro = []string{fmt.Sprintf("%s's request for %s was %s by %s.", who, scope, state, by)}
		case pam.StatusWithdrawn:
			c.Intro = []string{fmt.Sprintf("%s withdrew their request for %s.", who, scope)}
		case pam.StatusTimedOut:
			c.Intro = []string{fmt.Sprintf("%s's request for %s timed out before anyone decided it.", who, scope)}
		case pam.StatusCancelled:
			c.Intro = []string{fmt.Sprintf("%s's request for %s was cancelled before anyone decided it: %s.", who, scope, r.CancelReason.Explain())}
		default:
			c.Intro = []string{fmt.Sprintf("%s's request for %s is %s.", who, scope, state)}
		}
	}
	if kind == KindDenied || kind == KindApproved || kind == KindDecided {
		for _, v := range r.Reviews {
			if v.Comment == "" {
				continue
			}
			verb := "approved"
			if v.Decision == pam.DecisionDeny {
				verb = "denied"
			}
			c.Notes = append(c.Notes, Field{fmt.Sprintf("%s %s at %s", v.By(), verb, at(v.At)), v.Comment})
		}
	}
	if r.Justification != "" {
		c.Notes = append([]Field{{"Justification", r.Justification}}, c.Notes...)
	}

	c.Fields = []Field{
		{"Request", r.ID},
		{"Requester", strings.TrimSpace(r.RequesterName + " <" + r.RequesterEmail + ">")},
		{"Scope", scope},
		{"Covers", taskList(r, tasks)},
		{"Duration", dur},
	}
	if r.Ticket != "" {
		c.Fields = append(c.Fields, Field{"Ticket", r.Ticket})
	}
	c.Fields = append(c.Fields, Field{"Status", r.Status.Label()})
	if r.Status == pam.StatusCancelled {
		c.Fields = append(c.Fields, Field{"Reason", string(r.CancelReason)})
	}
	c.Fields = append(c.Fields, Field{"Asked", at(r.CreatedAt)})
	if r.Status == pam.StatusPending {
		c.Fields = append(c.Fields, Field{"Decide by", at(r.PendingUntil)})
		if r.ScheduledStart != nil {
			c.Fields = append(c.Fields, Field{"Wants to start", at(*r.ScheduledStart)})
		}
	}
	if r.DecidedAt != nil {
		c.Fields = append(c.Fields, Field{"Decided", at(*r.DecidedAt)})
	}
	if r.StartsAt != nil && r.EndsAt != nil && (r.Status == pam.StatusApproved || r.Status.Stopped()) {
		c.Fields = append(c.Fields, Field{"Starts", at(*r.StartsAt)}, Field{"Ends", at(*r.EndsAt)})
	}
	return c
}

func taskList(r pam.Request, tasks []pam.Task) string {
	if len(tasks) == 0 {
		return "no tasks at the moment"
	}
	keys := make([]string, 0, len(tasks))
	for i, t := range tasks {
		if i == maxTasks {
			keys = append(keys, "and more (see the request)")
			break
		}
		keys = append(keys, t.Key)
	}
	return strings.Join(keys, ", ")
}

// PasswordLink queues the one-time set-password link for a user, inside the transaction tx that
// creates the link. The link itself lives only in this message: the database keeps its hash.
func (o *Outbox) PasswordLink(ctx context.Context, tx *store.Store, l admin.PasswordLink) error {
	u, token, expires := l.User, l.Token, l.Expires
	loc := pam.ZoneOrUTC(u.TimeZone)
	link := o.base + "/set-password?token=" + url.QueryEscape(token)
	c := content{
		Subject: "Choose your Elevate password", Headline: "Choose your password",
		Greeting: "Hello " + u.Name + ",", Link: link, LinkLabel: "Choose a password",
		Intro: []string{
			"An administrator made you a one-time link to choose your Elevate password. It works once and expires at " + formatTime(expires, loc) + ".",
			"Opening the link only shows a form; nothing changes until you submit it.",
		},
		Fields: []Field{{"Account", u.Email}},
		Footer: "If you did not expect this mail, ignore it; the link expires by itself.",
	}
	if l.Action == audit.UserCreated {
		c.Subject, c.Headline = "Welcome to Elevate: choose your password", "Welcome to Elevate"
		c.Intro[0] = "An administrator created an Elevate account for you. Choose your password with this one-time link; it works once and expires at " + formatTime(expires, loc) + "."
	}
	if err := o.enqueue(ctx, tx, KindPasswordSet, "", u, c); err != nil {
		return fmt.Errorf("queue password link for %s: %w", u.Email, err)
	}
	return nil
}

// Retry puts a failed message back in the queue (an administrator's decision, audited).
func (o *Outbox) Retry(ctx context.Context, a audit.Actor, id string) (pam.OutboxMessage, error) {
	var m pam.OutboxMessage
	err := o.db.Tx(ctx, func(tx *store.Store) error {
		var err error
		if m, err = tx.RequeueMail(ctx, id, o.now()); err != nil {
			return err
		}
		ev := a.Event(audit.MailRetryRequested, "mail", m.ID, map[string]any{
			"recipient": m.Recipient, "subject": m.Subject, "kind": m.Kind, "attempts": m.Attempts, "last_error": m.LastError})
		ev.At, ev.RequestID = o.now(), m.RequestID
		return tx.AppendAudit(ctx, ev)
	})
	if err != nil {
		return m, fmt.Errorf("retry mail %s: %w", id, err)
	}
	return m, nil
}

// QueueExpiryNotices queues the "ends soon" mail for grants ending within ExpiryNotice. Each
// grant is claimed with a conditional update in the same transaction as its mail, so it is
// told once even when several processes run this at the same time.
func (o *Outbox) QueueExpiryNotices(ctx context.Context) (int, error) {
	now := o.now()
	ids, err := o.db.DueForExpiryNotice(ctx, now, ExpiryNotice, 200)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		err := o.db.Tx(ctx, func(tx *store.Store) error {
			ok, err := tx.ClaimExpiryNotice(ctx, id, now)
			if err != nil || !ok {
				return err
			}
			r, err := tx.RequestByID(ctx, id)
			if err != nil {
				return err
			}
			requester, err := tx.UserByID(ctx, r.RequesterID)
			if err != nil {
				return err
			}
			tasks, err := tx.ScopeTasks(ctx, r.ScopeType, r.ScopeID, maxTasks+1)
			if err != nil && pam.ErrorCode(err) != pam.EINVALID {
				return err
			}
			n++
			return tx.EnqueueMails(ctx, o.toRequester(nil, view{Request: r, Tasks: tasks}, requester, KindExpiring))
		})
		if err != nil {
			return n, fmt.Errorf("expiry notice for request %s: %w", id, err)
		}
	}
	return n, nil
}

// Messages lists outbox messages newest first, one keyset page at a time.
func (o *Outbox) Messages(ctx context.Context, f pam.MailFilter) ([]pam.OutboxMessage, error) {
	return o.db.Mail(ctx, f)
}

// Message returns one message of the outbox, or ENOTFOUND.
func (o *Outbox) Message(ctx context.Context, id string) (pam.OutboxMessage, error) {
	return o.db.MailByID(ctx, id)
}

// Counts counts the outbox's messages by state.
func (o *Outbox) Counts(ctx context.Context) (map[string]int64, error) { return o.db.MailCounts(ctx) }

// delegatedDeciders is a sentence naming who decided r, when one of them acted on behalf of an
// approver ("Approved by Dana on behalf of Olivia."); nothing otherwise.
func delegatedDeciders(r pam.Request, decision string) []string {
	var names []string
	delegated := false
	for _, v := range r.Reviews {
		if v.Decision == decision {
			names = append(names, v.By())
			delegated = delegated || v.OnBehalfOf != ""
		}
	}
	if !delegated {
		return nil
	}
	verb := "Approved"
	if decision == pam.DecisionDeny {
		verb = "Denied"
	}
	return []string{fmt.Sprintf("%s by %s.", verb, strings.Join(names, ", "))}
}

// onBehalf is the sentence telling a delegate in whose place a request asks them, as the inbox
// and the request page say it ("You are asked on behalf of Olivia, who delegated to you."); nothing
// for someone asked in their own right.
func onBehalf(principals []string) []string {
	switch n := len(principals); n {
	case 0:
		return nil
	case 1:
		return []string{fmt.Sprintf("You are asked on behalf of %s, who delegated to you.", principals[0])}
	default:
		names := strings.Join(principals[:n-1], ", ") + " and " + principals[n-1]
		return []string{fmt.Sprintf("You are asked on behalf of %s, who delegated to you.", names)}
	}
}
