package web

import (
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	adminview "github.com/elevate-pam/elevate/views/admin"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/elevate-pam/elevate/views/reviews"
	"github.com/labstack/echo/v4"
)

// Access reviews: the reviewer's pages (/reviews) and the administrators' (/admin/reviews).

// reviewPageSize is how many memberships a reviewer's page shows, the most a bulk decision takes.
const reviewPageSize = pam.MaxBulkReview

// reportPageSize is how many items a campaign's report page shows.
const reportPageSize = 100

// itemCursor encodes the position after an item for a page link.
func itemCursor(c *pam.ItemCursor) string {
	if c == nil {
		return ""
	}
	b, _ := json.Marshal([]string{c.Group, c.Email, c.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseItemCursor reads a page link's position; anything malformed is a 400.
func parseItemCursor(s string) (*pam.ItemCursor, error) {
	if s == "" {
		return nil, nil
	}
	var parts []string
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &parts)
	}
	if err != nil || len(parts) != 3 {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid.")
	}
	// The edge checked the link's text, not what it encodes: a part no text column can hold (a
	// NUL, bytes that are not UTF-8) is as invalid as a malformed link. Other characters stay:
	// the link was made from stored names.
	for _, part := range parts {
		if strings.ContainsRune(part, 0) || !utf8.ValidString(part) {
			return nil, echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid.")
		}
	}
	return &pam.ItemCursor{Group: parts[0], Email: parts[1], ID: parts[2]}, nil
}

func reviewPath(id string) string { return "/reviews/" + url.PathEscape(id) }

func decisionWords(d pam.ReviewDecision) string {
	switch d {
	case pam.ReviewKeep:
		return "Keep"
	case pam.ReviewRemove:
		return "Remove"
	}
	return ""
}

// lets says what a membership lets its member do, one line per policy.
func lets(pols []pam.GroupPolicy) []string {
	out := make([]string, 0, len(pols))
	for _, p := range pols {
		if p.Role == "approver" {
			out = append(out, "Approves "+p.ScopeName)
		} else {
			out = append(out, "May ask for "+p.ScopeName)
		}
	}
	return out
}

// reviewRow draws one item for its reviewer.
func (s *Server) reviewRow(c echo.Context, camp pam.Campaign, ic admin.ItemContext, back string) reviews.Row {
	now, loc := s.now(), viewerZone(c)
	r := reviews.Row{ID: ic.ID, Group: ic.GroupName, Member: ic.UserName, MemberSub: ic.UserEmail, Lets: lets(ic.Policies),
		Decision: string(ic.Decision), Comment: ic.Comment, Back: back, CSRF: csrfToken(c),
		LastRequest: "Never asked", LastCheck: "No check seen"}
	if lr := ic.LastRequest; lr != nil {
		r.LastRequest = fmt.Sprintf("%s (%s) %s", lr.ScopeName, strings.ReplaceAll(lr.Status, "_", " "), relative(lr.CreatedAt, now))
	}
	if ic.LastCheck != nil {
		r.LastCheck = fmt.Sprintf("Last check %s (%s)", relative(*ic.LastCheck, now), ic.LastCheckOutcome)
	}
	if ic.DecidedAt != nil {
		r.DecisionText = "by " + ic.DeciderName + ", " + timeVM(*ic.DecidedAt, now, loc).Short
	}
	if camp.Open() {
		r.Action = reviewPath(camp.ID) + "/items/" + url.PathEscape(ic.ID)
	}
	return r
}

func campaignIntro(camp pam.Campaign, loc *time.Location, now time.Time) string {
	def := "kept"
	if camp.Default == pam.ReviewRemove {
		def = "removed"
	}
	switch camp.Status {
	case pam.CampaignOpen:
		return fmt.Sprintf("Decide whether each membership should stay. Decisions can change until the deadline, %s (%s); memberships nobody reviews by then are %s.",
			camp.Deadline.In(loc).Format("2006-01-02 15:04 MST"), relative(camp.Deadline, now), def)
	case pam.CampaignClosing:
		return "This review is closing: its removals are being applied."
	}
	return "This review is closed; the decisions below were applied."
}

// reportIntro says where a campaign stands, for its report.
func reportIntro(camp pam.Campaign, loc *time.Location, now time.Time) string {
	if camp.Status == pam.CampaignOpen {
		return fmt.Sprintf("Reviewers decide until %s (%s); then the review closes by itself and its removals are applied.",
			camp.Deadline.In(loc).Format("2006-01-02 15:04 MST"), relative(camp.Deadline, now))
	}
	return campaignIntro(camp, loc, now)
}

// showReview is a reviewer's page of one campaign.
func (s *Server) showReview(c echo.Context) error {
	u, _ := CurrentUser(c)
	after, err := parseItemCursor(c.QueryParam("after"))
	if err != nil {
		return err
	}
	return s.page(c, http.StatusOK)(s.reviewPage(c, u, after, ""))
}

func (s *Server) reviewPage(c echo.Context, u pam.User, after *pam.ItemCursor, bulkError string) (templ.Component, error) {
	id := c.Param("id")
	p, err := s.admin.ReviewerPage(c.Request().Context(), u.ID, id, after, reviewPageSize)
	if err != nil {
		return nil, err
	}
	camp := p.Campaign
	back := reviewPath(id)
	if after != nil {
		back += "?after=" + itemCursor(after)
	}
	vm := reviews.PageVM{Meta: s.meta(c, camp.Name), Open: camp.Open(), BulkURL: reviewPath(id) + "/bulk", BulkError: bulkError, Back: back,
		Header: components.HeaderVM{Title: "Access review: " + camp.Name, BackLabel: "Access reviews", BackHref: "/reviews"},
		Intro:  campaignIntro(camp, viewerZone(c), s.now())}
	for _, ic := range p.Items {
		vm.Rows = append(vm.Rows, s.reviewRow(c, camp, ic, back))
	}
	vm.FirstHref, vm.NextHref = pageLinks(reviewPath(id), c.QueryParams(), c.QueryParam("after"), itemCursor(p.Next), p.Next != nil)
	return reviews.Page(vm), nil
}

// showMyReviews lists the open campaigns the viewer reviews in.
func (s *Server) showMyReviews(c echo.Context) error {
	u, _ := CurrentUser(c)
	cs, err := s.admin.ReviewerCampaigns(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	t := components.TableVM{TestID: "my-reviews", Columns: []string{"Review", "Deadline"}, Empty: "No access review waits for you."}
	now, loc := s.now(), viewerZone(c)
	for _, camp := range cs {
		d := timeVM(camp.Deadline, now, loc)
		t.Rows = append(t.Rows, []components.Cell{{Text: camp.Name, Href: reviewPath(camp.ID), Sub: "Started by " + camp.StartedByName},
			{Text: d.Relative, Title: d.Title}})
	}
	return render(c, http.StatusOK, reviews.Mine(reviews.MineVM{Meta: s.meta(c, "Access reviews"), Table: t}))
}

// decideReviewItem records a keep or remove on one row. htmx gets the row back; a plain form
// goes back to the page it came from.
func (s *Server) decideReviewItem(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	id, itemID := c.Param("id"), c.Param("item")
	back := afterAction(c, reviewPath(id))
	if !strings.HasPrefix(back, reviewPath(id)) {
		back = reviewPath(id)
	}
	d, err := pam.ParseReviewDecision(c.FormValue("decision"))
	if err != nil {
		return s.badRequest(c, err, back, "Back to the review")
	}
	comment := c.FormValue("comment")
	it, err := s.admin.DecideItem(ctx, actor(c), id, admin.Decision{ItemID: itemID, Decision: d, Comment: comment})
	if c.Request().Header.Get("HX-Request") != "true" {
		return s.posted(c, err, outcome{Next: back, Done: decisionWords(d) + ": " + it.UserName + " in " + it.GroupName + ".", Back: back})
	}
	pe, fix := fixable(err)
	if err != nil && !fix {
		return err
	}
	ic, rerr := s.admin.ReviewerItem(ctx, u.ID, id, itemID)
	if rerr != nil {
		return rerr
	}
	camp, rerr := s.admin.Campaign(ctx, id)
	if rerr != nil {
		return rerr
	}
	row := s.reviewRow(c, camp, ic, back)
	if pe != nil {
		// htmx swaps only successful answers: the row comes back with the problem beside it.
		row.Error, row.Comment = pe.Message, comment
	}
	return render(c, http.StatusOK, reviews.ItemRow(row, camp.Open()))
}

// decideReviewBulk records one decision on the rows ticked on the page (at most a page's worth;
// more is a 400), each in its own transaction with its own audit event.
func (s *Server) decideReviewBulk(c echo.Context) error {
	u, _ := CurrentUser(c)
	id := c.Param("id")
	back := afterAction(c, reviewPath(id))
	if !strings.HasPrefix(back, reviewPath(id)) {
		back = reviewPath(id)
	}
	params, err := c.FormParams()
	if err != nil {
		return err
	}
	ids := params["item"]
	d, derr := pam.ParseReviewDecision(c.FormValue("decision"))
	switch {
	case len(ids) > pam.MaxBulkReview:
		return s.badRequest(c, pam.FieldError("item", "Tick at most %d memberships at a time; you ticked %d.", pam.MaxBulkReview, len(ids)), back, "Back to the review")
	case derr != nil:
		return s.badRequest(c, derr, back, "Back to the review")
	case len(ids) == 0:
		after, _ := parseItemCursor(strings.TrimPrefix(back, reviewPath(id)+"?after="))
		return s.page(c, http.StatusUnprocessableEntity)(s.reviewPage(c, u, after, "Tick the memberships to decide first."))
	}
	done, err := s.admin.DecideItems(c.Request().Context(), actor(c), id, ids, d, c.FormValue("comment"))
	msg := fmt.Sprintf("%s: %s decided.", decisionWords(d), pam.Count(len(done), "membership", "memberships"))
	if err != nil {
		if pe, ok := fixable(err); ok {
			s.setFlash(c, "error", msg+" "+pe.Message)
			return redirect(c, back)
		}
		return err
	}
	s.setFlash(c, "success", msg)
	return redirect(c, back)
}

// ---- administrators

func campaignState(camp pam.Campaign) (kind, text string) {
	switch camp.Status {
	case pam.CampaignOpen:
		return "pending", "Open"
	case pam.CampaignClosing:
		return "info", "Closing"
	}
	return "expired", "Closed"
}

// listCampaigns lists the campaigns, newest first.
func (s *Server) listCampaigns(c echo.Context) error {
	var after *pam.Cursor
	if a := c.QueryParam("after"); a != "" {
		cur, err := pam.ParseCursor(a)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "That page link is not valid.")
		}
		after = cur
	}
	cs, err := s.admin.Campaigns(c.Request().Context(), after, pageSize)
	if err != nil {
		return err
	}
	now, loc := s.now(), viewerZone(c)
	t := components.TableVM{TestID: "campaigns", Columns: []string{"Review", "State", "Deadline", "Decided", "Removed"},
		Numeric: []bool{false, false, false, true, true},
		Empty:   "No access reviews yet. Start one to have group owners confirm who should stay.", EmptyLabel: "New access review", EmptyHref: "/admin/reviews/new"}
	for _, camp := range cs {
		kind, text := campaignState(camp)
		d := timeVM(camp.Deadline, now, loc)
		t.Rows = append(t.Rows, []components.Cell{
			{Text: camp.Name, Href: "/admin/reviews/" + url.PathEscape(camp.ID), Sub: "Started by " + camp.StartedByName + ", " + timeVM(camp.StartedAt, now, loc).Short},
			{Text: text, Badge: kind}, {Text: d.Relative, Title: d.Title},
			{Text: fmt.Sprintf("%d of %d", camp.Decided, camp.Items), Numeric: true}, {Text: fmt.Sprint(camp.Removed), Numeric: true}})
	}
	next := ""
	if len(cs) == pageSize {
		last := cs[len(cs)-1]
		next = pam.CursorAt(last.StartedAt, last.ID).String()
	}
	first, nextHref := pageLinks("/admin/reviews", c.QueryParams(), c.QueryParam("after"), next, next != "")
	u, _ := CurrentUser(c)
	vm := adminview.ListVM{Meta: s.meta(c, "Access reviews"), Tab: "reviews", ReadOnly: !u.Admin,
		Header: components.HeaderVM{Title: "Access reviews", Subtitle: "Group owners (or administrators) confirm who may still ask and who may still approve.",
			ActionLabel: "New access review", ActionHref: "/admin/reviews/new"},
		Table: t, FirstHref: first, NextHref: nextHref}
	if !u.Admin {
		vm.Header.ActionHref, vm.Table.EmptyHref, vm.Table.Empty = "", "", "No access reviews yet."
	}
	return render(c, http.StatusOK, adminview.List(vm))
}

