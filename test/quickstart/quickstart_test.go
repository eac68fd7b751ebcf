package quickstart

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
	"github.com/elevate-pam/elevate/internal/testkit"
)

// heading starts the README section this package runs.
const heading = "## Five-minute start"

// step is one shell block of the section and the output block that follows it, if any.
type step struct {
	script string
	want   *string
}

// section reads the five-minute start from the README: its shell steps in order, and the
// labels (**bold**) it tells a person to click or open.
func section(t *testing.T) ([]step, []string) {
	t.Helper()
	root, err := testkit.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	text = text[i+len(heading)+2:]
	if j := strings.Index(text, "\n## "); j >= 0 {
		text = text[:j]
	}
	var steps []step
	var prose strings.Builder
	lines := strings.Split(text, "\n")
	for n := 0; n < len(lines); n++ {
		info, fenced := strings.CutPrefix(lines[n], "```")
		if !fenced {
			prose.WriteString(lines[n] + "\n")
			continue
		}
		var body []string
		for n++; n < len(lines) && lines[n] != "```"; n++ {
			body = append(body, lines[n])
		}
		block := strings.Join(body, "\n") + "\n"
		switch info {
		case "sh":
			steps = append(steps, step{script: block})
		case "text":
			if len(steps) == 0 || steps[len(steps)-1].want != nil {
				t.Fatalf("an output block that follows no command:\n%s", block)
			}
			steps[len(steps)-1].want = &block
		default:
			t.Fatalf("a block of %q in the five-minute start: mark commands sh and their output text", info)
		}
	}
	var labels []string
	for _, m := range regexp.MustCompile(`\*\*([^*]+)\*\*`).FindAllStringSubmatch(prose.String(), -1) {
		labels = append(labels, m[1])
	}
	return steps, labels
}

// shell runs the section's commands one block after another as one terminal would: what a
// block exports is there for the next.
type shell struct {
	dir, state string
	env        []string
	subst      func(string) string
}

