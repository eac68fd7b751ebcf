package web

import (
	"net/http"
	"net/url"

	"github.com/elevate-pam/elevate/internal/pam"
	errview "github.com/elevate-pam/elevate/views/errors"
	"github.com/labstack/echo/v4"
)

// pageLinks builds keyset "first" and "next" links that keep the other query values.
func pageLinks(path string, q url.Values, after string, nextKey string, full bool) (first, next string) {
	keep := url.Values{}
	for k, v := range q {
		if k != "after" && len(v) > 0 && v[0] != "" {
			keep[k] = v
		}
	}
	if after != "" {
		first = path
		if len(keep) > 0 {
			first += "?" + keep.Encode()
		}
	}
	if full && nextKey != "" {
		n := url.Values{}
		for k, v := range keep {
			n[k] = v
		}
		n.Set("after", nextKey)
		next = path + "?" + n.Encode()
	}
	return first, next
}

// listCursor reads the "after" cursor of a time-ordered keyset list. A cursor no list gave out
// is pam.ErrBadCursor, whichever list it was sent to: the API answers it with 400, pages with
// badCursor.
func listCursor(c echo.Context) (*pam.Cursor, error) { return pam.ParseCursor(c.QueryParam("after")) }

// badCursor answers a list page asked with a bad cursor (bad input, so 400, as on the API): the
// message, and a link to the list's first page with the other query values kept.
func (s *Server) badCursor(c echo.Context, err error) error {
	q := c.QueryParams()
	q.Del("after")
	to := c.Request().URL.Path
	if len(q) > 0 {
		to += "?" + q.Encode()
	}
	vm := errview.VM{Meta: s.meta(c, heading(http.StatusBadRequest)), Status: http.StatusBadRequest,
		Heading: heading(http.StatusBadRequest), Message: pam.ErrorMessage(err), Href: to, HrefLabel: "Start again from the first page"}
	return render(c, http.StatusBadRequest, errview.Page(vm))
}

func checked(v string) bool { return v == "on" || v == "true" || v == "1" }
