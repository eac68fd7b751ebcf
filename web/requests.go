package web

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/components"
	errview "github.com/elevate-pam/elevate/views/errors"
	reqview "github.com/elevate-pam/elevate/views/requests"
	"github.com/labstack/echo/v4"
)

// zoneLabel names a zone for sentences: "Europe/Paris", or "UTC".
func zoneLabel(loc *time.Location) string { return loc.String() }

// clock formats a time for a sentence in the viewer's zone: "15:04" today, otherwise with the date.
func clock(t, now time.Time, loc *time.Location) string {
	lt, ln := t.In(loc), now.In(loc)
	if lt.Year() == ln.Year() && lt.YearDay() == ln.YearDay() {
		return lt.Format("15:04")
	}
	return lt.Format("2 Jan 15:04")
}

// cardVM formats a request for the viewer: what it is, where it stands and what they may do.
func cardVM(viewer pam.User, v access.View, now time.Time, loc *time.Location, back string) reqview.CardVM {
	r := v.Request
	vm := reqview.CardVM{
		ID: r.ID, Href: "/requests/" + r.ID, Requester: r.RequesterName, RequesterEmail: r.RequesterEmail,
		Scope: r.ScopeName, Kind: r.ScopeType.Label(), Duration: pam.FormatDuration(r.Duration),
		Justification: r.Justification, Ticket: r.Ticket, Requested: timeVM(r.CreatedAt, now, loc), Back: back,
		CanReview: v.CanReview, CanWithdraw: v.CanWithdraw, CanRevoke: v.CanRevoke, CanExtend: v.CanExtend,
		CanEnd: v.CanEnd, Emergency: r.Emergency, CanReviewEmergency: v.CanReviewEmergency, OnBehalfOf: v.OnBehalfOf,
	}
	if er := r.EmergencyReview; er != nil {
		if er.Outcome == pam.EmergencyMisuse {
			vm.EmergencyReview = fmt.Sprintf("Marked as misuse by %s %s: %s", er.ReviewerName, relative(er.At, now), er.Reason)
		} else {
			vm.EmergencyReview = fmt.Sprintf("Confirmed by %s %s.", er.ReviewerName, relative(er.At, now))
		}
	}

	own := viewer.ID == r.RequesterID
	st := r.StatusAt(now)
	// A request still pending asks; once decided (or withdrawn, timed out…) it asked.
	vm.Asks = "asks for"
	if own {
		vm.Requester, vm.Asks = "You", "ask for"
	}
	if st != pam.StatusPending {
		vm.Asks = "asked for"
	}
	if r.Emergency {
		// Emergency access is taken at once, not asked for.
		vm.Asks = "took emergency access to"
	}
	for _, t := range v.Tasks {
		vm.Tasks = append(vm.Tasks, t.Key)
	}
	if v.MoreTasks {
		vm.MoreTasks = 1
	}
	if r.ExtendsID != "" {
		vm.Extends = "/requests/" + r.ExtendsID
		vm.Asks = "asks for more time on"
		if own {
			vm.Asks = "ask for more time on"
		}
		if st != pam.StatusPending {
			vm.Asks = "asked for more time on"
		}
	}
	zone := zoneLabel(loc)
	for _, e := range v.Extensions {
		l := reqview.Link{Href: "/requests/" + e.ID, Text: fmt.Sprintf("%s more asked for, waiting for approval", pam.FormatDuration(e.Duration))}
		if e.Status == pam.StatusApproved && e.EndsAt != nil {
			l.Text = fmt.Sprintf("Extended: %s more follows, until %s (%s)", pam.FormatDuration(e.Duration), clock(*e.EndsAt, now, loc), zone)
		}
		vm.Extensions = append(vm.Extensions, l)
	}
	if viewer.ID != r.RequesterID {
		cardContext(&vm, v, now, loc)
	}
	if v.CanEnd {
		vm.EndOpen, vm.EndText, vm.EndButton = endWords(r, now, loc)
	}
	vm.StatusKind, vm.StatusText = string(st), st.Label()
	if r.ApprovalType == pam.ApprovalManual {
		vm.Approvals = fmt.Sprintf("%d of %d", r.Approvals(), r.ApprovalsRequired)
		var by []string
		for _, rv := range r.Reviews {
			if rv.Decision == pam.DecisionApprove {
				name := rv.By()
				if rv.Lapsed {
					name += " (no longer an approver)"
				}
				by = append(by, name)
			}
		}
		vm.ApprovedBy = strings.Join(by, ", ")
	} else {
		vm.Approvals = "Approved automatically"
	}
	if r.Emergency {
		vm.Approvals = "Emergency: granted at once by the system"
	}
	switch st {
	case pam.StatusPending:
		left := r.ApprovalsRequired - r.Approvals()
		vm.StateLine = "Waits for " + pam.Count(left, "more approval", "more approvals")
		tv := timeVM(r.PendingUntil, now, loc)
		vm.TimesOut = &tv
		vm.Deciders = decidersLine(v)
		vm.Escalation = escalationLine(v, now, loc)
	case pam.StatusApproved:
		if r.InForce(now) {
			vm.StatusKind, vm.StatusText = "in_force", "In force"
			vm.StateLine = fmt.Sprintf("In force until %s (%s), %s left", clock(*r.EndsAt, now, loc), zone, pam.FormatDuration(r.EndsAt.Sub(now)))
		} else {
			vm.StateLine = fmt.Sprintf("Approved; starts %s (%s)", clock(*r.StartsAt, now, loc), zone)
		}
	case pam.StatusDenied:
		vm.StateLine = "Denied"
		for _, v := range r.Reviews {
			if v.Decision == pam.DecisionDeny {
				vm.StateLine = "Denied by " + v.By()
			}
		}
	case pam.StatusWithdrawn:
		vm.StateLine = "Withdrawn by the requester"
		if own {
			vm.StateLine = "Withdrawn by you"
		}
	case pam.StatusTimedOut:
		vm.StateLine = "Timed out: nobody decided in time"
	case pam.StatusExpired:
		vm.StateLine = fmt.Sprintf("Ended %s (%s)", clock(*r.EndsAt, now, loc), zone)
	case pam.StatusRevoked:
		vm.StateLine = "Revoked: " + r.RevokeReason
		if own {
			vm.StateLine = "Revoked: " + pam.RevokeReasonToRequester(r.RevokeReason)
		}
	case pam.StatusCancelled:
		vm.StateLine = "Cancelled: " + string(r.CancelReason)
	case pam.StatusEnded:
		by := "the requester"
		if own {
			by = "you"
		}
		vm.StateLine = fmt.Sprintf("Ended early by %s at %s (%s)", by, clock(*r.EndsAt, now, loc), zone)
	}
	return vm
}