// campaignInput is the new-campaign form as typed.
type campaignInput struct {
	name, scope, reviewers, def, deadline string
	policies                              []string
}

func (s *Server) campaignForm(c echo.Context, in campaignInput, pe *pam.Error) (templ.Component, error) {
	pols, err := s.policies.Policies(c.Request().Context(), nil, 200)
	if err != nil {
		return nil, err
	}
	ticked := map[string]bool{}
	for _, id := range in.policies {
		ticked[id] = true
	}
	vm := adminview.CampaignFormVM{Meta: s.meta(c, "New access review"), Fields: []components.FieldVM{
		{Name: "name", Label: "Name", Type: "text", Value: in.name, Required: true, MaxLength: 100, Help: "For example “Q3 2026 mailbox access”."},
		{Name: "scope", Label: "Groups to review", Type: "select", Value: in.scope, Options: []components.Option{
			{Value: "policies", Label: "The eligible and approver groups of the policies ticked below"}, {Value: "all", Label: "All groups"}}},
		{Name: "reviewers", Label: "Reviewers", Type: "select", Value: in.reviewers, Options: []components.Option{
			{Value: "owners", Label: "Each group's owners (administrators for a group without one)"}, {Value: "admins", Label: "Administrators"}},
			Help: "Nobody reviews their own membership."},
		{Name: "default", Label: "A membership nobody reviewed", Type: "select", Value: in.def, Options: []components.Option{
			{Value: "keep", Label: "Keep it"}, {Value: "remove", Label: "Remove it"}}},
		{Name: "deadline", Label: "Deadline", Type: "datetime-local", Value: in.deadline, Required: true,
			Help: "In your time zone (" + viewerZone(c).String() + "). At the deadline the review closes and its removals are applied."},
	}}
	for _, p := range pols {
		vm.Policies = append(vm.Policies, adminview.PolicyChoice{ID: p.ID, Label: p.ScopeName, Sub: p.ScopeType.Label(), Checked: ticked[p.ID]})
	}
	if pe != nil {
		// The policies are a list of boxes rather than a field: their problem goes beside them.
		var rest *pam.Error
		if vm.PolicyError, rest = apart(pe, "policies"); rest != nil {
			vm.Error = besideField(rest, vm.Fields)
		}
	}
	return adminview.CampaignForm(vm), nil
}