// run runs block with sh and returns what it printed, standard output and error in order.
func (s *shell) run(t *testing.T, block string) string {
	t.Helper()
	script := s.subst(block)
	if strings.Contains(script, "go run") {
		t.Fatalf("a `go run` the test cannot replace with the binary:\n%s", block)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", `if [ -f "$QUICKSTART_STATE" ]; then . "$QUICKSTART_STATE"; fi
`+script+`export -p > "$QUICKSTART_STATE"
`)
	cmd.Dir = s.dir
	cmd.Env = append(s.env, "QUICKSTART_STATE="+s.state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("sh: %v\n%s\n%s", err, script, out.String())
	}
	return out.String()
}

// matches compares what a block printed with the README's output block, line by line; "…" in
// the README stands for any text.
func matches(want, got string) error {
	wl := strings.Split(strings.TrimRight(want, "\n"), "\n")
	gl := strings.Split(strings.TrimRight(got, "\n"), "\n")
	bad := len(wl) != len(gl)
	for i := 0; !bad && i < len(wl); i++ {
		re := regexp.MustCompile("^" + strings.ReplaceAll(regexp.QuoteMeta(wl[i]), "…", ".+") + "$")
		bad = !re.MatchString(gl[i])
	}
	if bad {
		return fmt.Errorf("the README shows\n%s\nbut the commands printed\n%s", want, got)
	}
	return nil
}

// TestFiveMinuteStart follows the README's five-minute start against a fresh server: the same
// commands (the built binary for `go run .`, the test server's address for 127.0.0.1:8080),
// the same clicks through the pages, and the output the README shows. On SQLite the server and
// the commands share the default `elevate.db` in one directory, as in the README; on
// PostgreSQL both get ELEVATE_DATABASE_URL.
func TestFiveMinuteStart(t *testing.T) {
	steps, labels := section(t)
	if len(steps) != 3 {
		t.Fatalf("the five-minute start has %d shell blocks; this test knows three: the server, a check "+
			"after the approval, a check after the revoke", len(steps))
	}
	for i, s := range steps[1:] {
		if s.want == nil {
			t.Fatalf("shell block %d shows no output", i+2)
		}
	}
	serve := strings.Fields(steps[0].script)
	if len(serve) < 4 || strings.Join(serve[:4], " ") != "go run . serve" || strings.Count(steps[0].script, "\n") != 1 {
		t.Fatalf("the first block should be one `go run . serve …` line:\n%s", steps[0].script)
	}
	bin := testkit.Binary(t)
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		dir := t.TempDir()
		env := map[string]string{"HOME": t.TempDir()}
		if dialect == store.Postgres {
			env["ELEVATE_DATABASE_URL"] = testenv.DatabaseURL(t, dialect)
		}
		p, err := testkit.StartIn(dir, bin, env, serve[4:]...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Kill)
		pw := p.DemoPassword()
		if pw == "" {
			t.Fatalf("no demo sign-ins on standard error:\n%s", p.Logs())
		}
		sh := &shell{dir: dir, state: filepath.Join(t.TempDir(), "exported"), env: []string{"PATH=" + os.Getenv("PATH")}}
		for k, v := range env {
			sh.env = append(sh.env, k+"="+v)
		}
		addr := strings.TrimPrefix(p.Base, "http://")
		sh.subst = func(s string) string {
			s = strings.ReplaceAll(s, "go run . ", "'"+bin+"' ")
			return strings.ReplaceAll(s, "127.0.0.1:8080", addr)
		}
		clicked := map[string]bool{}
		b := newBrowser(t, p.Base, clicked)

		// 1. Rhea asks for Journaling.
		b.open("/login")
		b.press("Sign in", map[string]string{"email": "rhea@demo.example", "password": pw})
		b.click(nil, "Request access")
		b.click(nil, "Journaling")
		b.press("Request 1 h", map[string]string{"justification": "Fix the journal rule that drops mail to the archive."})
		if !strings.HasPrefix(b.at.Path, "/requests/") {
			t.Fatalf("after asking, the browser shows %s", b.at)
		}
		request := b.at.Path
		b.press("Sign out", nil)

		// 2. Olivia approves it from her inbox.
		b.press("Sign in", map[string]string{"email": "olivia@demo.example", "password": pw})
		b.click(nil, "Approvals")
		b.clickInRow("Review", "Rhea Requester", "Journaling")
		if b.at.Path != request {
			t.Fatalf("Review opened %s, not Rhea's request %s", b.at.Path, request)
		}
		b.press("Approve", nil)

		// The target system: a check token, then curl and elevate check, allowed.
		if err := matches(sh.subst(*steps[1].want), sh.run(t, steps[1].script)); err != nil {
			t.Fatal(err)
		}

		// 3. Olivia revokes from the request's card; the very next check is denied.
		if b.at.Path != request {
			t.Fatalf("after Approve the browser shows %s, not the request's card", b.at)
		}
		b.unfold("Revoke…")
		b.press("Revoke now", map[string]string{"reason": "Journal rule fixed; access no longer needed."})
		if err := matches(sh.subst(*steps[2].want), sh.run(t, steps[2].script)); err != nil {
			t.Fatal(err)
		}

		// The auditor sees the checks on the audit trail.
		b.press("Sign out", nil)
		b.press("Sign in", map[string]string{"email": "audrey@demo.example", "password": pw})
		b.click(nil, "Audit")
		if n := strings.Count(words(b.doc.Find("main")), "access.checked"); n < 3 {
			t.Fatalf("the audit page shows %d access.checked events, want the three checks: %.1500s", n, words(b.doc.Find("main")))
		}

		for _, l := range labels {
			if !clicked[l] {
				t.Errorf("the README says to click %q, which the test never found on a page", l)
			}
		}
		if out := p.Stdout(); out != "" {
			t.Errorf("the server printed on standard output: %q", out)
		}
	})
}