// endWords word a requester's end of their own approved grant as the service carries it out
// (access.Service.End): a grant in force stops at once and takes its extensions with it; one
// not started yet never starts, and an extension lined up behind the grant in force leaves
// that grant running to its end, where the extension would have begun.
func endWords(r pam.Request, now time.Time, loc *time.Location) (open, text, button string) {
	zone := zoneLabel(loc)
	switch {
	case r.StartsAt == nil || !r.StartsAt.After(now):
		return "End my access now…",
			"Your access to " + r.ScopeName + " stops at once and checks are denied from then on. Extensions of it end too. To work again you ask for access again.",
			"Yes, end my access now"
	case r.ExtendsID != "":
		return "Give up the extra time…",
			fmt.Sprintf("The extra time on %s is cancelled and never starts. Your current grant is not touched: it runs until %s (%s), and checks are allowed until then.", r.ScopeName, clock(*r.StartsAt, now, loc), zone),
			"Yes, give up the extra time"
	}
	return "Cancel this grant…",
		fmt.Sprintf("Your grant of %s, due to start at %s (%s), is cancelled and never starts. To work then, you ask for access again.", r.ScopeName, clock(*r.StartsAt, now, loc), zone),
		"Yes, cancel this grant"
}

// endedMessage is the flash after a requester ends their own grant, r as it was before.
func endedMessage(r pam.Request, now time.Time, loc *time.Location) string {
	switch {
	case r.StartsAt == nil || !r.StartsAt.After(now):
		return "Your access to " + r.ScopeName + " has ended. Checks are denied from now on."
	case r.ExtendsID != "":
		return fmt.Sprintf("Extra time on %s given up. Your current grant still runs until %s (%s).", r.ScopeName, clock(*r.StartsAt, now, loc), zoneLabel(loc))
	}
	return "Your grant of " + r.ScopeName + " is cancelled; it will not start."
}

// decidersLine names who may still approve a pending request: "Ana Approver, Otto Approver
// and 3 more"; "" when nobody can (the state line and the policy page say why).
func decidersLine(v access.View) string {
	if len(v.Deciders) == 0 {
		return ""
	}
	line := strings.Join(v.Deciders, ", ")
	if v.MoreDeciders > 0 {
		line += " and " + strconv.Itoa(v.MoreDeciders) + " more"
	}
	return line
}

// escalationLine says where a pending request escalates and when, in the viewer's zone:
// "Escalates to Backup approvers at 14:00 (Europe/Paris)", or "Escalated to … at …" once done.
func escalationLine(v access.View, now time.Time, loc *time.Location) string {
	r := v.Request
	group := v.EscalationGroupName
	if group == "" {
		group = "the escalation group"
	}
	switch {
	case r.Escalated():
		return fmt.Sprintf("Escalated to %s at %s (%s)", group, clock(*r.EscalatedAt, now, loc), zoneLabel(loc))
	case r.EscalateAt != nil && r.EscalationGroupID != "":
		return fmt.Sprintf("Escalates to %s at %s (%s) if still undecided", group, clock(*r.EscalateAt, now, loc), zoneLabel(loc))
	}
	return ""
}