func (s *Server) newCampaign(c echo.Context) error {
	in := campaignInput{scope: "policies", reviewers: "owners", def: "keep",
		deadline: s.now().Add(14 * 24 * time.Hour).In(viewerZone(c)).Format("2006-01-02T15:04")}
	return s.page(c, http.StatusOK)(s.campaignForm(c, in, nil))
}

func (s *Server) startCampaign(c echo.Context) error {
	params, err := c.FormParams()
	if err != nil {
		return err
	}
	in := campaignInput{name: c.FormValue("name"), scope: c.FormValue("scope"), reviewers: c.FormValue("reviewers"),
		def: c.FormValue("default"), deadline: c.FormValue("deadline"), policies: params["policies"]}
	// Every field is read and checked, so the form tells all its problems at once; a deadline
	// that cannot be read is zero, which StartCampaign refuses, so nothing starts.
	var ps pam.Problems
	pin := pam.CampaignInput{Name: in.name, Scope: in.scope, Reviewers: in.reviewers, Default: in.def}
	if deadline, err := parseLocalTime(in.deadline, viewerZone(c)); err != nil {
		ps.Add(pam.FieldError("deadline", "Give a date and time, like 2026-03-02 14:30."))
	} else if deadline != nil {
		pin.Deadline = *deadline
	}
	if in.scope == string(pam.ReviewPolicyGroups) {
		pin.PolicyIDs = in.policies
	}
	camp, err := s.admin.StartCampaign(c.Request().Context(), actor(c), pin)
	ps.Add(err)
	err = ps.Err()
	return s.posted(c, err, outcome{Next: "/admin/reviews/" + url.PathEscape(camp.ID),
		Done: fmt.Sprintf("Access review %s started: %s to review.", camp.Name, pam.Count(camp.Items, "membership", "memberships")),
		Again: func(pe *pam.Error) (templ.Component, error) {
			return s.campaignForm(c, in, pe)
		}})
}

