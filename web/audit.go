package web

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	auditview "github.com/elevate-pam/elevate/views/audit"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/labstack/echo/v4"
)

// AuditLog is the audit trail as the web layer reads it; *store.Store provides it.
type AuditLog interface {
	AuditPage(ctx context.Context, f audit.Filter) (audit.Page, error)
	// AuditEventAt returns the event numbered seq, whether a later event exists, and the names of
	// what it refers to (audit.Event.Refs), in one read.
	AuditEventAt(ctx context.Context, seq int64) (audit.Event, bool, map[audit.Ref]audit.Name, error)
	AuditHead(ctx context.Context) (audit.Head, error)
	// UnsealedAudit returns up to limit stored events waiting to be sealed, the oldest first;
	// AuditWaiting counts them.
	UnsealedAudit(ctx context.Context, limit int) ([]audit.Event, error)
	AuditWaiting(ctx context.Context) (int64, time.Time, error)
	// AuditStatus reads the head, when it was sealed and the events waiting (bounded), in one
	// cheap statement: what the auditor's dashboard shows.
	AuditStatus(ctx context.Context) (audit.Status, error)
	ExportAuditEvents(ctx context.Context, f audit.Filter) iter.Seq2[audit.Event, error]
	// AuditNames names the targets, requests and people a page of events points at, in one
	// statement; what it cannot name is left out.
	AuditNames(ctx context.Context, refs []audit.Ref) (map[audit.Ref]audit.Name, error)
}

// requireAuditor lets admins and auditors read the audit trail.
func (s *Server) requireAuditor(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if u, ok := CurrentUser(c); ok && (u.Admin || u.Auditor) {
			return next(c)
		}
		return pam.Errorf(pam.EFORBIDDEN, "The audit trail is for administrators and auditors.")
	}
}

// viewerZone is the signed-in user's time zone, UTC when unset or unknown.
func viewerZone(c echo.Context) *time.Location {
	u, _ := CurrentUser(c)
	return pam.ZoneOrUTC(u.TimeZone)
}

// auditParams are the query parameters of the audit search, shared by the page and the export.
var auditParams = []string{"actor", "actor_id", "action", "target_type", "target_id", "request_id", "outcome", "since", "until"}

// parseAuditFilter reads the search from the query string. Errors are per field, for the form.
func parseAuditFilter(q url.Values, loc *time.Location) (audit.Filter, auditview.FilterVM, map[string]string) {
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	vm := auditview.FilterVM{
		Actor: get("actor"), ActorID: get("actor_id"), Action: get("action"), TargetType: get("target_type"),
		TargetID: get("target_id"), RequestID: get("request_id"), Outcome: get("outcome"),
		Since: get("since"), Until: get("until"),
	}
	errs := map[string]string{}
	f := audit.Filter{ActorID: vm.ActorID, ActorName: vm.Actor, Action: vm.Action, TargetType: vm.TargetType,
		TargetID: vm.TargetID, RequestID: vm.RequestID, Outcome: vm.Outcome}
	if strings.Contains(f.ActorName, "@") {
		f.ActorName = strings.ToLower(f.ActorName)
	}
	for name, v := range map[string]string{"actor": vm.Actor, "actor_id": vm.ActorID, "action": vm.Action,
		"target_type": vm.TargetType, "target_id": vm.TargetID, "request_id": vm.RequestID} {
		if utf8.RuneCountInString(v) > 254 {
			errs[name] = "Use at most 254 characters."
		}
	}
	if f.Outcome != "" && f.Outcome != audit.OutcomeSuccess && f.Outcome != audit.OutcomeFailure {
		errs["outcome"] = "Choose success or failure."
	}
	var err error
	if f.Since, err = audit.ParseTime(vm.Since, loc); err != nil {
		errs["since"] = "Enter a date and time, like 2026-03-02 14:30."
	}
	if f.Until, err = audit.ParseTime(vm.Until, loc); err != nil {
		errs["until"] = "Enter a date and time, like 2026-03-02 18:00."
	}
	// A time typed in another form (a date alone, RFC 3339 from a link) is shown back as the
	// field writes it, in the viewer's zone; one that is not a time stays as typed.
	vm.Since, vm.Until = localInput(vm.Since, f.Since, loc), localInput(vm.Until, f.Until, loc)
	if len(errs) == 0 && !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		errs["until"] = "Choose a time after the start of the range."
	}
	return f, vm, errs
}