// historyShown is how many of the requester's decided requests for the scope a card lists.
const historyShown = 3

// cardContext tells an approver what the requester already has of the scope (a grant in force
// or scheduled, another request pending) and how their last requests for it ended; on the
// inbox's card, links narrow the inbox to the requester, the scope or the policy.
func cardContext(vm *reqview.CardVM, v access.View, now time.Time, loc *time.Location) {
	r, zone := v.Request, zoneLabel(loc)
	vm.AboutRequester = true
	for _, h := range v.History {
		href := "/requests/" + h.ID
		st := h.StatusAt(now)
		switch {
		case h.InForce(now):
			vm.Context = append(vm.Context, reqview.Link{Href: href,
				Text: fmt.Sprintf("Already holds this until %s (%s).", clock(*h.EndsAt, now, loc), zone)})
		case st == pam.StatusApproved && h.StartsAt != nil && h.StartsAt.After(now):
			vm.Context = append(vm.Context, reqview.Link{Href: href,
				Text: fmt.Sprintf("Already has it scheduled from %s (%s).", clock(*h.StartsAt, now, loc), zone)})
		case st == pam.StatusPending:
			vm.Context = append(vm.Context, reqview.Link{Href: href, Text: "Has another request pending for it, asked " + relative(h.CreatedAt, now) + "."})
		case len(vm.History) < historyShown:
			sc := statusCell(h, now)
			vm.History = append(vm.History, reqview.HistoryItem{Href: href, StatusKind: sc.Badge, StatusText: sc.Text,
				When: "asked " + relative(h.CreatedAt, now)})
		}
	}
	if strings.HasPrefix(vm.Back, "/approvals") {
		first := r.RequesterName
		if i := strings.IndexByte(first, ' '); i > 0 {
			first = first[:i]
		}
		vm.Narrow = []reqview.Link{
			{Text: "Only " + first + "'s requests", Href: inboxHref(nil, "requester", string(r.RequesterID))},
			{Text: "Only this scope", Href: inboxHref(nil, "scope", string(r.ScopeType)+":"+r.ScopeID)},
			{Text: "Only this policy", Href: inboxHref(nil, "policy", r.PolicyID)},
		}
	}
}