// outcomeWords names what closing did to an item.
func outcomeWords(o pam.ReviewOutcome) (kind, text string) {
	switch o {
	case pam.OutcomeKept:
		return "ok", "Kept"
	case pam.OutcomeRemoved:
		return "revoked", "Removed"
	case pam.OutcomeNotMember:
		return "expired", "Already gone"
	case pam.OutcomeRemoveInIdP:
		return "pending", "Remove in the identity provider"
	}
	return "", ""
}

// showCampaign is a campaign's report: who decided what, when, and what changed.
func (s *Server) showCampaign(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	camp, err := s.admin.Campaign(ctx, id)
	if err != nil {
		return err
	}
	after, err := parseItemCursor(c.QueryParam("after"))
	if err != nil {
		return err
	}
	items, err := s.admin.CampaignItems(ctx, id, after, reportPageSize+1)
	if err != nil {
		return err
	}
	var next *pam.ItemCursor
	if len(items) > reportPageSize {
		items = items[:reportPageSize]
		last := items[len(items)-1]
		next = &pam.ItemCursor{Group: last.GroupName, Email: last.UserEmail, ID: last.ID}
	}
	now, loc := s.now(), viewerZone(c)
	base := "/admin/reviews/" + url.PathEscape(id)
	_, state := campaignState(camp)
	reviewers := "Each group's owners"
	if camp.Reviewers == pam.ReviewByAdmins {
		reviewers = "Administrators"
	}
	def := "Keep"
	if camp.Default == pam.ReviewRemove {
		def = "Remove"
	}
	vm := adminview.ReportVM{Meta: s.meta(c, camp.Name), CSVHref: base + "/export?format=csv", JSONHref: base + "/export?format=json",
		Header: components.HeaderVM{Title: camp.Name, Subtitle: reportIntro(camp, loc, now), BackLabel: "Access reviews", BackHref: "/admin/reviews"},
		Facts: []adminview.Fact{{Label: "State", Value: state}, {Label: "Started", Value: camp.StartedByName + ", " + timeVM(camp.StartedAt, now, loc).Short},
			{Label: "Deadline", Value: timeVM(camp.Deadline, now, loc).Short}, {Label: "Reviewers", Value: reviewers},
			{Label: "Unreviewed", Value: def}, {Label: "Decided", Value: fmt.Sprintf("%d of %d", camp.Decided, camp.Items)},
			{Label: "Removed", Value: fmt.Sprint(camp.Removed)}}}
	if camp.ClosedAt != nil {
		vm.Facts = append(vm.Facts, adminview.Fact{Label: "Closed", Value: camp.ClosedByName + ", " + timeVM(*camp.ClosedAt, now, loc).Short})
	}
	u, _ := CurrentUser(c)
	vm.ReadOnly = !u.Admin
	if camp.Status != pam.CampaignClosed && u.Admin {
		vm.CloseURL = base + "/close"
		closing, err := s.admin.WhatClosingRemoves(ctx, id)
		if err != nil {
			return err
		}
		vm.CloseWarning = closeWarning(closing)
	}
	for _, it := range items {
		r := adminview.ReportRow{Group: it.GroupName, Member: it.UserName, MemberSub: it.UserEmail, Decision: string(it.Decision),
			DecisionText: decisionWords(it.Decision), Decider: it.DeciderName, Comment: it.Comment}
		if r.DecisionText == "" {
			r.DecisionText = "Not reviewed (" + strings.ToLower(def) + ")"
		}
		if it.DecidedAt != nil {
			r.DecidedAt = timeVM(*it.DecidedAt, now, loc)
		}
		r.Outcome, r.OutcomeText = outcomeWords(it.Outcome)
		vm.Rows = append(vm.Rows, r)
	}
	vm.FirstHref, vm.NextHref = pageLinks(base, c.QueryParams(), c.QueryParam("after"), itemCursor(next), next != nil)
	return render(c, http.StatusOK, adminview.Report(vm))
}