// localInput is the value of a date-and-time field for t, parsed from typed: t in loc as the
// field writes it (seconds, and their fraction, only when there are some), or typed itself when
// it held no time. The value is also the bound the paging and export links carry, so it keeps
// every digit the search used.
func localInput(typed string, t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return typed
	}
	t = t.In(loc)
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return t.Format("2006-01-02T15:04:05.999999999")
	}
	return t.Format("2006-01-02T15:04")
}

// auditURL is a link to the search (or the export) with the given parameters; empty ones are left out.
func auditURL(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func filterParams(vm auditview.FilterVM) []string {
	return []string{"actor", vm.Actor, "actor_id", vm.ActorID, "action", vm.Action, "target_type", vm.TargetType,
		"target_id", vm.TargetID, "request_id", vm.RequestID, "outcome", vm.Outcome, "since", vm.Since, "until", vm.Until}
}

// Links from an event to every event sharing one of its values. The actor reads as the person's
// name when known, with the stored name (an email) on hover.
func actorLink(e audit.Event, names map[audit.Ref]audit.Name) auditview.Link {
	name := e.ActorName
	if name == "" {
		name = e.ActorType
	}
	if e.ActorID != "" {
		l := auditview.Link{Text: name, URL: auditURL("/audit", "actor_id", e.ActorID)}
		if n, ok := names[audit.Ref{Type: "user", ID: e.ActorID}]; ok && e.ActorType == audit.ActorUser && n.Name != "" {
			l.Text, l.Title = n.Name, name
		}
		return l
	}
	return auditview.Link{Text: name, URL: auditURL("/audit", "actor", e.ActorName)}
}

func actionLink(e audit.Event) auditview.Link {
	return auditview.Link{Text: e.Action, URL: auditURL("/audit", "action", e.Action)}
}

// objectURL is the page of what an event points at, when the viewer may open it; "" otherwise.
// Auditors read requests, policies and access reviews; the rest of the catalogue is for administrators.
func objectURL(ref audit.Ref, u pam.User) string {
	if ref.ID == "" || strings.ContainsAny(ref.ID, "/?#") {
		return ""
	}
	id := url.PathEscape(ref.ID)
	switch ref.Type {
	case "request":
		return "/requests/" + id
	case "policy":
		return "/admin/policies/" + id
	case "review_campaign":
		return "/admin/reviews/" + id
	}
	if !u.Admin {
		return ""
	}
	switch ref.Type {
	case "user":
		return "/admin/users/" + id
	case "group":
		return "/admin/groups/" + id
	case "role":
		return "/admin/roles/" + id
	case "role_group":
		return "/admin/role-groups/" + id
	case "webhook":
		return "/admin/webhooks/" + id
	case "webhook_delivery":
		return "/admin/webhooks/deliveries/" + id
	}
	return ""
}

// targetLink shows what the event acted on by its name ("Rhea Requester · Mailbox admin") with
// its type and id on hover, linked to its page when the viewer may open it, else to its events.
// Filter is always the link to every event on the same target.
func targetLink(e audit.Event, names map[audit.Ref]audit.Name, u pam.User) (auditview.Link, string) {
	if e.TargetID == "" && e.TargetType == "" {
		return auditview.Link{}, ""
	}
	ref := audit.Ref{Type: e.TargetType, ID: e.TargetID}
	raw := strings.TrimSpace(e.TargetType + " " + e.TargetID)
	filter := auditURL("/audit", "target_type", e.TargetType, "target_id", e.TargetID)
	if seq, err := strconv.ParseInt(e.TargetID, 10, 64); e.TargetType == audit.ChainTarget && err == nil && seq > 0 {
		// A walk of the chain names the event it reached, or the first bad one.
		return auditview.Link{Text: "event " + e.TargetID, URL: auditEventPath(seq), Title: raw}, filter
	}
	n, ok := names[ref]
	if !ok || n.String() == "" {
		return auditview.Link{Text: raw, URL: filter}, filter
	}
	l := auditview.Link{Text: n.String(), URL: cmp.Or(objectURL(ref, u), filter), Title: raw}
	return l, filter
}

// requestLink names the request an event belongs to and links to all of its events.
func requestLink(e audit.Event, names map[audit.Ref]audit.Name) auditview.Link {
	if e.RequestID == "" {
		return auditview.Link{}
	}
	l := auditview.Link{Text: e.RequestID, URL: auditURL("/audit", "request_id", e.RequestID)}
	if n, ok := names[audit.Ref{Type: "request", ID: e.RequestID}]; ok {
		l.Text, l.Title = n.String(), "request "+e.RequestID
	}
	return l
}

// eventRefs are what a page of events points at, for one AuditNames call.
func eventRefs(evs []audit.Event) []audit.Ref {
	var refs []audit.Ref
	for _, e := range evs {
		refs = append(refs, e.Refs()...)
	}
	return refs
}

// short keeps a table cell narrow: a long value shows its first characters and, on hover, in
// full (after what the hover already said).
func short(l auditview.Link, max int) auditview.Link {
	if r := []rune(l.Text); len(r) > max {
		l.Title, l.Text = strings.TrimSpace(l.Text+" · "+l.Title), string(r[:max-1])+"…"
	}
	return l
}

// waitingShown is how many unsealed events the audit page lists.
const waitingShown = 10

func (s *Server) headVM(ctx context.Context, loc *time.Location) (auditview.HeadVM, error) {
	h, err := s.audit.AuditHead(ctx)
	if err != nil {
		return auditview.HeadVM{}, fmt.Errorf("audit head: %w", err)
	}
	vm := auditview.HeadVM{Seq: h.Seq, Hash: h.Hash}
	if h.Seq > 0 {
		vm.Checkpoint = h.String()
	}
	waiting, err := s.audit.UnsealedAudit(ctx, waitingShown)
	if err != nil {
		return vm, fmt.Errorf("unsealed audit events: %w", err)
	}
	vm.WaitingCount = int64(len(waiting))
	if len(waiting) == waitingShown {
		if vm.WaitingCount, _, err = s.audit.AuditWaiting(ctx); err != nil {
			return vm, fmt.Errorf("unsealed audit events: %w", err)
		}
	}
	now := s.now()
	for _, e := range waiting {
		vm.Waiting = append(vm.Waiting, auditview.WaitingVM{ID: e.ID, Time: timeVM(e.At, now, loc), Actor: cmp.Or(e.ActorName, e.ActorType), Action: e.Action})
	}
	return vm, nil
}

func (s *Server) showAudit(c echo.Context) error {
	ctx := c.Request().Context()
	loc := viewerZone(c)
	q := c.QueryParams()
	f, fvm, errs := parseAuditFilter(q, loc)
	vm := auditview.ListVM{
		Meta: s.meta(c, "Audit trail"), Filter: fvm, Errors: errs, TimeZone: loc.String(),
		ExportCSV:   auditURL("/audit/export", append([]string{"format", audit.FormatCSV}, filterParams(fvm)...)...),
		ExportJSONL: auditURL("/audit/export", append([]string{"format", audit.FormatJSONL}, filterParams(fvm)...)...),
	}
	for _, k := range auditParams {
		if q.Get(k) != "" {
			vm.Filtered = true
		}
	}
	vm.Actions, vm.OtherAction = actionGroups(fvm.Action)
	var err error
	if vm.Head, err = s.headVM(ctx, loc); err != nil {
		return err
	}
	f.Before, _ = strconv.ParseInt(q.Get("before"), 10, 64)
	f.After, _ = strconv.ParseInt(q.Get("after"), 10, 64)
	if len(errs) > 0 {
		return render(c, http.StatusUnprocessableEntity, auditview.List(vm))
	}
	f.Limit = 50
	page, err := s.audit.AuditPage(ctx, f)
	if err != nil {
		return fmt.Errorf("audit search: %w", err)
	}
	names, err := s.audit.AuditNames(ctx, eventRefs(page.Events))
	if err != nil {
		return fmt.Errorf("audit names: %w", err)
	}
	now := s.now()
	u, _ := CurrentUser(c)
	for _, e := range page.Events {
		target, _ := targetLink(e, names, u)
		vm.Rows = append(vm.Rows, auditview.RowVM{
			Seq: e.Seq, URL: auditEventPath(e.Seq), Time: timeVM(e.At, now, loc),
			Actor: short(actorLink(e, names), 28), Action: actionLink(e), Target: short(target, 40), Request: short(requestLink(e, names), 40),
			Failure: e.Outcome != audit.OutcomeSuccess, Outcome: e.Outcome, Summary: summary(e.Details),
		})
	}
	if len(page.Events) > 0 {
		if page.HasNewer {
			vm.NewerURL = auditURL("/audit", append(filterParams(fvm), "after", strconv.FormatInt(page.Events[0].Seq, 10))...)
		}
		if page.HasOlder {
			vm.OlderURL = auditURL("/audit", append(filterParams(fvm), "before", strconv.FormatInt(page.Events[len(page.Events)-1].Seq, 10))...)
		}
	}
	return render(c, http.StatusOK, auditview.List(vm))
}

// actionGroups is the action picker's list, from the one list in internal/audit, grouped by
// object in declaration order; other is the searched action when the list lacks it.
func actionGroups(searched string) (groups []auditview.ActionGroup, other string) {
	found := searched == ""
	at := map[string]int{}
	for _, a := range audit.Actions() {
		name := a.String()
		prefix := name[:strings.IndexByte(name, '.')+1]
		i, ok := at[prefix]
		if !ok {
			i, at[prefix] = len(groups), len(groups)
			groups = append(groups, auditview.ActionGroup{Label: strings.TrimSuffix(prefix, "."), Prefix: prefix})
		}
		groups[i].Actions = append(groups[i].Actions, name)
		found = found || searched == name || searched == prefix
	}
	if !found {
		other = searched
	}
	return groups, other
}

// summary is the details shown in one table cell: the stored JSON, shortened, never interpreted.
func summary(details string) string {
	if details == "{}" {
		return ""
	}
	if r := []rune(details); len(r) > 120 {
		return string(r[:119]) + "…"
	}
	return details
}

func (s *Server) showAuditEvent(c echo.Context) error {
	ctx := c.Request().Context()
	seq, err := strconv.ParseInt(c.Param("seq"), 10, 64)
	if err != nil || seq < 1 {
		return echo.ErrNotFound
	}
	e, hasNext, names, err := s.audit.AuditEventAt(ctx, seq)
	if pam.ErrorCode(err) == pam.ENOTFOUND {
		return echo.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("audit event %d: %w", seq, err)
	}
	u, _ := CurrentUser(c)
	target, targetEvents := targetLink(e, names, u)
	loc := viewerZone(c)
	vm := auditview.EventVM{
		Meta: s.meta(c, fmt.Sprintf("Audit event %d", seq)), Seq: e.Seq, Time: timeVM(e.At, s.now(), loc), ShowLocal: loc != time.UTC,
		UTC: e.At.UTC().Format("2006-01-02 15:04:05.000000 UTC"), ActorType: e.ActorType,
		Actor: actorLink(e, names), Action: actionLink(e), Target: target, TargetEvents: targetEvents, Request: requestLink(e, names),
		Failure: e.Outcome != audit.OutcomeSuccess, Outcome: e.Outcome, IP: e.IP, UserAgent: e.UserAgent,
		Details: indentJSON(e.Details), PrevHash: e.PrevHash, Hash: e.Hash,
	}
	if e.RequestID != "" {
		vm.RequestPage = objectURL(audit.Ref{Type: "request", ID: e.RequestID}, u)
	}
	if e.ActorID != "" {
		vm.ActorID = auditview.Link{Text: e.ActorID, URL: auditURL("/audit", "actor_id", e.ActorID)}
	}
	if seq > 1 {
		vm.PrevURL = auditEventPath(seq - 1)
	}
	if hasNext {
		vm.NextURL = auditEventPath(seq + 1)
	}
	return render(c, http.StatusOK, auditview.Event(vm))
}

// indentJSON lays the stored details out over several lines. Strings keep their JSON escapes,
// so a newline or quote inside a value shows as \n or \", exactly as recorded.
func indentJSON(s string) string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(s), "", "  "); err != nil {
		return s
	}
	return b.String()
}