// timeline is a request's history, oldest first; own is true when the viewer is its requester,
// who reads the system's reasons as said to them.
func timeline(v access.View, own bool, now time.Time, loc *time.Location) []reqview.Entry {
	r := v.Request
	tl := []reqview.Entry{{Title: "Requested by " + r.RequesterName, Kind: "requested", At: timeVM(r.CreatedAt, now, loc),
		Text: "For " + pam.FormatDuration(r.Duration)}}
	changes := v.RuleChanges
	// Rule changes take their place among the reviews by time.
	changed := func(before *time.Time) {
		for len(changes) > 0 && (before == nil || !changes[0].At.After(*before)) {
			c := changes[0]
			changes = changes[1:]
			tl = append(tl, reqview.Entry{Title: "Policy changed", Kind: "changed", Text: c.Text(), At: timeVM(c.At, now, loc)})
		}
	}
	if r.Emergency {
		tl[0].Title = "Emergency access taken by " + r.RequesterName
		tl = append(tl, reqview.Entry{Title: "Granted at once by the system", Kind: "approved", At: timeVM(r.CreatedAt, now, loc),
			Text: "Emergency access: every approver and the security address were mailed."})
	}
	for _, v := range r.Reviews {
		changed(&v.At)
		title := "Approved by " + v.By()
		kind := "approved"
		if v.Decision == pam.DecisionDeny {
			title, kind = "Denied by "+v.By(), "denied"
		}
		text := v.Comment
		if v.Lapsed && v.Decision == pam.DecisionApprove {
			title += " (no longer an approver; this approval does not count)"
		}
		tl = append(tl, reqview.Entry{Title: title, Kind: kind, Text: text, At: timeVM(v.At, now, loc)})
	}
	changed(nil)
	if r.RemindedAt != nil {
		tl = append(tl, reqview.Entry{Title: "Approvers reminded", Kind: "requested", At: timeVM(*r.RemindedAt, now, loc),
			Text: "Those who had not acted were reminded by mail."})
	}
	if r.Escalated() {
		group := v.EscalationGroupName
		if group == "" {
			group = "the escalation group"
		}
		tl = append(tl, reqview.Entry{Title: "Escalated to " + group, Kind: "requested", At: timeVM(*r.EscalatedAt, now, loc),
			Text: "Its enabled members may decide it too; the approvals needed stay the same."})
	}
	// Reviews, the reminder and the escalation interleave in time.
	sort.SliceStable(tl, func(i, j int) bool { return tl[i].At.ISO < tl[j].At.ISO })
	st := r.StatusAt(now)
	if r.ApprovalType == pam.ApprovalAuto && r.DecidedAt != nil && r.StartsAt != nil {
		tl = append(tl, reqview.Entry{Title: "Approved automatically", Kind: "approved", At: timeVM(*r.DecidedAt, now, loc)})
	}
	if r.StartsAt != nil && !r.StartsAt.After(now) && (st == pam.StatusApproved || st == pam.StatusExpired || (st.Stopped() && r.EndsAt.After(*r.StartsAt))) {
		text := "Until " + r.EndsAt.In(loc).Format("2 Jan 15:04 MST")
		if st.Stopped() {
			// Its end below is when it was stopped; here, what it was granted for.
			text = "Granted for " + pam.FormatDuration(r.Duration) + ", to " + r.StartsAt.Add(r.Duration).In(loc).Format("2 Jan 15:04 MST")
		}
		tl = append(tl, reqview.Entry{Title: "Grant started", Kind: "started", At: timeVM(*r.StartsAt, now, loc), Text: text})
	} else if r.StartsAt != nil && r.StartsAt.After(now) && st == pam.StatusApproved {
		tl = append(tl, reqview.Entry{Title: "Grant scheduled", Kind: "requested", At: timeVM(*r.StartsAt, now, loc)})
	}
	switch st {
	case pam.StatusWithdrawn:
		tl = append(tl, reqview.Entry{Title: "Withdrawn by " + r.RequesterName, Kind: "withdrawn", At: timeVM(*r.DecidedAt, now, loc)})
	case pam.StatusTimedOut:
		tl = append(tl, reqview.Entry{Title: "Timed out", Kind: "timed_out", At: timeVM(r.PendingUntil, now, loc), Text: "Nobody decided in time."})
	case pam.StatusExpired:
		tl = append(tl, reqview.Entry{Title: "Grant ended", Kind: "expired", At: timeVM(*r.EndsAt, now, loc)})
	case pam.StatusRevoked:
		by, reason := "an administrator", r.RevokeReason
		if own {
			reason = pam.RevokeReasonToRequester(reason)
		}
		if v.RevokedByName != "" {
			by = v.RevokedByName
		}
		tl = append(tl, reqview.Entry{Title: "Revoked by " + by, Kind: "revoked", At: timeVM(*r.EndsAt, now, loc), Text: reason})
	case pam.StatusEnded:
		tl = append(tl, reqview.Entry{Title: "Ended early by " + r.RequesterName, Kind: "ended", At: timeVM(*r.EndsAt, now, loc)})
	case pam.StatusCancelled:
		tl = append(tl, reqview.Entry{Title: "Cancelled: " + string(r.CancelReason), Kind: "cancelled", At: timeVM(*r.DecidedAt, now, loc),
			Text: "Nobody can decide it any more: " + r.CancelReason.Explain() + "."})
	}
	if er := r.EmergencyReview; er != nil {
		e := reqview.Entry{Title: "Emergency access confirmed by " + er.ReviewerName, Kind: "approved", At: timeVM(er.At, now, loc), Text: er.Reason}
		if er.Outcome == pam.EmergencyMisuse {
			e.Title, e.Kind = "Marked as misuse by "+er.ReviewerName, "denied"
		}
		// A misuse revokes at the same moment: the review comes first.
		if n := len(tl); st == pam.StatusRevoked && er.Outcome == pam.EmergencyMisuse {
			revoked := tl[n-1]
			tl = append(tl[:n-1], e, revoked)
		} else {
			tl = append(tl, e)
		}
	}
	return tl
}

func (s *Server) showRequest(c echo.Context) error {
	u, _ := CurrentUser(c)
	v, err := s.access.RequestView(c.Request().Context(), u, c.Param("id"))
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, s.requestPage(c, u, v, nil))
}

// requestPage draws a request's page; edit adjusts its card (a message, the input kept).
func (s *Server) requestPage(c echo.Context, u pam.User, v access.View, edit func(*reqview.CardVM)) templ.Component {
	r := v.Request
	now, loc := s.now(), viewerZone(c)
	card := cardVM(u, v, now, loc, "/requests/"+r.ID)
	if edit != nil {
		edit(&card)
	}
	backLabel, backHref := "My requests", "/requests"
	switch {
	case u.ID == r.RequesterID:
	case u.Auditor && !v.Approver:
		// An auditor reads it from the audit trail; it never waits in their inbox.
		backLabel, backHref = "Audit", "/audit"
	default:
		backLabel, backHref = "Approvals", "/approvals"
	}
	// Someone else's request belongs under Approvals (or Audit), not My requests.
	c.Set(navSectionKey, backHref+"/")
	vm := reqview.DetailVM{Meta: s.meta(c, "Request for "+r.ScopeName), Card: card, Timeline: timeline(v, u.ID == r.RequesterID, now, loc),
		BackLabel: backLabel, BackHref: backHref}
	vm.AuditHref = requestAuditHref(u, r.ID)
	return reqview.Detail(vm)
}

