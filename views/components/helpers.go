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
