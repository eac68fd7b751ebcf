// Package components holds the small pieces every page reuses: form fields, badges, tables.
package components

import "strings"

func inputClass(f FieldVM) string {
	if f.Error != "" {
		return "field-input field-input-error"
	}
	return "field-input"
}

func describedBy(f FieldVM) string {
	var ids []string
	if f.Help != "" {
		ids = append(ids, "h-"+f.Name)
	}
	if f.Error != "" {
		ids = append(ids, "e-"+f.Name)
	}
	return strings.Join(ids, " ")
}

func alignClass(numeric []bool, i int) string {
	if i < len(numeric) && numeric[i] {
		return "text-right tabular-nums"
	}
	return "text-left"
}

func badgeClass(kind string) string {
	switch kind {
	case "pending":
		return "bg-amber-50 text-amber-800 ring-amber-600/30"
	case "approved", "active", "in_force", "ok":
		return "bg-emerald-50 text-emerald-800 ring-emerald-600/30"
	case "denied", "failure", "danger":
		return "bg-red-50 text-red-800 ring-red-600/30"
	case "withdrawn", "cancelled", "disabled":
		return "bg-slate-100 text-slate-700 ring-slate-500/30"
	case "timed_out":
		return "bg-orange-50 text-orange-800 ring-orange-600/30"
	case "expired":
		return "bg-gray-100 text-gray-700 ring-gray-500/30"
	case "revoked":
		return "bg-rose-50 text-rose-800 ring-rose-600/30"
	case "ended":
		return "bg-sky-50 text-slate-700 ring-slate-500/30"
	case "admin", "info":
		return "bg-indigo-50 text-indigo-800 ring-indigo-600/30"
	}
	return "bg-slate-50 text-slate-700 ring-slate-500/20"
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
