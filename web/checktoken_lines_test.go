package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
)

// The check-token page shows curl and elevate check lines with this server's base URL, the
// viewer and a real task; right after creation they carry the new token, and the curl line
// works as pasted. Each one-time value has a copy button, hidden until copy.js runs.
func TestCheckTokenPageLinesAndCopyButtons(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root Admin", goodPassword, true)
	if _, err := a.admin.CreateTask(context.Background(), audit.System, "exchange/New-JournalRule", "", ""); err != nil {
		t.Fatal(err)
	}
	c := a.client()
	c.signIn("root@example.com", goodPassword)
	base := a.srv.URL

	p := c.get("/admin/check-tokens")
	curl, cmd := p.find("curl-line").Text(), p.find("command-line").Text()
	for _, want := range []string{base + "/api/v1/check", `"Authorization: Bearer $ELEVATE_CHECK_TOKEN"`, `"user":"root@example.com"`, `"task":"exchange/New-JournalRule"`} {
		if !strings.Contains(curl, want) {
			t.Fatalf("curl line lacks %q:\n%s", want, curl)
		}
	}
	if !strings.Contains(cmd, "ELEVATE_URL="+base) || !strings.Contains(cmd, "elevate check --user root@example.com --task exchange/New-JournalRule") {
		t.Fatalf("elevate check line:\n%s", cmd)
	}

	p = c.post("/admin/check-tokens", url.Values{"name": {"exchange"}})
	secret := strings.TrimSpace(p.find("secret").Text())
	if p.StatusCode != http.StatusOK || !strings.HasPrefix(secret, "elvc_") {
		t.Fatalf("create: %d %q", p.StatusCode, secret)
	}
	curl, cmd = p.find("curl-line").Text(), p.find("command-line").Text()
	if !strings.Contains(curl, "Bearer "+secret) || !strings.Contains(cmd, "ELEVATE_CHECK_TOKEN="+secret) {
		t.Fatalf("lines after creation lack the token:\n%s\n%s", curl, cmd)
	}
	// Pasted into a shell, the curl line asks and is answered.
	out, err := exec.Command("sh", "-c", curl).Output()
	if err != nil {
		t.Fatalf("curl line: %v\n%s", err, curl)
	}
	var answer map[string]any
	if err := json.Unmarshal(out, &answer); err != nil || answer["allowed"] != false {
		t.Fatalf("curl answer %q %v", out, err)
	}
	if evs := a.events("access.checked"); len(evs) != 1 {
		t.Fatalf("checks recorded: %d", len(evs))
	}

	// Copy buttons: one per value, each naming an element on the page, hidden without script.
	for _, target := range []string{"new-secret", "curl-line", "command-line"} {
		b := p.find("copy-" + target)
		if b.Length() != 1 || b.AttrOr("data-copy", "") != target || p.doc.Find("#"+target).Length() != 1 {
			t.Fatalf("copy button for %s: %d", target, b.Length())
		}
		if _, hidden := b.Attr("hidden"); !hidden {
			t.Fatalf("copy button for %s shown without script", target)
		}
	}
	if p.doc.Find(`script[src^="/static/js/copy.js"]`).Length() != 1 {
		t.Fatal("copy.js not loaded")
	}
	if r := c.get("/static/js/copy.js"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "data-copy") {
		t.Fatalf("copy.js: %d", r.StatusCode)
	}

	// The one-time set-password link has its button too.
	c.get("/admin/users/new")
	p = c.post("/admin/users", url.Values{"email": {"nia@example.com"}, "name": {"Nia New"}})
	if p.find("copy-one-time-secret").Length() != 1 || p.doc.Find("#one-time-secret").Length() != 1 {
		t.Fatal("no copy button for the set-password link")
	}
}
