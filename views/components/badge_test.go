package components

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every state's badge carries its word and a colour class the built stylesheet defines, in
// markup short enough to repeat on every row of a table.
func TestBadgeIsShortAndStyled(t *testing.T) {
	css, err := os.ReadFile("../../static/css/app.css")
	if err != nil {
		t.Fatal(err)
	}
	classes := regexp.MustCompile(`class="([^"]*)"`)
	for _, kind := range []string{"pending", "approved", "in_force", "denied", "withdrawn", "timed_out", "expired",
		"revoked", "cancelled", "active", "disabled", "ok", "failure", "danger", "admin", "info", "other"} {
		var b bytes.Buffer
		if err := Badge(kind, "Word").Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		html := b.String()
		if len(html) > 80 || !strings.Contains(html, ">Word</span>") {
			t.Errorf("%s: %d bytes: %s", kind, len(html), html)
		}
		m := classes.FindStringSubmatch(html)
		if m == nil {
			t.Fatalf("%s: no class: %s", kind, html)
		}
		for _, c := range strings.Fields(m[1]) {
			if !bytes.Contains(css, []byte("."+c+"{")) {
				t.Errorf("%s: class %q is not in static/css/app.css", kind, c)
			}
		}
	}
}