func (s *Server) closeCampaign(c echo.Context) error {
	id := c.Param("id")
	camp, ended, err := s.admin.CloseCampaignEnding(c.Request().Context(), actor(c), id)
	removed := "no membership removed"
	if camp.Removed > 0 {
		removed = pam.Count(camp.Removed, "membership", "memberships") + " removed"
	}
	done := "Access review " + camp.Name + " closed: " + strings.Join(append([]string{removed}, endedParts(ended, grantNouns, "ended")...), ", ") + "."
	return s.posted(c, err, outcome{Next: "/admin/reviews/" + url.PathEscape(id), Done: done})
}

// reportRecord is one item of a campaign's report as the downloads write it.
type reportRecord struct {
	Campaign  string     `json:"campaign"`
	Group     string     `json:"group"`
	GroupID   string     `json:"group_id"`
	User      string     `json:"user"`
	UserName  string     `json:"user_name"`
	UserID    string     `json:"user_id"`
	Decision  string     `json:"decision"`
	Comment   string     `json:"comment"`
	DecidedBy string     `json:"decided_by"`
	DecidedAt *time.Time `json:"decided_at"`
	Outcome   string     `json:"outcome"`
	AppliedAt *time.Time `json:"applied_at"`
}

func (r reportRecord) cells() []string {
	t := func(p *time.Time) string {
		if p == nil {
			return ""
		}
		return p.UTC().Format(time.RFC3339)
	}
	out := []string{r.Campaign, r.Group, r.GroupID, r.User, r.UserName, r.UserID, r.Decision, r.Comment, r.DecidedBy, t(r.DecidedAt), r.Outcome, t(r.AppliedAt)}
	for i, v := range out {
		out[i] = audit.InertCell(v)
	}
	return out
}