var requestTabs = []struct{ status, label string }{
	{"", "All"}, {"pending", "Pending"}, {"approved", "Approved"}, {"denied", "Denied"}, {"withdrawn", "Withdrawn"},
	{"timed_out", "Timed out"}, {"expired", "Expired"}, {"revoked", "Revoked"}, {"ended", "Ended early"}, {"cancelled", "Cancelled"},
}

func (s *Server) listRequests(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	f := pam.RequestFilter{Limit: pageSize}
	var err error
	if f.Before, err = listCursor(c); err != nil {
		return s.badCursor(c, err)
	}
	status := c.QueryParam("status")
	if status != "" {
		st, err := pam.ParseStatus(status)
		if err != nil {
			return err
		}
		f.Status = st
	}
	rs, err := s.access.MyRequests(ctx, u, f)
	if err != nil {
		return err
	}
	now, loc := s.now(), viewerZone(c)
	vm := reqview.ListVM{Meta: s.meta(c, "My requests")}
	for _, t := range requestTabs {
		href := "/requests"
		if t.status != "" {
			href += "?status=" + t.status
		}
		vm.Tabs = append(vm.Tabs, reqview.Tab{Label: t.label, Href: href, Active: t.status == status})
	}
	vm.Table = components.TableVM{TestID: "requests", Columns: []string{"What", "State", "Asked", "Duration"},
		Empty: "No requests here. Use Request access to ask for a task, role or role group."}
	for _, r := range rs {
		badge := stateCell(r, now, loc)
		tv := timeVM(r.CreatedAt, now, loc)
		vm.Table.Rows = append(vm.Table.Rows, []components.Cell{
			{Text: r.ScopeName, Href: "/requests/" + r.ID, Sub: r.ScopeType.Label(), Emergency: r.Emergency, Extension: r.ExtendsID != ""}, badge,
			{Text: tv.Relative, Title: tv.Title}, {Text: pam.FormatDuration(r.Duration)},
		})
	}
	last := ""
	if len(rs) > 0 {
		l := rs[len(rs)-1]
		last = pam.CursorAt(l.CreatedAt, l.ID).String()
	}
	vm.FirstHref, vm.NextHref = pageLinks("/requests", c.QueryParams(), c.QueryParam("after"), last, len(rs) == pageSize)
	return render(c, http.StatusOK, reqview.List(vm))
}

// stateCell is a request's state badge in a list of requests, worded as My requests words it: a
// grant in force reads "In force", with its end in the viewer's zone and the time left.
func stateCell(r pam.Request, now time.Time, loc *time.Location) components.Cell {
	if r.InForce(now) {
		return components.Cell{Badge: "in_force", Text: "In force", Sub: "until " + clock(*r.EndsAt, now, loc) + ", " + pam.FormatDuration(r.EndsAt.Sub(now)) + " left"}
	}
	return statusCell(r, now)
}

// statusCell is a request's state badge for a table; a cancelled request carries its reason.
func statusCell(r pam.Request, now time.Time) components.Cell {
	st := r.StatusAt(now)
	c := components.Cell{Badge: string(st), Text: st.Label()}
	if st == pam.StatusCancelled {
		c.Sub = string(r.CancelReason)
	}
	return c
}

// inboxPageSize is how many waiting requests one page of the inbox lists.
const inboxPageSize = 25

// soonWindow is how close to timing out a waiting request is flagged, and what the inbox's
// "times out within 1 h" filter keeps.
const soonWindow = time.Hour

// maxFilterValue bounds an id in the inbox's query (every id Elevate hands out is a UUID).
const maxFilterValue = 64

// inboxFilter reads an inbox's query (the page's own, or that of the inbox an inline decision
// came from): requester, policy and scope ("role:<id>") to narrow it, soon=1 for what times out
// within the hour, sort=age|left and the keyset cursor. A session that found no delegation to
// the viewer leaves the reads of delegated requests out.
func inboxFilter(c echo.Context, q url.Values, now time.Time) (pam.InboxFilter, error) {
	f := pam.InboxFilter{Limit: inboxPageSize}
	if fr, ok := currentFrame(c); ok && !fr.Delegate {
		f.NoDelegations = true
	}
	var err error
	if f.Sort, err = pam.ParseInboxSort(q.Get("sort")); err != nil {
		return f, err
	}
	if f.After, err = pam.ParseCursor(q.Get("after")); err != nil {
		return f, err
	}
	for _, name := range []string{"requester", "policy", "scope"} {
		if len(q.Get(name)) > maxFilterValue {
			return f, pam.FieldError(name, "That filter is not one this page gave out; start again from all waiting requests.")
		}
	}
	f.RequesterID, f.PolicyID = pam.UserID(q.Get("requester")), q.Get("policy")
	if sc := q.Get("scope"); sc != "" {
		kind, id, ok := strings.Cut(sc, ":")
		st, err := pam.ParseScopeType(kind)
		if !ok || id == "" || err != nil {
			return f, pam.FieldError("scope", "That scope filter is not one this page gave out; start again from all waiting requests.")
		}
		f.ScopeType, f.ScopeID = st, id
	}
	switch q.Get("soon") {
	case "":
	case "1":
		f.TimesOutBy = now.Add(soonWindow)
	default:
		return f, pam.FieldError("soon", "Use soon=1 to see what times out within the hour.")
	}
	return f, nil
}

