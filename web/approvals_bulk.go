package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/pam"
	reqview "github.com/elevate-pam/elevate/views/requests"
	"github.com/labstack/echo/v4"
)

// bulkInput is a bulk decision as posted: the ticked request ids (distinct, in order), approve
// or deny, the one comment and where to return.
type bulkInput struct {
	ids      []string
	decision string
	comment  string
	back     string
}

// readBulk reads and checks a bulk form. More than access.BulkMost ids, none, an id no page gave
// out or a decision other than approve or deny is bad input (400, nothing decided).
func readBulk(c echo.Context) (bulkInput, error) {
	in := bulkInput{decision: c.FormValue("decision"), comment: c.FormValue("comment"), back: afterAction(c, "/approvals")}
	if !strings.HasPrefix(in.back, "/approvals") {
		in.back = "/approvals"
	}
	params, err := c.FormParams()
	if err != nil {
		return in, err
	}
	seen := map[string]bool{}
	for _, id := range params["id"] {
		if id == "" || len(id) > maxFilterValue {
			return in, pam.FieldError("id", "One of the ticked requests is not one the inbox listed; tick them again.")
		}
		if !seen[id] {
			seen[id] = true
			in.ids = append(in.ids, id)
		}
	}
	switch {
	case len(in.ids) == 0:
		return in, pam.FieldError("id", "Tick the requests to decide first.")
	case len(in.ids) > access.BulkMost:
		return in, pam.FieldError("id", "Tick at most %d requests at a time; you ticked %d.", access.BulkMost, len(in.ids))
	case in.decision != pam.DecisionApprove && in.decision != pam.DecisionDeny:
		return in, pam.FieldError("decision", "Choose approve or deny.")
	}
	return in, nil
}

// bulkTitle names the action: "Approve 12 requests", "Deny 1 request", or "Nothing left to
// approve" when none of the ticked requests waits any more.
func bulkTitle(decision string, n int) string {
	verb := "Approve"
	if decision == pam.DecisionDeny {
		verb = "Deny"
	}
	if n == 0 {
		return "Nothing left to " + strings.ToLower(verb)
	}
	if n == 1 {
		return verb + " 1 request"
	}
	return fmt.Sprintf("%s %d requests", verb, n)
}

// denyComment asks for the comment a deny of n requests needs.
func denyComment(n int) string {
	if n == 1 {
		return "Say why you deny it; the requester sees your comment."
	}
	return "Say why you deny them; each requester sees your comment."
}

// bulkPage draws the confirmation of a bulk decision: the ticked requests that still wait for
// the viewer, and those left out with why; problem, when not nil, says what is wrong with the
// comment for the n requests the decision would take.
func (s *Server) bulkPage(c echo.Context, u pam.User, in bulkInput, problem func(n int) string) error {
	views, err := s.access.Reviewable(c.Request().Context(), u, in.ids)
	if err != nil {
		return err
	}
	vm := reqview.BulkVM{Meta: s.meta(c, "Confirm"), Decision: in.decision, Comment: in.comment, Back: in.back}
	found := map[string]bool{}
	for _, v := range views {
		found[v.ID] = true
		it := reqview.BulkItem{ID: v.ID, Href: "/requests/" + v.ID, Requester: v.RequesterName, Scope: v.ScopeName,
			Duration: pam.FormatDuration(v.Duration)}
		switch {
		case v.CanReview:
			vm.Items = append(vm.Items, it)
		case v.StatusAt(s.now()) != pam.StatusPending:
			it.Note = "already " + strings.ToLower(v.StatusAt(s.now()).Label())
			vm.Skipped = append(vm.Skipped, it)
		default:
			it.Note = "not yours to decide"
			vm.Skipped = append(vm.Skipped, it)
		}
	}
	for _, id := range in.ids {
		if !found[id] {
			vm.Skipped = append(vm.Skipped, reqview.BulkItem{ID: id, Href: "/requests/" + id, Requester: "A request", Scope: "you may not see", Note: "left out"})
		}
	}
	vm.Title = bulkTitle(in.decision, len(vm.Items))
	status := http.StatusOK
	if problem != nil {
		vm.CommentError, status = problem(len(vm.Items)), http.StatusUnprocessableEntity
	}
	return render(c, status, reqview.Bulk(vm))
}

// confirmBulk answers the inbox's bulk buttons: a page that names how many requests and which
// the decision will take, with the one comment. It changes nothing.
func (s *Server) confirmBulk(c echo.Context) error {
	u, _ := CurrentUser(c)
	in, err := readBulk(c)
	if err != nil {
		if len(c.Request().PostForm["id"]) == 0 && onField(err, "id") {
			// Nothing ticked: back to the inbox, which says so above its list.
			s.setFlash(c, "error", pam.ErrorMessage(err))
			return redirect(c, in.back)
		}
		return s.badRequest(c, err, in.back, "Back to Approvals")
	}
	return s.bulkPage(c, u, in, nil)
}

// decideBulk decides each confirmed request on its own (its own transaction, audit event and
// mail), then says what happened: "Approved 12; already decided 1." A comment the decision
// cannot take shows the confirmation again with it, before anything is decided.
func (s *Server) decideBulk(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := CurrentUser(c)
	in, err := readBulk(c)
	if err != nil {
		return s.badRequest(c, err, in.back, "Back to Approvals")
	}
	// A deny needs its comment, asked for before any is decided, of one request or of them all.
	if in.decision == pam.DecisionDeny && strings.TrimSpace(in.comment) == "" {
		return s.bulkPage(c, u, in, denyComment)
	}
	var done, more, decided, refused, failed int
loop:
	for i, id := range in.ids {
		r, err := s.access.Review(ctx, actor(c), u, id, in.decision, in.comment)
		if err == nil {
			done++
			if r.Status == pam.StatusPending {
				more++
			}
			continue
		}
		switch pam.ErrorCode(err) {
		case pam.ECONFLICT:
			decided++
		case pam.EFORBIDDEN, pam.ENOTFOUND:
			refused++
		case pam.EINVALID:
			// The comment is checked alike for every request, before any change: when the
			// first one it reaches refuses it, none took it.
			if done == 0 {
				return s.bulkPage(c, u, in, func(int) string { return pam.ErrorMessage(err) })
			}
			failed++
		default:
			// Fail closed: what is left stays undecided, and the summary says so.
			s.log.Error("bulk decision stopped", "request_id", RequestID(c), "request", id, "error", err.Error())
			failed += len(in.ids) - i
			break loop
		}
	}
	s.setFlash(c, bulkKind(failed), bulkSummary(in.decision, done, more, decided, refused, failed))
	return redirect(c, in.back)
}

func bulkKind(failed int) string {
	if failed > 0 {
		return "error"
	}
	return "success"
}

// bulkSummary says what a bulk decision did: "Approved 12 (2 still need more approvals);
// already decided 1; not yours to decide 1."
func bulkSummary(decision string, done, more, decided, refused, failed int) string {
	word := "Approved"
	if decision == pam.DecisionDeny {
		word = "Denied"
	}
	parts := []string{fmt.Sprintf("%s %d", word, done)}
	if more > 0 {
		parts[0] += fmt.Sprintf(" (%d still %s another approval)", more, map[bool]string{true: "needs", false: "need"}[more == 1])
	}
	if decided > 0 {
		parts = append(parts, fmt.Sprintf("already decided %d", decided))
	}
	if refused > 0 {
		parts = append(parts, fmt.Sprintf("not yours to decide %d", refused))
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("not decided %d (something went wrong; try those again)", failed))
	}
	return strings.Join(parts, "; ") + "."
}
