package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/components"
	reqview "github.com/elevate-pam/elevate/views/requests"
	"github.com/labstack/echo/v4"
)

// requestInput is the request form as typed.
type requestInput struct {
	PolicyID, Duration, Justification, Ticket, ScheduledStart, Extends string
	// extended is the grant Extends names, when the handler has read it already.
	extended *pam.Request
}

// requestFields is the request form under policy p, where longest is the most one may ask for
// (access.Offer.Longest). extendsFrom is, on the extension form, when the current grant ends
// and so the extra time starts ("11:00 (Europe/Paris)"); "" on a new request.
func requestFields(in requestInput, p pam.Policy, longest time.Duration, extendsFrom string) []components.FieldVM {
	justHelp := "Optional. Approvers read it."
	if p.JustificationRequired {
		justHelp = "Say what you will do and why; approvers read it."
	}
	ticketHelp := "Optional, like CHG-1234."
	if p.TicketRequired {
		ticketHelp = "Required by this policy, like CHG-1234."
	}
	durationHelp := fmt.Sprintf("Like 30m, 2h or 1h30m; at most %s. The time counts from approval.", pam.FormatDuration(longest))
	if extendsFrom != "" {
		durationHelp = fmt.Sprintf("Like 30m, 2h or 1h30m; at most %s. The extra time starts where your current grant ends, at %s (or on approval, if that comes later).", pam.FormatDuration(longest), extendsFrom)
	}
	f := []components.FieldVM{
		{Name: "duration", Label: "For how long", Type: "text", Value: in.Duration, Required: true, MaxLength: 20,
			Help: durationHelp},
		{Name: "justification", Label: "Justification", Type: "textarea", Value: in.Justification, Required: p.JustificationRequired,
			MaxLength: pam.MaxJustification, Help: justHelp},
		{Name: "ticket", Label: "Ticket", Type: "text", Value: in.Ticket, Required: p.TicketRequired, MaxLength: pam.MaxTicket, Help: ticketHelp},
	}
	if in.Extends == "" {
		f = append(f, components.FieldVM{Name: "scheduled_start", Label: "Start later (optional)", Type: "datetime-local", Value: in.ScheduledStart,
			Help: "In your time zone; at most 7 days ahead. Leave empty to start as soon as it is approved."})
	}
	return f
}

func scopeGroupLabel(p pam.Policy) string {
	switch p.ScopeType {
	case pam.ScopeRoleGroup:
		return "Role groups"
	case pam.ScopeRole:
		return "Roles"
	}
	sys, _, _ := strings.Cut(p.ScopeName, "/")
	return "Tasks in " + sys
}

func approvalLine(p pam.Policy) string {
	if p.ApprovalType == pam.ApprovalAuto {
		return "Granted at once, no approval needed"
	}
	if p.ApprovalsRequired == 1 {
		return "1 approval needed"
	}
	return fmt.Sprintf("%d approvals needed", p.ApprovalsRequired)
}

