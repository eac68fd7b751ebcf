package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/labstack/echo/v4"
)

// formContext decodes body as a posted form the way a handler sees it.
func formContext(body string) echo.Context {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return echo.New().NewContext(req, httptest.NewRecorder())
}

// FuzzPolicyForm: any posted policy form decodes without a panic; a form that parses gives a
// policy that, written back into the form, parses to the same policy.
func FuzzPolicyForm(f *testing.F) {
	f.Add("role", "r1", "manual", "g1", "2", "1h", "8h", "24h", "7", "on")
	f.Add("task", "", "auto", "", " 1 ", "90", "2d", "1d12h", "x", "")
	f.Add("role_group", "%zz", "", "", "-1", "0", "-5m", "", "", "true")
	f.Fuzz(func(t *testing.T, scopeType, scopeID, approval, group, approvals, def, maxDur, pending, version, flag string) {
		form := url.Values{"scope_type": {scopeType}, "scope_id": {scopeID}, "approval_type": {approval},
			"approver_group_id": {group}, "approvals_required": {approvals}, "default_duration": {def},
			"max_duration": {maxDur}, "pending_timeout": {pending}, "version": {version}, "enabled": {flag}, "mfa_required": {flag}}
		in := policyInputFrom(formContext(form.Encode()))
		if in.ScopeType != scopeType || in.DefaultDuration != def || in.Enabled != checked(flag) {
			t.Fatalf("form decoded as %+v", in)
		}
		p, err := in.parse()
		if err != nil {
			if pam.ErrorCode(err) != pam.EINVALID {
				t.Fatalf("parse error %v is not EINVALID", err)
			}
			return
		}
		again, err := policyInputOf(p).parse()
		if err != nil {
			t.Fatalf("%+v written back does not parse: %v", p, err)
		}
		if again.ScopeType != p.ScopeType || again.ScopeID != p.ScopeID || again.ApprovalsRequired != p.ApprovalsRequired ||
			again.DefaultDuration != p.DefaultDuration || again.MaxDuration != p.MaxDuration ||
			again.PendingTimeout != p.PendingTimeout || again.Enabled != p.Enabled || again.MFARequired != p.MFARequired {
			t.Fatalf("round trip changed the policy:\n%+v\n%+v", p, again)
		}
	})
}

// FuzzRequestForm: the request form's duration and scheduled start decode without a panic;
// a start that parses is read in the viewer's zone and reads back to the same instant.
func FuzzRequestForm(f *testing.F) {
	f.Add("p1", "1h", "2026-03-02T14:30", "Europe/Berlin")
	f.Add("", "90", "2026-03-29T02:30", "Europe/Berlin") // a time the clocks skip
	f.Add("x", "2d", "2026-10-25T02:30:00", "America/New_York")
	f.Add("%", "", "not a time", "UTC")
	f.Fuzz(func(t *testing.T, policy, duration, start, zone string) {
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "" || zone == "Local" {
			loc = time.UTC
		}
		c := formContext(url.Values{"policy_id": {policy}, "duration": {duration}, "scheduled_start": {start}}.Encode())
		if c.FormValue("policy_id") != policy || c.FormValue("scheduled_start") != start {
			t.Fatalf("form decoded as %q %q", c.FormValue("policy_id"), c.FormValue("scheduled_start"))
		}
		if d, err := pam.ParseDuration("duration", c.FormValue("duration")); err == nil && (d <= 0 || d%time.Minute != 0) {
			t.Fatalf("duration %q parsed to %v", duration, d)
		}
		at, err := parseLocalTime(c.FormValue("scheduled_start"), loc)
		if err != nil {
			if pam.ErrorCode(err) != pam.EINVALID {
				t.Fatalf("start %q: %v", start, err)
			}
			return
		}
		if strings.TrimSpace(start) == "" {
			if at != nil {
				t.Fatalf("an empty start parsed to %v", at)
			}
			return
		}
		back, err := parseLocalTime(at.In(loc).Format("2006-01-02T15:04:05"), loc)
		if err != nil || !back.Equal(*at) {
			t.Fatalf("start %q → %v → %v, %v", start, at, back, err)
		}
	})
}
