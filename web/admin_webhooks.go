package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/a-h/templ"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/webhook"
	adminview "github.com/elevate-pam/elevate/views/admin"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/labstack/echo/v4"
)

// Webhooks is the outbound endpoints and their deliveries as the admin pages see them;
// *webhook.Service provides it.
type Webhooks interface {
	Create(ctx context.Context, a audit.Actor, in webhook.Input) (pam.Webhook, string, error)
	Update(ctx context.Context, a audit.Actor, id string, version int, in webhook.Input) (pam.Webhook, string, error)
	SetEnabled(ctx context.Context, a audit.Actor, id string, enabled bool) (pam.Webhook, error)
	RotateSecret(ctx context.Context, a audit.Actor, id string) (pam.Webhook, string, error)
	Delete(ctx context.Context, a audit.Actor, id string) (pam.Webhook, error)
	Webhook(ctx context.Context, id string) (pam.Webhook, error)
	Webhooks(ctx context.Context) ([]pam.Webhook, error)
	Deliveries(ctx context.Context, f pam.DeliveryFilter) ([]pam.WebhookDelivery, error)
	Delivery(ctx context.Context, id string) (pam.WebhookDelivery, error)
	DeliveryCounts(ctx context.Context) (map[string]int64, error)
	Resend(ctx context.Context, a audit.Actor, id string) (pam.WebhookDelivery, error)
}

var formatLabels = map[string]string{pam.WebhookGeneric: "Generic JSON (signed)", pam.WebhookSlack: "Slack", pam.WebhookTeams: "Microsoft Teams"}

func (s *Server) showWebhooks(c echo.Context) error {
	ctx := c.Request().Context()
	state, after := c.QueryParam("state"), c.QueryParam("after")
	if _, ok := mailStateLabels[state]; !ok {
		state = ""
	}
	before, err := listCursor(c)
	if err != nil {
		return s.badCursor(c, err)
	}
	hooks, err := s.webhooks.Webhooks(ctx)
	if err != nil {
		return err
	}
	ds, err := s.webhooks.Deliveries(ctx, pam.DeliveryFilter{State: state, Before: before, Limit: pageSize})
	if err != nil {
		return err
	}
	counts, err := s.webhooks.DeliveryCounts(ctx)
	if err != nil {
		return err
	}
	vm := adminview.WebhooksVM{
		Meta: s.meta(c, "Webhooks"),
		Header: components.HeaderVM{Title: "Webhooks", ActionLabel: "New endpoint", ActionHref: "/admin/webhooks/new",
			Subtitle: "Elevate posts request events to these endpoints: a Slack or Teams channel, or your own receiver. Each delivery is retried until it is taken, and failed ones can be sent again."},
		Empty: "No deliveries yet. They are queued when a request changes and an endpoint wants that event.",
	}
	for _, h := range hooks {
		events := fmt.Sprintf("%d events", len(h.Events))
		if len(h.Events) == 1 {
			events = eventLabel(h.Events[0])
		}
		vm.Endpoints = append(vm.Endpoints, adminview.WebhookRow{ID: h.ID, Href: "/admin/webhooks/" + url.PathEscape(h.ID), Name: h.Name,
			Host: h.Host, Format: formatLabels[h.Format], Events: events, Enabled: h.Enabled, Internal: h.Internal})
	}
	var total int64
	for _, n := range counts {
		total += n
	}
	vm.States = append(vm.States, adminview.StateLink{Label: "All", Href: "/admin/webhooks", Count: strconv.FormatInt(total, 10), Active: state == "", Key: "all"})
	for _, st := range pam.MailStates {
		vm.States = append(vm.States, adminview.StateLink{Label: mailStateLabels[st], Href: "/admin/webhooks?state=" + st,
			Count: strconv.FormatInt(counts[st], 10), Active: state == st, Key: st})
	}
	if state != "" {
		vm.Empty = "No " + strings.ToLower(mailStateLabels[state]) + " deliveries. Choose All to see every delivery."
	}
	for _, d := range ds {
		vm.Deliveries = append(vm.Deliveries, s.deliveryRow(c, d))
	}
	last := ""
	if len(ds) > 0 {
		l := ds[len(ds)-1]
		last = pam.CursorAt(l.CreatedAt, l.ID).String()
	}
	vm.FirstHref, vm.NextHref = pageLinks("/admin/webhooks", c.QueryParams(), after, last, len(ds) == pageSize)
	return render(c, http.StatusOK, adminview.Webhooks(vm))
}

