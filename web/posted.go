package web

import (
	"errors"
	"slices"
	"strings"

	"github.com/a-h/templ"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/components"
	"github.com/labstack/echo/v4"
)

// outcome says how a page's POST ends; see posted.
type outcome struct {
	// Next is where success goes, with Done as its flash (none when empty).
	Next, Done string
	// Again draws the same page again with the user's input kept and the problem shown beside
	// its field. Without it (a button rather than a form) the problem is flashed and the
	// answer goes to Back, or to Next when Back is empty.
	Again func(pe *pam.Error) (templ.Component, error)
	Back  string
	// Status, when set, answers the page drawn again with this status instead of the one the
	// problem's code gives (a failed sign-in is 401).
	Status int
}

// posted ends every page's POST the same way, after the handler has bound the form and called
// the service with it:
//   - no error: flash and 303;
//   - EINVALID or ECONFLICT, the user's to fix: the same page again (422 or 409) with the
//     message beside its field, or a flash and 303 when there is no form to show again;
//   - anything else: the error handler (a status page, or "Something went wrong").
func (s *Server) posted(c echo.Context, err error, o outcome) error {
	if err == nil {
		if o.Done != "" {
			s.setFlash(c, "success", o.Done)
		}
		return redirect(c, o.Next)
	}
	pe, ok := fixable(err)
	if !ok {
		return err
	}
	if o.Again == nil {
		s.setFlash(c, "error", pe.Message)
		if o.Back != "" {
			return redirect(c, o.Back)
		}
		return redirect(c, o.Next)
	}
	page, aerr := o.Again(pe)
	if aerr != nil {
		return aerr
	}
	status := o.Status
	if status == 0 {
		status = statusOf(pe.Code)
	}
	return render(c, status, page)
}

// page renders a page built by a function that may fail: s.page(c, status)(build(…)).
func (s *Server) page(c echo.Context, status int) func(templ.Component, error) error {
	return func(comp templ.Component, err error) error {
		if err != nil {
			return err
		}
		return render(c, status, comp)
	}
}

// fixable returns the problem in err when it is the user's to fix: invalid input, or a conflict
// with a change made meanwhile.
func fixable(err error) (*pam.Error, bool) {
	var pe *pam.Error
	if errors.As(err, &pe) && (pe.Code == pam.EINVALID || pe.Code == pam.ECONFLICT) {
		return pe, true
	}
	return nil, false
}

// besideField puts each problem in pe (its own and those in Also) beside the form field it
// names, and returns the messages of those no field of the form matches, for above the form ("" when
// every one found its field).
func besideField(pe *pam.Error, fields []components.FieldVM) string {
	var above []string
	for _, one := range pe.All() {
		i := slices.IndexFunc(fields, func(f components.FieldVM) bool { return one.Field != "" && f.Name == one.Field })
		if i < 0 {
			above = append(above, one.Message)
			continue
		}
		if fields[i].Error == "" {
			fields[i].Error = one.Message
		}
	}
	return strings.Join(above, " ")
}

// byField maps each field named in pe (its own problem and those in Also) to its first
// message, for a form whose fields are not FieldVMs; problems of no field go under unnamed,
// joined with that field's own.
func byField(pe *pam.Error, unnamed string) map[string]string {
	m := map[string]string{}
	for _, one := range pe.All() {
		field := one.Field
		if field == "" {
			field = unnamed
		}
		switch {
		case m[field] == "":
			m[field] = one.Message
		case field == unnamed:
			m[field] += " " + one.Message
		}
	}
	return m
}

// apart takes the problem on field out of pe, for an input that is not one of the form's fields
// (a list of boxes), and returns its message and the other problems (nil when there are none).
func apart(pe *pam.Error, field string) (string, *pam.Error) {
	var msg string
	var rest []*pam.Error
	for _, one := range pe.All() {
		if one.Field == field {
			msg = one.Message
		} else {
			rest = append(rest, one)
		}
	}
	if len(rest) == 0 {
		return msg, nil
	}
	first := *rest[0]
	first.Also = rest[1:]
	return msg, &first
}

// onField reports whether err is a problem the user can fix in the named field: the page with
// that field's form is then worth drawing again.
func onField(err error, field string) bool {
	pe, ok := fixable(err)
	return ok && pe.Field == field
}
