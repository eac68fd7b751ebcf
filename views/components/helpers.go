// Package components holds the small pieces every page reuses: form fields, badges, tables.
package components

import (
	"strings"
	"unicode/utf8"
)

func inputClass(f FieldVM) string {
	if f.Error != "" {
		return "field-input field-input-error"
	}
	return "field-input"
}

// fieldID is the id of a field's control, which its label points at.
func fieldID(f FieldVM) string { return noteID("f-", f) }

// noteID is the id of a field's control ("f-"), help ("h-") or error ("e-"), unique per Key.
func noteID(kind string, f FieldVM) string {
	if f.Key != "" {
		return kind + f.Name + "-" + f.Key
	}
	return kind + f.Name
}

func describedBy(f FieldVM) string {
	var ids []string
	if f.Help != "" {
		ids = append(ids, noteID("h-", f))
	}
	if f.Error != "" {
		ids = append(ids, noteID("e-", f))
	}
	return strings.Join(ids, " ")
}

func alignClass(numeric []bool, i int) string {
	if i < len(numeric) && numeric[i] {
		return "text-right tabular-nums"
	}
	return "text-left"
}

// badgeClass is a badge's colour class (static/css/input.css): short names, as a badge can
// repeat on every row of a table.
func badgeClass(kind string) string {
	switch kind {
	case "pending":
		return "badge-amber"
	case "approved", "active", "in_force", "ok":
		return "badge-green"
	case "denied", "failure", "danger":
		return "badge-red"
	case "withdrawn", "cancelled", "disabled":
		return "badge-slate"
	case "timed_out":
		return "badge-orange"
	case "expired":
		return "badge-grey"
	case "revoked":
		return "badge-rose"
	case "ended":
		return "badge-sky"
	case "admin", "info":
		return "badge-indigo"
	}
	return "badge-plain"
}

// exact is the local date and time to the minute with the zone's abbreviation, read from the
// TimeVM's Short and Local: "2026-03-02 14:30 CET".
func exact(t TimeVM) string {
	f := strings.Fields(t.Local)
	if len(f) == 0 {
		return t.Short
	}
	return t.Short + " " + f[len(f)-1]
}

// longWord is how many characters a word may have before a table cell may break it anywhere:
// longer than any word a column of names, states or times holds.
const longWord = 24

// hasLongWord reports whether any of texts holds a word longer than longWord characters.
func hasLongWord(texts ...string) bool {
	for _, t := range texts {
		for _, w := range strings.Fields(t) {
			if utf8.RuneCountInString(w) > longWord {
				return true
			}
		}
	}
	return false
}