func eventLabel(t string) string {
	for _, e := range webhook.Events {
		if e.Type == t {
			return e.Label
		}
	}
	return t
}

func (s *Server) deliveryRow(c echo.Context, d pam.WebhookDelivery) adminview.DeliveryRow {
	loc, now := viewerZone(c), s.now()
	r := adminview.DeliveryRow{ID: d.ID, Href: "/admin/webhooks/deliveries/" + url.PathEscape(d.ID), Endpoint: d.WebhookName,
		EventType: d.EventType, State: mailBadge(d.State), StateLabel: mailStateLabels[d.State], Attempts: strconv.Itoa(d.Attempts),
		AttemptsText: pam.Count(d.Attempts, "attempt", "attempts"),
		LastError:    d.LastError, Queued: timeVM(d.CreatedAt, now, loc)}
	if d.LastStatus != 0 {
		r.LastStatus = "HTTP " + strconv.Itoa(d.LastStatus)
	}
	if d.State == pam.MailQueued || d.State == pam.MailRetrying {
		r.NextTry = timeVM(d.NextAttemptAt, now, loc)
	}
	if d.SentAt != nil {
		r.Sent = timeVM(*d.SentAt, now, loc)
	}
	if d.State == pam.MailFailed {
		r.ResendURL = r.Href + "/resend"
	}
	if d.RequestID != "" {
		r.RequestHref = "/requests/" + url.PathEscape(d.RequestID)
	}
	return r
}