// badRequest answers a page asked with input no page gives out: 400, the message, and a way on.
func (s *Server) badRequest(c echo.Context, err error, href, label string) error {
	vm := errview.VM{Meta: s.meta(c, heading(http.StatusBadRequest)), Status: http.StatusBadRequest,
		Heading: heading(http.StatusBadRequest), Message: pam.ErrorMessage(err), Href: href, HrefLabel: label}
	return render(c, http.StatusBadRequest, errview.Page(vm))
}

// inboxHref is the inbox's address with its query changed: set pairs a name with a value, and
// an empty value drops it. The cursor is always dropped (a changed filter starts again).
func inboxHref(q url.Values, set ...string) string {
	keep := url.Values{}
	for k, v := range q {
		if k != "after" && len(v) > 0 && v[0] != "" {
			keep[k] = v
		}
	}
	for i := 0; i+1 < len(set); i += 2 {
		if set[i+1] == "" {
			keep.Del(set[i])
		} else {
			keep.Set(set[i], set[i+1])
		}
	}
	if len(keep) == 0 {
		return "/approvals"
	}
	return "/approvals?" + keep.Encode()
}

// showApprovals draws the inbox: one keyset page of what waits for the viewer (narrowed and
// ordered as the query asks) as a compact table, and what they decided recently. The page's one
// read of the waiting requests also gives the navigation its count.
func (s *Server) showApprovals(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	now, loc := s.now(), viewerZone(c)
	q := c.QueryParams()
	f, err := inboxFilter(c, q, now)
	if err != nil {
		if err == pam.ErrBadCursor {
			return s.badCursor(c, err)
		}
		return s.badRequest(c, err, "/approvals", "Show all waiting requests")
	}
	inbox, err := s.access.Approvals(ctx, u, f)
	if err != nil {
		return err
	}
	setInboxCount(c, inbox.Total+len(inbox.Emergencies))
	frame, framed := currentFrame(c)
	vm := reqview.InboxVM{Meta: s.meta(c, "Approvals"), DecidesNothing: framed && frame.Read && !frame.Approver, Total: inbox.Total, Matched: inbox.Matched, CountCap: access.InboxCountCap, Back: c.Request().URL.RequestURI(),
		Filter: reqview.InboxFilterVM{Narrowed: f.Narrowed(), Requester: string(f.RequesterID), Policy: f.PolicyID,
			Scope: q.Get("scope"), Soon: !f.TimesOutBy.IsZero(), Sort: string(f.Sort),
			ClearHref: inboxHref(q, "requester", "", "policy", "", "scope", "", "soon", "")}}
	var first *access.Waiting
	if len(inbox.Waiting) > 0 {
		first = &inbox.Waiting[0]
	}
	chip := func(param, label, fallback string) {
		if q.Get(param) == "" {
			return
		}
		if first == nil {
			label = fallback
		}
		vm.Filter.Chips = append(vm.Filter.Chips, reqview.Chip{Label: label, ClearHref: inboxHref(q, param, "")})
	}
	if first != nil {
		chip("requester", "Requester: "+first.RequesterName, "")
		chip("scope", "Scope: "+first.ScopeName, "")
		chip("policy", "Policy for "+first.ScopeName, "")
	} else {
		chip("requester", "", "Requester: the chosen person")
		chip("scope", "", "Scope: the chosen scope")
		chip("policy", "", "Policy: the chosen policy")
	}
	for _, w := range inbox.Waiting {
		r := w.Request
		vm.Waiting = append(vm.Waiting, reqview.InboxRow{
			ID: r.ID, Href: "/requests/" + r.ID, CardHref: "/approvals/" + r.ID + "/card", Requester: r.RequesterName,
			Scope: r.ScopeName, Kind: r.ScopeType.Label(), Duration: pam.FormatDuration(r.Duration),
			Asked: timeVM(r.CreatedAt, now, loc), TimesOut: timeVM(r.PendingUntil, now, loc),
			Soon: r.PendingUntil.Sub(now) <= soonWindow, Approvals: fmt.Sprintf("%d of %d", w.Approvals, r.ApprovalsRequired),
			Escalated:  w.Escalated,
			OnBehalfOf: w.OnBehalfOf,
			Extension:  r.ExtendsID != "",
		})
	}
	next := ""
	if inbox.Next != nil {
		next = inbox.Next.String()
	}
	vm.FirstHref, vm.NextHref = pageLinks("/approvals", q, c.QueryParam("after"), next, inbox.Next != nil)
	vm.Decided = decidedRows(inbox.Decided, now, loc)
	for _, r := range inbox.Emergencies {
		vm.Emergencies = append(vm.Emergencies, reqview.EmergencyRow{Href: "/requests/" + r.ID, Requester: r.RequesterName,
			Scope: r.ScopeName, Duration: pam.FormatDuration(r.Duration), Asked: timeVM(r.CreatedAt, now, loc), State: stateCell(r, now, loc).Text})
	}
	return render(c, http.StatusOK, reqview.Inbox(vm))
}

