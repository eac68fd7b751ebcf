package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/dashboard"
	"github.com/labstack/echo/v4"
)

// dashboardEmergencies bounds the unreviewed emergencies the admin dashboard lists.
const dashboardEmergencies = 10

func (s *Server) showDashboard(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	first := u.Name
	if f := strings.Fields(u.Name); len(f) > 0 {
		first = f[0]
	}
	var roles []string
	if u.Admin {
		roles = append(roles, "an administrator")
	}
	if u.Auditor {
		roles = append(roles, "an auditor")
	}
	vm := dashboard.VM{Meta: s.meta(c, "Dashboard"), FirstName: first}
	if len(roles) > 0 {
		vm.RoleLine = "You are " + strings.Join(roles, " and ") + "."
	}
	now, loc := s.now(), viewerZone(c)
	d, err := s.access.Dashboard(ctx, u)
	if err != nil {
		return err
	}
	for _, r := range d.Grants {
		if r.InForce(now) {
			vm.InForce = append(vm.InForce, dashboard.Item{Scope: r.ScopeName, Href: "/requests/" + r.ID, Kind: "in_force", Badge: "In force",
				Line: fmt.Sprintf("Until %s (%s), %s left", clock(*r.EndsAt, now, loc), loc, pam.FormatDuration(r.EndsAt.Sub(now)))})
		} else {
			vm.InForce = append(vm.InForce, dashboard.Item{Scope: r.ScopeName, Href: "/requests/" + r.ID, Kind: "approved", Badge: "Scheduled",
				Line: fmt.Sprintf("Starts %s (%s)", clock(*r.StartsAt, now, loc), loc)})
		}
	}
	for _, r := range d.Pending {
		line := fmt.Sprintf("%d of %d approvals; times out %s", r.Approvals(), r.ApprovalsRequired, relative(r.PendingUntil, now))
		if r.ExtendsID != "" {
			// Beside the grant it extends, the same scope's name alone would read as a second ask.
			line = pam.FormatDuration(r.Duration) + " more time; " + line
		}
		vm.Waiting = append(vm.Waiting, dashboard.Item{Scope: r.ScopeName, Href: "/requests/" + r.ID, Kind: "pending", Badge: "Pending", Line: line})
	}
	if u.Admin {
		if vm.Admin, err = s.adminPanel(ctx, u.ID); err != nil {
			return err
		}
		es, err := s.access.UnreviewedEmergencies(ctx, dashboardEmergencies+1)
		if err != nil {
			return err
		}
		if len(es) > dashboardEmergencies {
			es, vm.MoreEmergencies = es[:dashboardEmergencies], true
		}
		for _, r := range es {
			vm.Emergencies = append(vm.Emergencies, dashboard.Emergency{Href: "/requests/" + r.ID, Requester: r.RequesterName,
				Scope: r.ScopeName, Asked: timeVM(r.CreatedAt, now, loc), State: stateCell(r, now, loc).Text})
		}
	}
	if u.Auditor {
		if vm.Auditor, err = s.auditorPanel(ctx, now, loc); err != nil {
			return err
		}
		vm.Auditor.CSRF = vm.Meta.CSRF
	}
	cs, err := s.admin.ReviewerCampaigns(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, camp := range cs {
		d := timeVM(camp.Deadline, now, loc)
		vm.Reviews = append(vm.Reviews, dashboard.Review{Name: camp.Name, Href: reviewPath(camp.ID), Due: d.Relative, DueTitle: d.Title})
	}
	for _, n := range vm.Meta.Nav {
		if n.Href == "/approvals" {
			vm.ToDecide = n.Badge // counted once, for the navigation
		}
	}
	return render(c, http.StatusOK, dashboard.Page(vm))
}

// auditorPanel is what an auditor comes to the dashboard for: where the chain stands (its head
// and when it was sealed, how many events wait to be sealed, and its last recorded walk), and the
// ways into the audit trail, the overview and the export. It reads one statement; the chain is
// walked by the schedule or `elevate audit verify`, never on a page view.
func (s *Server) auditorPanel(ctx context.Context, now time.Time, loc *time.Location) (*dashboard.AuditorVM, error) {
	st, err := s.audit.AuditStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit status: %w", err)
	}
	vm := &dashboard.AuditorVM{HeadSeq: st.Head.Seq, Waiting: st.Waiting, WaitingMore: st.Waiting > audit.StatusWaitingCap,
		ExportCSV: auditURL("/audit/export", "format", audit.FormatCSV), ExportJSONL: auditURL("/audit/export", "format", audit.FormatJSONL)}
	if vm.WaitingMore {
		vm.Waiting = audit.StatusWaitingCap
	}
	if !st.SealedAt.IsZero() {
		t := timeVM(st.SealedAt, now, loc)
		vm.Sealed = &t
	}
	vm.VerifyEvery = "once every " + pam.FormatDuration(s.cfg.AuditVerifyEvery)
	if s.cfg.AuditVerifyEvery == 24*time.Hour {
		vm.VerifyEvery = "once a day"
	}
	if !st.TurnAt.IsZero() {
		next := timeVM(st.TurnAt.Add(s.cfg.AuditVerifyEvery), now, loc)
		vm.NextWalk = &next
	}
	if v := st.Verified; v != nil {
		by := "by " + v.Actor
		switch (audit.Actor{Type: v.ByType, Name: v.Actor}) {
		case audit.System:
			by = "by Elevate's schedule"
		case audit.CLI:
			by = "from the command line"
		}
		vm.Verified = &dashboard.VerifiedVM{When: timeVM(v.At, now, loc), By: by, Through: v.Through, Events: v.Events,
			BrokenAt: v.BrokenAt, Reason: v.Reason, Href: auditEventPath(v.Seq), BrokenHref: auditEventPath(v.BrokenAt)}
	}
	return vm, nil
}

// verifyChain starts a walk of the audit chain for an auditor or administrator ("Verify now"),
// in the background: a large trail takes longer than a page may wait. Its record is the result,
// which the auditor's dashboard shows once it ends. One walk a minute may be asked for, by
// anyone; a second ask within it starts none and says so.
func (s *Server) verifyChain(c echo.Context) error {
	log := s.log
	started, err := s.admin.WalkChainSoon(c.Request().Context(), actor(c), func(err error) {
		if err != nil {
			log.Warn("audit chain walk asked for on a page failed", "error", err.Error())
		}
	})
	if err != nil {
		return err
	}
	if !started {
		s.setFlash(c, "info", "A walk of the chain was asked for less than a minute ago; this page shows its result when it ends.")
	} else {
		s.setFlash(c, "success", "Walking the chain: about a second for every 100,000 events. This page shows the result when it ends.")
	}
	return redirect(c, "/")
}