// showDelivery shows one delivery with the body it sends.
func (s *Server) showDelivery(c echo.Context) error {
	d, err := s.webhooks.Delivery(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	// The body as sent is compact; shown indented, so an admin can read it.
	body := d.Body
	var pretty bytes.Buffer
	if json.Indent(&pretty, []byte(d.Body), "", "  ") == nil {
		body = pretty.String()
	}
	return render(c, http.StatusOK, adminview.Delivery(adminview.DeliveryVM{Meta: s.meta(c, "Delivery: "+d.EventType),
		Header: components.HeaderVM{Title: d.EventType + " to " + d.WebhookName, BackLabel: "Webhooks", BackHref: "/admin/webhooks"},
		Row:    s.deliveryRow(c, d), Event: d.EventID, Body: body}))
}

func (s *Server) resendDelivery(c echo.Context) error {
	d, err := s.webhooks.Resend(c.Request().Context(), actor(c), c.Param("id"))
	return s.posted(c, err, outcome{Next: "/admin/webhooks/deliveries/" + url.PathEscape(c.Param("id")),
		Done: fmt.Sprintf("The %s event to %s is queued again, with the same event id.", d.EventType, d.WebhookName)})
}

// webhookInput reads the endpoint form.
func webhookInput(c echo.Context) webhook.Input {
	form, _ := c.FormParams()
	return webhook.Input{Name: c.FormValue("name"), URL: strings.TrimSpace(c.FormValue("url")), Format: c.FormValue("format"),
		Events: form["events"], Internal: c.FormValue("internal") == "on", Enabled: c.FormValue("enabled") == "on"}
}

// webhookForm is the endpoint form filled with in, and pe shown beside its field.
func (s *Server) webhookForm(c echo.Context, in webhook.Input, pe *pam.Error) adminview.WebhookFormVM {
	var opts []components.Option
	for _, f := range pam.WebhookFormats {
		opts = append(opts, components.Option{Value: f, Label: formatLabels[f]})
	}
	vm := adminview.WebhookFormVM{
		Fields: []components.FieldVM{
			{Name: "name", Label: "Name", Type: "text", Value: in.Name, Required: true, MaxLength: 100, Placeholder: "#access-requests",
				Help: "The channel or system that receives these events."},
			{Name: "url", Label: "URL", Type: "url", Value: in.URL, Required: true, MaxLength: 2000, Placeholder: "https://hooks.slack.com/services/…",
				Help: "The incoming-webhook URL the receiver gave you: https (http only for an internal receiver), with no user name or password in it. It is stored encrypted."},
			{Name: "format", Label: "Format", Type: "select", Value: in.Format, Options: opts,
				Help: "Generic JSON is signed with a secret shown once; Slack and Teams get a readable message with a link to the request."},
		},
		Flags: []components.FieldVM{
			{Name: "internal", Label: "Internal receiver", Type: "checkbox", Checked: in.Internal,
				Help: "Allows http and addresses on your own network (loopback, link-local, private). Leave it off for anything on the internet."},
			{Name: "enabled", Label: "On", Type: "checkbox", Checked: in.Enabled, Help: "An endpoint that is off gets no new deliveries."},
		},
	}
	for _, e := range webhook.Events {
		checked := false
		for _, t := range in.Events {
			checked = checked || t == e.Type
		}
		vm.Events = append(vm.Events, adminview.EventChoice{Value: e.Type, Label: e.Label, Checked: checked})
	}
	if pe != nil {
		// Each problem goes beside its own input: the events' boxes, a field or a flag.
		var rest *pam.Error
		if vm.EventsError, rest = apart(pe, "events"); rest != nil {
			inputs := append(slices.Clone(vm.Fields), vm.Flags...)
			vm.Error = besideField(rest, inputs)
			copy(vm.Fields, inputs)
			copy(vm.Flags, inputs[len(vm.Fields):])
		}
	}
	return vm
}

func (s *Server) newWebhook(c echo.Context) error {
	in := webhook.Input{Format: pam.WebhookSlack, Enabled: true}
	for _, e := range webhook.Events {
		in.Events = append(in.Events, e.Type)
	}
	return render(c, http.StatusOK, s.newEndpointForm(c, in, nil))
}

// newEndpointForm is the page that adds an endpoint, with what was typed and its errors.
func (s *Server) newEndpointForm(c echo.Context, in webhook.Input, pe *pam.Error) templ.Component {
	vm := s.webhookForm(c, in, pe)
	vm.Meta, vm.Action, vm.Submit = s.meta(c, "New endpoint"), webhooksPath, "Add endpoint"
	vm.Header = components.HeaderVM{Title: "New endpoint", BackLabel: "Webhooks", BackHref: webhooksPath}
	return adminview.WebhookForm(vm)
}

// webhooksPath is the list of endpoints, where a new one is posted.
const webhooksPath = "/admin/webhooks"

func (s *Server) createWebhook(c echo.Context) error {
	in := webhookInput(c)
	h, secret, err := s.webhooks.Create(c.Request().Context(), actor(c), in)
	if err != nil {
		return s.posted(c, err, outcome{Again: func(pe *pam.Error) (templ.Component, error) {
			return s.newEndpointForm(c, in, pe), nil
		}})
	}
	if secret == "" {
		return s.posted(c, nil, outcome{Next: "/admin/webhooks", Done: "Endpoint " + h.Name + " added."})
	}
	// The secret is in this response only; a reload shows the endpoint without it.
	return s.page(c, http.StatusOK)(s.editWebhookPage(c, h.ID, nil, nil, secret))
}

// editWebhookPage is an endpoint's page: its form (with in, when a submission is shown again)
// and its other actions; secret is a new signing secret to show once.
func (s *Server) editWebhookPage(c echo.Context, id string, in *webhook.Input, pe *pam.Error, secret string) (templ.Component, error) {
	h, err := s.webhooks.Webhook(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	version := h.Version
	if in == nil {
		in = &webhook.Input{Name: h.Name, URL: h.URL, Format: h.Format, Events: h.Events, Internal: h.Internal, Enabled: h.Enabled}
	} else if v, err := strconv.Atoi(c.FormValue("version")); err == nil {
		version = v
	}
	vm := s.webhookForm(c, *in, pe)
	base := "/admin/webhooks/" + url.PathEscape(h.ID)
	vm.Meta, vm.Action, vm.Submit, vm.Version = s.meta(c, "Endpoint "+h.Name), base, "Save endpoint", strconv.Itoa(version)
	vm.Header = components.HeaderVM{Title: h.Name, Subtitle: formatLabels[h.Format] + " · " + h.Host, BackLabel: "Webhooks", BackHref: "/admin/webhooks"}
	vm.ID, vm.Enabled, vm.Signed, vm.Secret = h.ID, h.Enabled, h.Format == pam.WebhookGeneric, secret
	vm.ToggleURL, vm.RotateURL, vm.DeleteURL = base+"/disable", base+"/rotate-secret", base+"/delete"
	if !h.Enabled {
		vm.ToggleURL = base + "/enable"
	}
	if pe != nil && pe.Field == "confirm" {
		vm.DeleteError = pe.Message
	}
	return adminview.WebhookForm(vm), nil
}

func (s *Server) showWebhook(c echo.Context) error {
	return s.page(c, http.StatusOK)(s.editWebhookPage(c, c.Param("id"), nil, nil, ""))
}

func (s *Server) updateWebhook(c echo.Context) error {
	in := webhookInput(c)
	version, err := strconv.Atoi(c.FormValue("version"))
	if err != nil {
		return pam.Errorf(pam.EINVALID, "The form is missing its version; reload the page and try again.")
	}
	h, secret, err := s.webhooks.Update(c.Request().Context(), actor(c), c.Param("id"), version, in)
	if err != nil {
		return s.posted(c, err, outcome{Again: func(pe *pam.Error) (templ.Component, error) {
			return s.editWebhookPage(c, c.Param("id"), &in, pe, "")
		}})
	}
	if secret != "" {
		return s.page(c, http.StatusOK)(s.editWebhookPage(c, h.ID, nil, nil, secret))
	}
	return s.posted(c, nil, outcome{Next: "/admin/webhooks", Done: "Endpoint " + h.Name + " saved."})
}

func (s *Server) setWebhookEnabled(on bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		h, err := s.webhooks.SetEnabled(c.Request().Context(), actor(c), c.Param("id"), on)
		done := "Endpoint " + h.Name + " is off: it gets no new deliveries, and those waiting fail."
		if on {
			done = "Endpoint " + h.Name + " is on."
		}
		return s.posted(c, err, outcome{Next: "/admin/webhooks/" + url.PathEscape(c.Param("id")), Done: done})
	}
}

func (s *Server) rotateWebhookSecret(c echo.Context) error {
	h, secret, err := s.webhooks.RotateSecret(c.Request().Context(), actor(c), c.Param("id"))
	if err != nil {
		return s.posted(c, err, outcome{Next: "/admin/webhooks/" + url.PathEscape(c.Param("id"))})
	}
	return s.page(c, http.StatusOK)(s.editWebhookPage(c, h.ID, nil, nil, secret))
}

func (s *Server) deleteWebhook(c echo.Context) error {
	id := c.Param("id")
	if c.FormValue("confirm") != "on" {
		pe := pam.FieldError("confirm", "Tick the box to confirm: the endpoint and its deliveries are deleted for good.")
		comp, err := s.editWebhookPage(c, id, nil, pe, "")
		if err != nil {
			return err
		}
		return render(c, statusOf(pe.Code), comp)
	}
	h, err := s.webhooks.Delete(c.Request().Context(), actor(c), id)
	return s.posted(c, err, outcome{Next: "/admin/webhooks", Done: "Endpoint " + h.Name + " deleted."})
}