// decidedRows draws "Decided by you recently", each request's state worded as My requests
// words it (stateCell); a decision a delegate made on the viewer's behalf names the delegate.
func decidedRows(ds []access.Decided, now time.Time, loc *time.Location) []reqview.DecidedRow {
	var out []reqview.DecidedRow
	for _, d := range ds {
		st := stateCell(d.Request, now, loc)
		word := map[string]string{pam.DecisionApprove: "Approved", pam.DecisionDeny: "Denied"}[d.Decision]
		if d.By != "" {
			// Decided in the viewer's name by their delegate: said so, as the request page says it.
			word += " by " + d.By + " on your behalf"
		}
		out = append(out, reqview.DecidedRow{
			Href: "/requests/" + d.ID, Scope: d.ScopeName, Requester: d.RequesterName, Decision: word + " " + relative(d.At, now),
			StatusKind: st.Badge, StatusText: st.Text, StatusSub: st.Sub,
		})
	}
	return out
}

// showApprovalCard answers the inbox's expand of a row with the request's card as a table row:
// the same card, and the same rule of who may see it, as the request page. A browser that
// opens the address itself is sent to the request page. The card goes back to the inbox it
// was opened in (back, which a narrowed or later page sends), so that a decision in it redraws
// that page's count line.
func (s *Server) showApprovalCard(c echo.Context) error {
	u, _ := CurrentUser(c)
	id := c.Param("id")
	v, err := s.access.RequestView(c.Request().Context(), u, id)
	if err != nil {
		return err
	}
	if c.Request().Header.Get("HX-Request") != "true" {
		return redirect(c, "/requests/"+url.PathEscape(id))
	}
	back := afterAction(c, "/approvals")
	if !inInbox(back) {
		back = "/approvals"
	}
	card := cardVM(u, v, s.now(), viewerZone(c), back)
	return render(c, http.StatusOK, reqview.InboxCard(csrfToken(c), card))
}

// requestAuditHref links a request's page to its events in the audit trail, for those who may
// read it (administrators and auditors); "" for everyone else.
func requestAuditHref(u pam.User, id string) string {
	if !u.Admin && !u.Auditor {
		return ""
	}
	return auditURL("/audit", "request_id", id)
}

// inInbox reports whether an address is the inbox's, narrowed or not.
func inInbox(back string) bool {
	return back == "/approvals" || strings.HasPrefix(back, "/approvals?")
}

// afterAction returns a no-JS form to where it came from (only paths on this site).
func afterAction(c echo.Context, fallback string) string {
	back := c.FormValue("back")
	if back == "" || safeNext(back) != back {
		return fallback
	}
	return back
}

func (s *Server) reviewRequest(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	id := c.Param("id")
	decision, comment := c.FormValue("decision"), c.FormValue("comment")
	r, err := s.access.Review(ctx, actor(c), u, id, decision, comment)
	problem := func(pe *pam.Error) func(*reqview.CardVM) {
		return func(vm *reqview.CardVM) {
			vm.Comment = comment
			if pe.Field == "comment" {
				vm.CommentError = pe.Message
			} else {
				vm.Notice = pe.Message
			}
		}
	}
	msg := reviewedMessage(r)
	if c.Request().Header.Get("HX-Request") == "true" {
		// htmx swaps the card in place, so every answer it can show is the card itself.
		edit := func(vm *reqview.CardVM) { vm.Notice = msg }
		if err != nil {
			pe, ok := fixable(err)
			if !ok {
				return err
			}
			edit = problem(pe)
		}
		v, err := s.access.RequestView(ctx, u, id)
		if err != nil {
			return err
		}
		return s.renderReviewed(c, u, v, afterAction(c, "/approvals"), edit)
	}
	return s.posted(c, err, outcome{Next: afterAction(c, "/requests/"+id), Done: msg,
		Again: func(pe *pam.Error) (templ.Component, error) {
			v, err := s.access.RequestView(ctx, u, id)
			if err != nil {
				return nil, err
			}
			return s.requestPage(c, u, v, problem(pe)), nil
		}})
}