// newRequestVM builds the request page: what the user may ask for and, if chosen, the form
// with the chosen policy's offer (nil when none is chosen).
func (s *Server) newRequestVM(c echo.Context, u pam.User, in requestInput) (reqview.NewVM, *access.Offer, error) {
	ctx := c.Request().Context()
	// The scope search comes back with a form that was refused, so the list stays as it was.
	q := c.QueryParam("q")
	if q == "" && c.Request().Method == http.MethodPost {
		q = c.FormValue("q")
	}
	vm := reqview.NewVM{Meta: s.meta(c, "Request access"), Q: q, Admin: u.Admin}
	pols, err := s.access.Eligible(ctx, u, q)
	if err != nil {
		return vm, nil, err
	}
	// Each scope names the longest it may be asked for, which the organisation's ceiling can cut.
	ceiling := pam.MaxOrgDuration
	if len(pols) > 0 {
		org, err := s.policies.OrgSettings(ctx)
		if err != nil {
			return vm, nil, err
		}
		ceiling = org.MaxDuration
	}
	groups := map[string]*reqview.ScopeGroup{}
	var order []string
	for _, p := range pols {
		label := scopeGroupLabel(p)
		g, ok := groups[label]
		if !ok {
			g = &reqview.ScopeGroup{Label: label}
			groups[label] = g
			order = append(order, label)
		}
		g.Items = append(g.Items, reqview.ScopeItem{Name: p.ScopeName, Kind: p.ScopeType.Label(), Sub: approvalLine(p) + ", up to " + pam.FormatDuration(p.Longest(ceiling)),
			// #chosen: on a phone the form is below the list; the page opens at the form.
			Href: "/requests/new?policy=" + url.QueryEscape(p.ID) + "&q=" + url.QueryEscape(q) + "#chosen", Selected: p.ID == in.PolicyID})
	}
	sort.SliceStable(order, func(i, j int) bool {
		return rank(order[i]) < rank(order[j]) || rank(order[i]) == rank(order[j]) && order[i] < order[j]
	})
	for _, l := range order {
		vm.Groups = append(vm.Groups, *groups[l])
	}
	if in.PolicyID == "" {
		return vm, nil, nil
	}
	offer, err := s.access.Offer(ctx, u, in.PolicyID)
	if err != nil {
		return vm, nil, err
	}
	p := offer.Policy
	// Under an organisation's ceiling lowered since the policy was saved, the form offers no
	// more than the ceiling: the server refuses a longer duration.
	longest, usual := offer.Longest, min(p.DefaultDuration, offer.Longest)
	chosen := &reqview.ChosenVM{PolicyID: p.ID, Scope: p.ScopeName, Kind: p.ScopeType.Label(), Approval: approvalLine(p),
		DefaultMax:     fmt.Sprintf("%s by default, at most %s", pam.FormatDuration(usual), pam.FormatDuration(longest)),
		PendingTimeout: "It times out after " + pam.FormatDuration(p.PendingTimeout), MFARequired: p.MFARequired, Extends: in.Extends,
		Approvers: offer.Approvers}
	extendsFrom := ""
	if in.Extends == "" {
		chosen.Held = heldWarning(offer, s.now(), viewerZone(c))
	} else {
		g := in.extended
		if g == nil {
			r, err := s.access.Request(ctx, u, in.Extends)
			if err != nil {
				return vm, nil, err
			}
			g = &r
		}
		now, loc := s.now(), viewerZone(c)
		if g.EndsAt != nil && g.RequesterID == u.ID {
			extendsFrom = clock(*g.EndsAt, now, loc) + " (" + zoneLabel(loc) + ")"
			vm.Meta.Title, vm.Extending = "Ask for more time", true
			verb := "is in force until"
			if !g.InForce(now) {
				verb = "ran until"
			}
			vm.Subtitle = fmt.Sprintf("More time on your grant of %s, which %s %s. Once approved, the extra time starts there, with no gap.", g.ScopeName, verb, extendsFrom)
			chosen.Extending, chosen.ExtendingHref = fmt.Sprintf("Your current grant %s %s.", verb, extendsFrom), "/requests/"+g.ID
		}
	}
	for _, t := range offer.Tasks {
		chosen.Tasks = append(chosen.Tasks, t.Key)
	}
	if offer.MoreTasks {
		chosen.MoreTasks = 1
	}
	if offer.MoreApprovers {
		chosen.MoreApprovers = 1
	}
	if in.Duration == "" {
		in.Duration = pam.InputDuration(usual)
	}
	vm.Chosen = chosen
	vm.Fields = requestFields(in, p, longest, extendsFrom)
	// The button names the duration typed; static/js/request.js keeps it so while typing.
	vm.SubmitPrefix, vm.SubmitSuffix, vm.SubmitFallback = "Request ", "", "Request access"
	if in.Extends != "" {
		vm.SubmitPrefix, vm.SubmitSuffix, vm.SubmitFallback = "Ask for ", " more", "Ask for more time"
	}
	vm.Submit = vm.SubmitFallback
	vm.SubmitMin, vm.SubmitMax = int(pam.MinDuration/time.Minute), int(longest/time.Minute)
	if d, err := pam.ParseDuration("duration", in.Duration); err == nil && d >= pam.MinDuration && d <= longest {
		vm.Submit = vm.SubmitPrefix + pam.FormatDuration(d) + vm.SubmitSuffix
	}
	if p.EmergencyAllowed && in.Extends == "" {
		vm.Emergency = emergencyFormVM(offer, emergencyInput{})
	}
	return vm, &offer, nil
}

// heldWarning is the warning before asking again for a scope the viewer already holds or has
// asked for: "You hold this until 12:17 (Europe/Paris). Ask for more time instead?".
func heldWarning(o access.Offer, now time.Time, loc *time.Location) *reqview.HeldVM {
	zone := zoneLabel(loc)
	switch {
	case o.Held != nil && o.Held.InForce(now):
		r := o.Held
		return &reqview.HeldVM{Text: fmt.Sprintf("You hold this until %s (%s). Ask for more time instead?", clock(*r.EndsAt, now, loc), zone),
			ActionLabel: "Ask for more time", ActionHref: "/requests/new?extend=" + r.ID, RequestHref: "/requests/" + r.ID, RequestLabel: "See your grant"}
	case o.Held != nil:
		r := o.Held
		return &reqview.HeldVM{Text: fmt.Sprintf("You already have this approved from %s until %s (%s).", clock(*r.StartsAt, now, loc), clock(*r.EndsAt, now, loc), zone),
			RequestHref: "/requests/" + r.ID, RequestLabel: "See your grant"}
	case o.Pending != nil:
		r := o.Pending
		return &reqview.HeldVM{Text: fmt.Sprintf("You already asked for this %s; it waits for approval until %s (%s).", relative(r.CreatedAt, now), clock(r.PendingUntil, now, loc), zone),
			RequestHref: "/requests/" + r.ID, RequestLabel: "See that request"}
	}
	return nil
}

