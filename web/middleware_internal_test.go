package web

import "testing"

// TestSafeNext: only a path on this site survives as a next or back target, raw or
// percent-encoded; everything else becomes "/".
func TestSafeNext(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		ok       bool
	}{
		// Paths the pages themselves use.
		{"root", "/", true},
		{"request", "/requests/123", true},
		{"filtered list", "/requests?state=pending", true},
		{"keyset page", "/approvals?after=2026-01-01T00:00:00Z|abc", true},
		{"escaped cursor", "/approvals?after=2026-01-01T00%3A00%3A00Z%7Cabc", true},
		{"plus in query", "/audit?actor=Ana+L&action=request.", true},
		{"fragment", "/profile#mfa", true},
		{"slashes in the query", "/ok?next=//x", true},
		{"encoded slashes in the query", "/ok?next=%2F%2Fx", true},
		{"scheme-like path", "/http://x", true},
		{"non-ASCII letter", "/audit?actor=Zo%C3%AB", true},

		{"empty", "", false},
		{"relative", "evil", false},
		{"protocol-relative", "//x", false},
		{"protocol-relative, encoded", "/%2Fx", false},
		{"three slashes", "///x", false},
		{"slash backslash", `/\x`, false},
		{"slash backslash, encoded", "/%5Cx", false},
		{"backslash slash", `\/x`, false},
		{"backslash slash, encoded", "%5C/x", false},
		{"tab", "/\t/x", false},
		{"tab, encoded", "/%09/x", false},
		{"encoded slash", "/%2f/x", false},
		{"encoded slash, upper case", "/%2F/x", false},
		{"encoded backslash", "/%5c/x", false},
		{"CR LF", "/\r\n/x", false},
		{"CR LF, encoded", "/%0d%0a/x", false},
		{"LF alone, encoded", "/%0a/x", false},
		{"NUL", "/x\x00", false},
		{"NUL, encoded", "/x%00", false},
		{"http", "http://x", false},
		{"http, encoded", "http%3A%2F%2Fx", false},
		{"https without slashes", "https:x", false},
		{"https, encoded", "https%3Ax", false},
		{"javascript", "javascript:x", false},
		{"javascript, encoded", "javascript%3Ax", false},
		{"leading space", " /x", false},
		{"leading space, encoded", "%20/x", false},
		{"space inside", "/x y", false},
		{"space inside, encoded", "/x%20y", false},
		{"trailing space", "/x ", false},
		{"ideographic space", "/\u3000/x", false},
		{"ideographic space, encoded", "/%E3%80%80/x", false},
		{"no-break space", "/\u00a0/x", false},
		{"no-break space, encoded", "/%C2%A0/x", false},
		{"DEL", "/\x7fx", false},
		{"DEL, encoded", "/%7Fx", false},
		{"C1 control, encoded", "/%C2%85x", false},
		{"right-to-left override", "/\u202ex", false},
		{"zero-width space, encoded", "/%E2%80%8Bx", false},
		{"invalid UTF-8", "/\xc3\x28", false},
		{"invalid UTF-8, encoded", "/%C3%28", false},
		{"bad escape", "/%zz", false},
		{"user info", "//user@x", false},
	} {
		want := "/"
		if tc.ok {
			want = tc.in
		}
		if got := safeNext(tc.in); got != want {
			t.Errorf("%s: safeNext(%q) = %q, want %q", tc.name, tc.in, got, want)
		}
	}
}
