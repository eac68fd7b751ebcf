package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/components"
	reqview "github.com/elevate-pam/elevate/views/requests"
	"github.com/labstack/echo/v4"
)

// emergencyInput is the emergency form as typed.
type emergencyInput struct {
	Justification, Ticket string
}

// emergencyFormVM is the break-glass form under the offered policy, with what was typed.
func emergencyFormVM(o access.Offer, in emergencyInput) *reqview.EmergencyFormVM {
	p := o.Policy
	ticketHelp := "Optional, like INC-1234."
	if p.TicketRequired {
		ticketHelp = "Required by this policy, like INC-1234."
	}
	return &reqview.EmergencyFormVM{Duration: pam.FormatDuration(o.Emergency), Fields: []components.FieldVM{
		{Name: "justification", Label: "What is the emergency?", Type: "textarea", Value: in.Justification, Required: true,
			MaxLength: pam.MaxJustification, Help: "Every approver and the security team read it at once.", Key: "emergency"},
		{Name: "ticket", Label: "Incident or ticket", Type: "text", Value: in.Ticket, Required: p.TicketRequired, MaxLength: pam.MaxTicket, Help: ticketHelp, Key: "emergency"},
	}}
}

// submitEmergency takes emergency access from the request page: a fresh two-step code every
// time (FreshStepUp), then the grant at once.
func (s *Server) submitEmergency(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	policyID := c.FormValue("policy_id")
	in := emergencyInput{Justification: c.FormValue("justification"), Ticket: c.FormValue("ticket")}
	sub := pam.EmergencySubmission{Justification: in.Justification, Ticket: in.Ticket}
	r, err := s.access.SubmitEmergency(ctx, actor(c), u, policyID, sub)
	if errors.Is(err, access.ErrEmergencyStepUp) {
		// The code page carries the form through; a code typed for an earlier action does not count.
		if ok, err := s.FreshStepUp(c); !ok {
			return err
		}
		sub.SteppedUp = true
		r, err = s.access.SubmitEmergency(ctx, actor(c), u, policyID, sub)
	}
	done := ""
	if err == nil {
		done = fmt.Sprintf("Emergency access granted: you have %s of %s. Every approver and the security team have been told.", pam.FormatDuration(r.Duration), r.ScopeName)
	}
	return s.posted(c, err, outcome{Next: "/requests/" + r.ID, Done: done,
		Again: func(pe *pam.Error) (templ.Component, error) {
			c.Set(navSectionKey, "/requests/new") // the form is still "Request access"
			vm, offer, err := s.newRequestVM(c, u, requestInput{PolicyID: policyID})
			if err != nil {
				return nil, err
			}
			if offer == nil || vm.Emergency == nil {
				return nil, pe
			}
			vm.Emergency = emergencyFormVM(*offer, in)
			vm.Emergency.Open = true
			vm.Emergency.Error = besideField(pe, vm.Emergency.Fields)
			return reqview.New(vm), nil
		}})
}

// reviewEmergency records an approver's after-the-fact review of emergency access.
func (s *Server) reviewEmergency(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	id, outcomeName, reason := c.Param("id"), c.FormValue("outcome"), c.FormValue("reason")
	r, err := s.access.ReviewEmergency(ctx, actor(c), u, id, outcomeName, reason)
	done := "Emergency access confirmed."
	if outcomeName == pam.EmergencyMisuse {
		done = "Emergency access marked as misuse."
		if r.Status == pam.StatusRevoked {
			done += " It was revoked at once."
		}
	}
	return s.posted(c, err, outcome{Next: "/requests/" + id, Done: done,
		Again: func(pe *pam.Error) (templ.Component, error) {
			v, err := s.access.RequestView(ctx, u, id)
			if err != nil {
				return nil, err
			}
			return s.requestPage(c, u, v, func(card *reqview.CardVM) {
				card.EmergencyReason, card.EmergencyMisuse = reason, outcomeName == pam.EmergencyMisuse
				if pe.Field == "reason" {
					card.EmergencyReasonError = pe.Message
				} else {
					card.Notice = pe.Message
				}
			}), nil
		}})
}

// emergencyJSON is the body of an emergency submission on the API.
type emergencyJSON struct {
	PolicyID      string `json:"policy_id"`
	Justification string `json:"justification"`
	Ticket        string `json:"ticket"`
}

// apiSubmitEmergency takes emergency access: like the page, it always needs a current code in
// X-Elevate-OTP (401 step_up_required without one, 403 enrolment_required for an owner not
// enrolled), asked only once the rest of the submission passed.
func (s *Server) apiSubmitEmergency(c echo.Context) error {
	u, _ := CurrentUser(c)
	var in emergencyJSON
	if err := bindJSON(c, &in); err != nil {
		return err
	}
	ctx := c.Request().Context()
	sub := pam.EmergencySubmission{Justification: in.Justification, Ticket: in.Ticket}
	r, err := s.access.SubmitEmergency(ctx, tokenActor(c), u, in.PolicyID, sub)
	if errors.Is(err, access.ErrEmergencyStepUp) {
		if err := s.apiStepUpFor(c, true); err != nil {
			return err
		}
		sub.SteppedUp = true
		r, err = s.access.SubmitEmergency(ctx, tokenActor(c), u, in.PolicyID, sub)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/api/v1/requests/"+r.ID)
	return c.JSON(http.StatusCreated, toRequestJSON(r, s.now()))
}

// apiReviewEmergency confirms emergency access, or marks it as misuse (with a reason), which
// revokes it if still in force. Behind the same step-up as approve and revoke.
func (s *Server) apiReviewEmergency(outcomeName string) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, _ := CurrentUser(c)
		in, err := bindAction(c)
		if err != nil {
			return err
		}
		r, err := s.access.ReviewEmergency(c.Request().Context(), tokenActor(c), u, c.Param("id"), outcomeName, in.reason())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, toRequestJSON(r, s.now()))
	}
}