var reportHeader = []string{"campaign", "group", "group_id", "user", "user_name", "user_id", "decision", "comment", "decided_by", "decided_at", "outcome", "applied_at"}

// exportCampaign downloads a campaign's report as CSV (cells made inert, as the audit export
// does) or JSON, read in keyset pages so memory stays bounded.
func (s *Server) exportCampaign(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	format := c.QueryParam("format")
	if format != "csv" && format != "json" {
		return echo.NewHTTPError(http.StatusBadRequest, "Choose format=csv or format=json.")
	}
	camp, err := s.admin.Campaign(ctx, id)
	if err != nil {
		return err
	}
	// Read the first page before any byte is sent, so a failure is still a clean error page.
	items, err := s.admin.CampaignItems(ctx, id, nil, 500)
	if err != nil {
		return err
	}
	name := "access-review-" + camp.StartedAt.UTC().Format("20060102") + "." + format
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	var cw *csv.Writer
	if format == "csv" {
		h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		c.Response().WriteHeader(http.StatusOK)
		cw = csv.NewWriter(c.Response())
		if err := cw.Write(reportHeader); err != nil {
			return err
		}
	} else {
		h.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
		c.Response().WriteHeader(http.StatusOK)
		fmt.Fprintf(c.Response(), `{"campaign":%s,"items":[`, mustJSON(campaignJSON(camp)))
	}
	first := true
	for {
		for _, it := range items {
			rec := reportRecord{Campaign: camp.Name, Group: it.GroupName, GroupID: it.GroupID, User: it.UserEmail, UserName: it.UserName,
				UserID: string(it.UserID), Decision: string(it.Decision), Comment: it.Comment, DecidedBy: it.DeciderName, DecidedAt: it.DecidedAt,
				Outcome: string(it.Outcome), AppliedAt: it.AppliedAt}
			if cw != nil {
				if err := cw.Write(rec.cells()); err != nil {
					return err
				}
				continue
			}
			if !first {
				c.Response().Write([]byte(","))
			}
			first = false
			c.Response().Write(mustJSON(rec))
		}
		if len(items) < 500 {
			break
		}
		last := items[len(items)-1]
		if items, err = s.admin.CampaignItems(ctx, id, &pam.ItemCursor{Group: last.GroupName, Email: last.UserEmail, ID: last.ID}, 500); err != nil {
			// Headers are gone: end the download abruptly rather than let it look complete.
			panic(http.ErrAbortHandler)
		}
	}
	if cw != nil {
		cw.Flush()
		return cw.Error()
	}
	_, err = c.Response().Write([]byte("]}\n"))
	return err
}

