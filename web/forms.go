package web

import (
	"errors"
	"net/url"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/views/components"
)

// formError places a domain error on a form: a field error beside its field, anything else
// above the form. ok is false for errors that are not the user's to fix (those become 500s).
func formError(err error, fields []components.FieldVM) (summary string, ok bool) {
	var pe *pam.Error
	if !errors.As(err, &pe) || pe.Code == pam.EINTERNAL {
		return "", false
	}
	for i := range fields {
		if pe.Field != "" && fields[i].Name == pe.Field {
			fields[i].Error = pe.Message
			return "", true
		}
	}
	return pe.Message, true
}

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

func checked(v string) bool { return v == "on" || v == "true" || v == "1" }
