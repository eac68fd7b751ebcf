package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/labstack/echo/v4"
)

// Longest path parameter and query value accepted. Ids, cursors, filters and search words are
// far shorter; a longer value is hostile or broken and is refused before it reaches a query.
const (
	maxParam = 256
	maxQuery = 2048
)

// freeText are the form fields people type prose or names into. Their own parsers (in
// internal/pam) refuse what cannot be stored with a field error, so the page comes back with
// the message under the field and everything typed kept; the edge lets them through to there.
// Passwords and codes are never stored as typed.
var freeText = map[string]bool{
	"justification": true, "comment": true, "reason": true, "description": true, "name": true, "ticket": true,
	"email": true, "key": true, "duration": true, "scheduled_start": true, "default_duration": true,
	"max_duration": true, "pending_timeout": true, "approvals_required": true, "code": true, "stepup_code": true,
	"password": true, "password_confirm": true, "next": true, "back": true,
}

// ownParser are fields whose parser takes any bytes and falls back safely: a redirect target
// that is not a plain path on this site goes to the dashboard (see safeNext), never a 400.
var ownParser = map[string]bool{"next": true, "back": true}

// refuseUnstorable answers 400 when a path parameter, a query value or a form field holds what
// no handler could use and PostgreSQL could not store: a NUL byte or another control character,
// bytes that are not UTF-8, or a value far longer than any real one. It runs on every route
// after the body limit, so one caller's hostile input becomes that caller's clear 4xx and never
// a failing query.
func refuseUnstorable(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() == checkPath { // reads neither; its handler refuses and audits bad input itself
			return next(c)
		}
		for i, name := range c.ParamNames() {
			if i < len(c.ParamValues()) {
				if err := checkValue("address", name, c.ParamValues()[i], maxParam); err != nil {
					return err
				}
			}
		}
		if err := checkValues("address", c.QueryParams(), maxQuery, ownParser); err != nil {
			return err
		}
		r := c.Request()
		if r.PostForm != nil { // parsed by limitBody for URL-encoded bodies
			if err := checkValues("form", r.PostForm, maxBody, freeText); err != nil {
				return err
			}
		}
		return next(c)
	}
}

func checkValues(where string, vs map[string][]string, max int, skip map[string]bool) error {
	names := make([]string, 0, len(vs))
	for k := range vs {
		names = append(names, k)
	}
	sort.Strings(names) // the same input always names the same field
	for _, k := range names {
		if err := checkValue(where, "", k, maxParam); err != nil {
			return err
		}
		if skip[k] {
			continue
		}
		for _, v := range vs[k] {
			if err := checkValue(where, k, v, max); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkValue refuses one value with 400 (pages and API alike: there is no form to show the
// message on); field is "" when the value is itself a field's name.
func checkValue(where, field, v string, max int) error {
	label := field
	if label == "" {
		label = "a field name"
	}
	if len(v) > max {
		return &apiRefusal{status: http.StatusBadRequest, code: "invalid", field: field,
			msg: fmt.Sprintf("The %s holds a value for %s that is far too long (%d bytes; at most %d).", where, quoted(label), len(v), max)}
	}
	if _, bad := pam.BadChar(v, false); bad {
		return &apiRefusal{status: http.StatusBadRequest, code: "invalid", field: field,
			msg: fmt.Sprintf("The %s holds a control character or bytes that are not text in %s. Remove them and try again.", where, quoted(label))}
	}
	return nil
}

func quoted(s string) string {
	if strings.HasPrefix(s, "a ") {
		return s
	}
	return "“" + s + "”"
}
