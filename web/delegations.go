package web

import (
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/pam"
	adminview "github.com/elevate-pam/elevate/views/admin"
	"github.com/elevate-pam/elevate/views/profile"
	"github.com/labstack/echo/v4"
)

// delegationTime formats a delegation's bound in the viewer's zone, with the zone.
func delegationTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
}

// myDelegation fills the profile's out-of-office section.
func (s *Server) myDelegation(c echo.Context, u pam.User, vm *profile.PageVM) error {
	d, toMe, err := s.access.MyDelegations(c.Request().Context(), u)
	if err != nil {
		return err
	}
	loc := pam.ZoneOrUTC(u.TimeZone)
	now := s.access.Now()
	// A new delegation starts now and lasts a week unless the approver says otherwise, so a
	// phone's date pickers need touching only to change them.
	vm.DelegationIn = profile.DelegationInput{Zone: loc.String(), StartsAt: now.In(loc).Format(delegationLayout),
		EndsAt: now.Add(defaultDelegation).In(loc).Format(delegationLayout)}
	for _, x := range toMe {
		line := x.PrincipalName + " (" + x.PrincipalEmail + ")"
		if x.InForce(now) {
			line += ": you decide for them until " + delegationTime(x.EndsAt, loc) + "."
		} else {
			line += ": you will decide for them from " + delegationTime(x.StartsAt, loc) + " until " + delegationTime(x.EndsAt, loc) + "."
		}
		vm.DelegatedToMe = append(vm.DelegatedToMe, line)
	}
	if d != nil {
		vm.Delegation = &profile.DelegationVM{ID: d.ID, Delegate: d.DelegateName + " (" + d.DelegateEmail + ")",
			Starts: delegationTime(d.StartsAt, loc), Ends: delegationTime(d.EndsAt, loc), InForce: d.InForce(s.access.Now())}
	}
	return nil
}

// delegationLayout is a datetime-local field's value to the minute.
const delegationLayout = "2006-01-02T15:04"

// defaultDelegation is how long the out-of-office form proposes a delegation lasts.
const defaultDelegation = 7 * 24 * time.Hour

// delegationBound reads a datetime-local value of the delegation form in the viewer's zone.
func delegationBound(field, v string, loc *time.Location) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil // Validate names the missing field
	}
	for _, layout := range []string{delegationLayout, "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, pam.FieldError(field, "Give a date and time, like 2026-03-02 14:30.")
}

// createDelegation names the viewer's delegate for a date range (out of office).
func (s *Server) createDelegation(c echo.Context) error {
	u, _ := CurrentUser(c)
	in := profile.DelegationInput{Delegate: c.FormValue("delegate"), StartsAt: c.FormValue("starts_at"), EndsAt: c.FormValue("ends_at")}
	loc := pam.ZoneOrUTC(u.TimeZone)
	// Every field is read and checked, so the form tells all its problems at once; a bound that
	// cannot be read is zero, which Delegate refuses, so nothing is saved.
	var ps pam.Problems
	start, err := delegationBound("starts_at", in.StartsAt, loc)
	ps.Add(err)
	end, err := delegationBound("ends_at", in.EndsAt, loc)
	ps.Add(err)
	d, err := s.access.Delegate(c.Request().Context(), actor(c), u, in.Delegate, start, end)
	ps.Add(err)
	err = ps.Err()
	return s.posted(c, err, outcome{Next: "/profile#delegation", Done: "Delegate named: " + d.DelegateName + " decides for you from " +
		delegationTime(d.StartsAt, loc) + " until " + delegationTime(d.EndsAt, loc) + ".",
		Again: func(pe *pam.Error) (templ.Component, error) {
			return s.profilePage(c, u, func(vm *profile.PageVM) {
				// With one already in force or scheduled, the page shows it (and its End button)
				// with the problem; otherwise the form again, as typed.
				zone := vm.DelegationIn.Zone
				vm.DelegationIn = in
				vm.DelegationIn.Zone = zone
				for _, one := range pe.All() {
					switch one.Field {
					case "starts_at":
						vm.DelegationIn.StartsAtError = one.Message
					case "ends_at":
						vm.DelegationIn.EndsAtError = one.Message
					default:
						if vm.DelegationIn.DelegateError == "" {
							vm.DelegationIn.DelegateError = one.Message
						}
					}
				}
			})
		}})
}

// endMyDelegation ends the viewer's own delegation now, in one click, like the other things a
// person undoes for themselves; it never ends anyone else's.
func (s *Server) endMyDelegation(c echo.Context) error {
	u, _ := CurrentUser(c)
	_, err := s.access.EndDelegation(c.Request().Context(), actor(c), u, c.Param("id"))
	return s.posted(c, err, outcome{Next: "/profile#delegation", Done: "Delegation ended: you decide your requests yourself again."})
}

// endAnyDelegation lets an admin end any delegation now; someone else's needs a reason, and
// without one the users page comes back with the reason's form open.
func (s *Server) endAnyDelegation(c echo.Context) error {
	u, _ := CurrentUser(c)
	id, reason := c.Param("id"), c.FormValue("reason")
	d, err := s.access.EndDelegationBecause(c.Request().Context(), actor(c), u, id, reason)
	o := outcome{Next: "/admin/users#delegations-heading",
		Done: "Delegation ended: " + d.DelegateName + " no longer decides for " + d.PrincipalName + "."}
	if onField(err, "reason") {
		o.Again = func(pe *pam.Error) (templ.Component, error) {
			return s.usersPage(c, refusedEnd{id: id, reason: reason, problem: pe.Message})
		}
	}
	return s.posted(c, err, o)
}

// refusedEnd is the end of a delegation refused for its reason: its form shows the reason as
// typed and the problem.
type refusedEnd struct {
	id, reason, problem string
}

// delegationsVM lists every delegation in force or scheduled for the users page, with the end
// refused for its reason, if any.
func (s *Server) delegationsVM(c echo.Context, u pam.User, refused refusedEnd) (*adminview.DelegationsVM, error) {
	ds, err := s.access.OpenDelegations(c.Request().Context(), u, nil)
	if err != nil {
		return nil, err
	}
	loc, now := viewerZone(c), s.access.Now()
	vm := &adminview.DelegationsVM{More: len(ds) >= access.DelegationsShown}
	for _, d := range ds {
		row := adminview.DelegationRow{ID: d.ID, Principal: d.PrincipalName + " (" + d.PrincipalEmail + ")",
			Delegate: d.DelegateName + " (" + d.DelegateEmail + ")", Starts: delegationTime(d.StartsAt, loc),
			Ends: delegationTime(d.EndsAt, loc), State: "Scheduled", Badge: "pending", AskWhy: d.PrincipalID != u.ID}
		if d.InForce(now) {
			row.State, row.Badge = "In force", "in_force"
		}
		if d.ID == refused.id {
			row.Reason, row.ReasonError = refused.reason, refused.problem
		}
		vm.Rows = append(vm.Rows, row)
	}
	return vm, nil
}