func rank(label string) int {
	switch label {
	case "Role groups":
		return 0
	case "Roles":
		return 1
	}
	return 2
}

func (s *Server) showNewRequest(c echo.Context) error {
	u, _ := CurrentUser(c)
	in := requestInput{PolicyID: c.QueryParam("policy")}
	if ext := c.QueryParam("extend"); ext != "" {
		r, err := s.access.Request(c.Request().Context(), u, ext)
		if err != nil {
			return err
		}
		if r.RequesterID != u.ID || !r.InForce(s.now()) {
			s.setFlash(c, "info", "Only a grant of yours that is in force can be extended.")
			return redirect(c, "/requests/"+r.ID)
		}
		// A form that would be refused is not offered: more time is asked once at a time.
		if err := s.access.NoOpenExtension(c.Request().Context(), r); err != nil {
			if pam.ErrorCode(err) != pam.ECONFLICT {
				return err
			}
			s.setFlash(c, "info", pam.ErrorMessage(err))
			return redirect(c, "/requests/"+r.ID)
		}
		in.PolicyID, in.Extends, in.extended = r.PolicyID, r.ID, &r
	}
	vm, _, err := s.newRequestVM(c, u, in)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, reqview.New(vm))
}

// parseLocalTime reads a datetime-local value in the viewer's zone.
func parseLocalTime(v string, loc *time.Location) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return &t, nil
		}
	}
	return nil, pam.FieldError("scheduled_start", "Give a date and time, like 2026-03-02 14:30.")
}

func (s *Server) submitRequest(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	in := requestInput{PolicyID: c.FormValue("policy_id"), Duration: c.FormValue("duration"), Justification: c.FormValue("justification"),
		Ticket: c.FormValue("ticket"), ScheduledStart: c.FormValue("scheduled_start"), Extends: c.FormValue("extends")}
	sub := pam.Submission{Justification: in.Justification, Ticket: in.Ticket}
	var r pam.Request
	var ps pam.Problems
	d, err := pam.ParseDuration("duration", in.Duration)
	if err != nil && pam.DurationWellFormed(in.Duration) {
		// "0" or "9999h" is well written but out of range: the policy's own range ("between
		// 5 min and 4 h") says more than the reader's bound of a year.
		d, err = 0, nil
	}
	ps.Add(err)
	start, err := parseLocalTime(in.ScheduledStart, viewerZone(c))
	ps.Add(err)
	sub.Duration, sub.ScheduledStart = d, start
	submit := func() (pam.Request, error) {
		if in.Extends != "" {
			// An extension is made under its grant's policy, whatever policy_id says.
			return s.access.Extend(ctx, actor(c), u, in.Extends, sub)
		}
		return s.access.Submit(ctx, actor(c), u, in.PolicyID, sub)
	}
	if err = ps.Err(); err == nil {
		r, err = submit()
	} else {
		// What could not be read is told with the problems of the rest.
		ps.Add(s.access.CheckSubmission(ctx, u, in.PolicyID, in.Extends, sub))
		err = ps.Err()
	}
	if errors.Is(err, access.ErrStepUp) {
		// The policy asks for a fresh two-step code; the code page carries the form through.
		if ok, err := s.StepUp(c); !ok {
			return err
		}
		sub.SteppedUp = true
		r, err = submit()
	}
	done := "Request sent. Approvers have been mailed; you will see their decision here."
	if s.cfg.SMTP == nil {
		done = "Request sent. Approvers will be mailed when mail is set up; they can see it in Approvals now."
	}
	if r.Status == pam.StatusApproved {
		done = fmt.Sprintf("Approved at once: you have %s of %s.", pam.FormatDuration(r.Duration), r.ScopeName)
	}
	return s.posted(c, err, outcome{Next: "/requests/" + r.ID, Done: done,
		Again: func(pe *pam.Error) (templ.Component, error) {
			// The form posts to /requests, but it is still "Request access".
			c.Set(navSectionKey, "/requests/new")
			vm, _, err := s.newRequestVM(c, u, in)
			if err != nil {
				return nil, err
			}
			vm.Error = besideField(pe, vm.Fields)
			return reqview.New(vm), nil
		}})
}
