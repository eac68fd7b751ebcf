package web

import (
	"net/url"

	"github.com/elevate-pam/elevate/internal/pam"
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
// restartList.
func listCursor(c echo.Context) (*pam.Cursor, error) { return pam.ParseCursor(c.QueryParam("after")) }

// restartList answers a list page asked with a bad cursor: the message as a flash, and the
// list's first page with the other query values kept.
func (s *Server) restartList(c echo.Context, err error) error {
	s.setFlash(c, "error", pam.ErrorMessage(err))
	q := c.QueryParams()
	q.Del("after")
	to := c.Request().URL.Path
	if len(q) > 0 {
		to += "?" + q.Encode()
	}
	return redirect(c, to)
}

func checked(v string) bool { return v == "on" || v == "true" || v == "1" }
