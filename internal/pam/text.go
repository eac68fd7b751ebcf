package pam

import (
	"unicode"
	"unicode/utf8"
)

// BadChar reports the first character of s no text field may hold: bytes that are not UTF-8,
// a NUL byte or another control character (line breaks and tabs are allowed when multiline).
// Such input cannot be stored on PostgreSQL, or would show up garbled; it is refused where it
// enters, never cut or replaced silently.
func BadChar(s string, multiline bool) (rune, bool) {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return r, true
		}
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return r, true
		}
		i += size
	}
	return 0, false
}

// CheckChars is BadChar as a field error a person can act on.
func CheckChars(field, s string, multiline bool) error {
	if _, bad := BadChar(s, multiline); bad {
		return FieldError(field, "Remove the invisible control characters (or characters that are not text) from this field; they were probably pasted along with it.")
	}
	return nil
}
