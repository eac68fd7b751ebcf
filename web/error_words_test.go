package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/testenv"
)

// An error page speaks plainly, in its heading and in the window's title: input a page cannot
// use (a state that does not exist, an export in no known format, a list's bad cursor) never
// reads as the protocol's "Unprocessable Entity" or "Bad Request".
func TestErrorPagesNameTheProblemInWords(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		for path, status := range map[string]int{
			"/requests?status=weird":     http.StatusUnprocessableEntity,
			"/audit/export?format=xml":   http.StatusUnprocessableEntity,
			"/requests?after=not-a-page": http.StatusBadRequest,
		} {
			p := root.get(path)
			if p.StatusCode != status {
				t.Fatalf("%s: %d, want %d", path, p.StatusCode, status)
			}
			h1, title := strings.TrimSpace(p.doc.Find("h1").Text()), p.doc.Find("title").Text()
			if h1 != "Cannot use what was sent" || !strings.HasPrefix(title, "Cannot use what was sent") {
				t.Errorf("%s: heading %q, title %q", path, h1, title)
			}
		}
	})
}