// exportAudit streams the search's events, oldest first, as CSV or JSON Lines. Events are read
// in keyset batches and written as they come, so any number of them fits in constant memory.
func (s *Server) exportAudit(c echo.Context) error {
	ctx := c.Request().Context()
	format := c.QueryParam("format")
	if format != audit.FormatCSV && format != audit.FormatJSONL {
		return pam.Errorf(pam.EINVALID, "Choose an export format: csv or jsonl.")
	}
	f, _, errs := parseAuditFilter(c.QueryParams(), viewerZone(c))
	if len(errs) > 0 {
		return pam.Errorf(pam.EINVALID, "Some filters are not valid. Go back to the audit page, correct them and export again.")
	}
	w := c.Response()
	name := fmt.Sprintf("elevate-audit-%s.%s", s.now().UTC().Format("20060102T150405Z"), format)
	w.Header().Set(echo.HeaderContentType, audit.ContentType(format))
	w.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	rc := http.NewResponseController(w)
	x, err := audit.NewExporter(w, format)
	if err != nil {
		return err
	}
	n := 0
	for e, err := range s.audit.ExportAuditEvents(ctx, f) {
		if err == nil {
			err = x.Write(e)
		}
		if err != nil {
			return s.abortExport(c, err)
		}
		if n++; n%1000 == 0 {
			// A long export keeps the connection as long as it makes progress.
			_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		}
	}
	if err := x.Close(); err != nil {
		return s.abortExport(c, err)
	}
	if !w.Committed {
		w.WriteHeader(http.StatusOK)
	}
	return nil
}