// reviewedMessage says what a review did.
func reviewedMessage(r pam.Request) string {
	switch r.Status {
	case pam.StatusApproved:
		return fmt.Sprintf("Request approved: %s has %s of %s.", r.RequesterName, pam.FormatDuration(r.Duration), r.ScopeName)
	case pam.StatusDenied:
		return "Request denied; " + r.RequesterName + " sees your comment."
	}
	return "You approved " + r.RequesterName + "'s request for " + r.ScopeName + "." +
		" It needs " + pam.Count(r.ApprovalsRequired-r.Approvals(), "more approval", "more approvals") + "."
}

// renderReviewed answers an inline decision with the card and, as out-of-band swaps, what
// else the decision changed on the page: the navigation's count and, in the inbox, the
// request's line, its count line and "Decided by you recently". Either read failing only
// leaves that part as it was.
func (s *Server) renderReviewed(c echo.Context, u pam.User, v access.View, back string, edit func(*reqview.CardVM)) error {
	ctx := c.Request().Context()
	now := s.now()
	card := cardVM(u, v, now, viewerZone(c), back)
	// On the request's own page the timeline beside the card gains the decision.
	onPage := back == "/requests/"+v.Request.ID
	if edit != nil {
		edit(&card)
	}
	vm := reqview.ReviewedVM{CSRF: csrfToken(c), Card: card, Waiting: s.inboxCount(c, u), InInbox: inInbox(back), OnPage: onPage}
	if onPage {
		vm.Timeline = timeline(v, u.ID == v.Request.RequesterID, now, viewerZone(c))
		vm.AuditHref = requestAuditHref(u, v.Request.ID)
	}
	// Once the viewer has nothing left to decide, the request's line above the card says so.
	if vm.InInbox && !v.CanReview {
		row := reqview.RowAfter{ID: card.ID, StatusKind: card.StatusKind, StatusText: card.StatusText,
			Settled: v.Request.StatusAt(now) != pam.StatusPending}
		if v.Request.ApprovalType == pam.ApprovalManual && !v.Request.Emergency {
			row.Approvals = card.Approvals
		}
		vm.Row = &row
	}
	if vm.InInbox {
		// The inbox the card is in, read as that page reads it, narrowed as it is; only its
		// counts and what the viewer decided are redrawn, so no page of rows is needed.
		q, err := url.ParseQuery(strings.TrimPrefix(strings.TrimPrefix(back, "/approvals"), "?"))
		q.Del("after")
		var f pam.InboxFilter
		if err == nil {
			f, err = inboxFilter(c, q, now)
		}
		var inbox access.Approvals
		if err == nil {
			f.Limit = 1
			inbox, err = s.access.Approvals(ctx, u, f)
		}
		if err != nil {
			s.log.Warn("inbox after a decision failed", "request_id", RequestID(c), "error", err.Error())
			vm.InInbox = false
		} else {
			vm.Decided = decidedRows(inbox.Decided, now, viewerZone(c))
			vm.Counts = &reqview.InboxCounts{Total: inbox.Total, Matched: inbox.Matched, CountCap: access.InboxCountCap, Narrowed: f.Narrowed(),
				MailQueued: s.cfg.SMTP == nil, ClearHref: inboxHref(q, "requester", "", "policy", "", "scope", "", "soon", "")}
		}
	}
	return render(c, http.StatusOK, reqview.Reviewed(vm))
}

func (s *Server) withdrawRequest(c echo.Context) error {
	u, _ := CurrentUser(c)
	id := c.Param("id")
	_, err := s.access.Withdraw(c.Request().Context(), actor(c), u, id)
	return s.posted(c, err, outcome{Next: "/requests/" + id, Done: "Request withdrawn."})
}

// endRequest ends the viewer's own grant now: one in force stops, one not started yet never
// starts. The flash says which, from the grant as the ending transaction found it (a scheduled
// grant's start is cut to the moment it was ended), at the moment it ended.
func (s *Server) endRequest(c echo.Context) error {
	u, _ := CurrentUser(c)
	id := c.Param("id")
	ended, was, err := s.access.EndFrom(c.Request().Context(), actor(c), u, id)
	done := ""
	if err == nil && ended.EndsAt != nil {
		done = endedMessage(was, *ended.EndsAt, viewerZone(c))
	}
	return s.posted(c, err, outcome{Next: "/requests/" + id, Done: done})
}

func (s *Server) revokeRequest(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	id := c.Param("id")
	reason := c.FormValue("reason")
	r, err := s.access.Revoke(ctx, actor(c), u, id, reason)
	return s.posted(c, err, outcome{Next: afterAction(c, "/requests/"+id), Done: "Grant revoked: " + r.RequesterName + " no longer has " + r.ScopeName + ".",
		Again: func(pe *pam.Error) (templ.Component, error) {
			v, err := s.access.RequestView(ctx, u, id)
			if err != nil {
				return nil, err
			}
			return s.requestPage(c, u, v, func(vm *reqview.CardVM) {
				vm.Reason = reason
				if pe.Field == "reason" {
					vm.ReasonError = pe.Message
				} else {
					vm.Notice = pe.Message
				}
			}), nil
		}})
}