func campaignJSON(camp pam.Campaign) map[string]any {
	return map[string]any{"id": camp.ID, "name": camp.Name, "scope": camp.Scope, "reviewers": camp.Reviewers, "default": camp.Default,
		"deadline": camp.Deadline, "status": camp.Status, "started_by": camp.StartedByName, "started_at": camp.StartedAt,
		"closed_at": camp.ClosedAt, "closed_by": camp.ClosedByName, "items": camp.Items, "decided": camp.Decided, "removed": camp.Removed}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// ---- group owners

func (s *Server) addOwner(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.AddOwner(c.Request().Context(), actor(c), id, pam.UserID(c.FormValue("user_id")))
	return s.posted(c, err, outcome{Next: "/admin/groups/" + id, Done: "Owner added."})
}

func (s *Server) removeOwner(c echo.Context) error {
	id := c.Param("id")
	err := s.admin.RemoveOwner(c.Request().Context(), actor(c), id, pam.UserID(c.Param("uid")))
	return s.posted(c, err, outcome{Next: "/admin/groups/" + id, Done: "Owner removed."})
}

// closeWarning says what closing a campaign now takes away (admin.Closing), in words.
func closeWarning(c admin.Closing) string {
	w := "Closing now removes " + pam.Count(int(c.Memberships), "membership", "memberships")
	switch ends := endedParts(c.Ended, inForceNouns, "ended at once"); {
	case c.Memberships == 0:
		w = "Closing now removes no membership"
	case len(ends) == 0:
		w += ", which ends no access"
	default:
		w += ": " + strings.Join(ends, " and ")
	}
	return w + ". Reviewers can no longer decide, and this cannot be undone."
}