// abortExport ends a failed export. Before anything was sent it is an ordinary error page;
// afterwards the connection is cut, so the client sees a broken download, never a short file
// that looks whole.
func (s *Server) abortExport(c echo.Context, err error) error {
	if !c.Response().Committed {
		c.Response().Header().Del(echo.HeaderContentDisposition)
		return fmt.Errorf("audit export: %w", err)
	}
	if !errors.Is(err, context.Canceled) {
		s.log.Error("audit export failed midway", "request_id", RequestID(c), "error", err.Error())
	}
	panic(http.ErrAbortHandler)
}

// auditEventPath is the page of the sealed event seq.
func auditEventPath(seq int64) string { return "/audit/" + strconv.FormatInt(seq, 10) }

// timeVM is an instant in the viewer's zone: relative words, exact local time, and UTC.
func timeVM(t, now time.Time, loc *time.Location) components.TimeVM {
	local := t.In(loc).Format("2006-01-02 15:04:05 MST")
	utc := t.UTC().Format("2006-01-02 15:04:05 UTC")
	title := local + " · " + utc
	if local == utc {
		title = utc // a viewer in UTC reads it once
	}
	// A page shows dozens of times: the short local form and the ISO form are cut from the two
	// above rather than formatted again (years of four digits; others are formatted).
	short, iso := local[:min(16, len(local))], ""
	if len(utc) == len("2006-01-02 15:04:05 UTC") && len(local) > 16 && local[16] == ':' {
		iso = utc[:10] + "T" + utc[11:19] + "Z"
	} else {
		short, iso = t.In(loc).Format("2006-01-02 15:04"), t.UTC().Format(time.RFC3339)
	}
	return components.TimeVM{Relative: relative(t, now), Local: local, Short: short, Title: title, ISO: iso}
}

// relative says how long ago (or how far ahead) t is, in words: "just now", "3 min ago",
// "2 h 10 min ago", "4 days ago", "in under 1 min", "in 2 h". Only the past is "just now": a
// retry due in 20 seconds has not happened yet.
func relative(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute && future:
		return "in under 1 min"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		s = strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 24*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		s = strconv.Itoa(h) + " h"
		if m > 0 {
			s += " " + strconv.Itoa(m) + " min"
		}
	case d < 48*time.Hour:
		s = "1 day"
	default:
		s = strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}
