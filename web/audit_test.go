package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// mustAuditor makes an existing user an auditor.
func (a *app) mustAuditor(email string) {
	a.t.Helper()
	if _, err := a.admin.ChangeUserByEmail(context.Background(), audit.System, email, admin.MakeAuditor); err != nil {
		a.t.Fatal(err)
	}
}

// mustEvent appends one event at the given time.
func (a *app) mustEvent(ev *audit.Event, at time.Time) *audit.Event {
	a.t.Helper()
	ev.At = at
	if err := a.db.SealAudit(context.Background(), ev); err != nil {
		a.t.Fatal(err)
	}
	return ev
}

func rowSeqs(p page) []int64 {
	var out []int64
	p.find("audit-row").Each(func(_ int, s *goquery.Selection) {
		n, _ := strconv.ParseInt(s.AttrOr("data-seq", ""), 10, 64)
		out = append(out, n)
	})
	return out
}

func href(p page, testid string) string {
	v, _ := p.find(testid).First().Attr("href")
	return v
}

func TestAuditPageIsForAdminsAndAuditors(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		a.mustUser("ana@example.com", "Ana Requester", goodPassword, false)
		a.mustUser("otto@example.com", "Otto Auditor", goodPassword, false)
		a.mustAuditor("otto@example.com")

		anon := a.client()
		if p := anon.get("/audit"); p.StatusCode != http.StatusSeeOther || !strings.HasPrefix(p.Header.Get("Location"), "/login") {
			t.Fatalf("anonymous: %d %q", p.StatusCode, p.Header.Get("Location"))
		}
		if p := anon.get("/audit/export?format=csv"); p.StatusCode != http.StatusSeeOther {
			t.Fatalf("anonymous export: %d", p.StatusCode)
		}

		user := a.client()
		user.signIn("ana@example.com", goodPassword)
		if p := user.get("/"); p.find("nav-audit").Length() != 0 {
			t.Fatal("a plain user sees the Audit menu item")
		}
		for _, path := range []string{"/audit", "/audit/1", "/audit/export?format=jsonl"} {
			if p := user.get(path); p.StatusCode != http.StatusForbidden {
				t.Fatalf("plain user %s: %d", path, p.StatusCode)
			}
		}

		for _, email := range []string{"ada@example.com", "otto@example.com"} {
			c := a.client()
			c.signIn(email, goodPassword)
			p := c.get("/audit")
			if p.StatusCode != http.StatusOK || p.find("nav-audit").Length() == 0 {
				t.Fatalf("%s: status %d, nav %d", email, p.StatusCode, p.find("nav-audit").Length())
			}
			if p.find("audit-row").Length() == 0 {
				t.Fatalf("%s sees no events", email)
			}
			if p := c.get("/audit/1"); p.StatusCode != http.StatusOK {
				t.Fatalf("%s event page: %d", email, p.StatusCode)
			}
			if p := c.get("/audit/export?format=csv"); p.StatusCode != http.StatusOK {
				t.Fatalf("%s export: %d", email, p.StatusCode)
			}
			// Reading is all the trail allows.
			if p := c.post("/audit", nil); p.StatusCode != http.StatusMethodNotAllowed && p.StatusCode != http.StatusNotFound {
				t.Fatalf("%s POST /audit: %d", email, p.StatusCode)
			}
		}

		c := a.client()
		c.signIn("otto@example.com", goodPassword)
		before, _ := a.db.AuditHead(context.Background())
		for path, want := range map[string]int{"/audit/999": 404, "/audit/abc": 404, "/audit/0": 404, "/audit/export?format=xml": 422} {
			if p := c.get(path); p.StatusCode != want {
				t.Errorf("%s: %d, want %d", path, p.StatusCode, want)
			}
		}
		c.get("/audit?action=auth.signed_in")
		c.get("/audit/export?format=jsonl")
		if after, _ := a.db.AuditHead(context.Background()); after != before {
			t.Fatalf("reading the trail wrote to it: head %d, then %d", before.Seq, after.Seq)
		}
	})
}

func TestAuditPageFiltersPagesAndLinks(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		a := newApp(t, dialect)

		// 120 events one minute apart, three hours before the admin is created and signs in.
		bo := audit.Actor{Type: audit.ActorUser, ID: "u-bo", Name: "bo@example.com", IP: "192.0.2.7"}
		t0 := a.clock.Now().Add(-3 * time.Hour)
		for i := range 120 {
			actor := audit.System
			if i%4 == 0 {
				actor = bo
			}
			ev := actor.Event([]audit.Action{audit.RequestCreated, audit.RequestApproved, audit.AccessChecked}[i%3], "request", fmt.Sprintf("req-%d", i%10), map[string]any{"i": i})
			ev.RequestID = fmt.Sprintf("req-%d", i%10)
			if i%9 == 0 {
				ev.Outcome = audit.OutcomeFailure
			}
			a.mustEvent(ev, t0.Add(time.Duration(i)*time.Minute))
		}
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		c := a.client()
		c.signIn("ada@example.com", goodPassword)
		head, err := a.db.AuditHead(ctx)
		if err != nil || head.Seq != 122 {
			t.Fatalf("head %+v %v", head, err)
		}

		p := c.get("/audit")
		if got := p.find("head-checkpoint").Text(); got != head.String() {
			t.Fatalf("head shown %q, want %q", got, head.String())
		}
		first := rowSeqs(p)
		if len(first) != 50 || first[0] != 122 || first[49] != 73 {
			t.Fatalf("first page %v", first)
		}
		if p.find("page-newer").Length() != 0 {
			t.Fatal("the first page offers newer events")
		}
		older := c.get(href(p, "page-older"))
		if s := rowSeqs(older); len(s) != 50 || s[0] != 72 || s[49] != 23 {
			t.Fatalf("second page %v", s)
		}
		last := c.get(href(older, "page-older"))
		if s := rowSeqs(last); len(s) != 22 || s[0] != 22 || s[21] != 1 || last.find("page-older").Length() != 0 {
			t.Fatalf("last page %v", s)
		}
		back := c.get(href(last, "page-newer"))
		if !slices.Equal(rowSeqs(back), rowSeqs(older)) {
			t.Fatalf("newer from the last page: %v", rowSeqs(back))
		}
		if back = c.get(href(back, "page-newer")); !slices.Equal(rowSeqs(back), first) || back.find("page-newer").Length() != 0 {
			t.Fatalf("back to the first page: %v", rowSeqs(back))
		}

		// Filters: each gives exactly the matching events, and paging keeps the filter.
		want := func(keep func(i int) bool) []int64 {
			var out []int64
			for i := 119; i >= 0; i-- {
				if keep(i) {
					out = append(out, int64(i+1))
				}
			}
			return out
		}
		all := func(path string) []int64 {
			var out []int64
			for path != "" {
				p := c.get(path)
				if p.StatusCode != http.StatusOK {
					t.Fatalf("%s: %d", path, p.StatusCode)
				}
				out = append(out, rowSeqs(p)...)
				path = href(p, "page-older")
			}
			return out
		}
		cases := map[string][]int64{
			"/audit?actor_id=u-bo":                          want(func(i int) bool { return i%4 == 0 }),
			"/audit?actor=BO@example.com":                   want(func(i int) bool { return i%4 == 0 }),
			"/audit?action=access.checked":                  want(func(i int) bool { return i%3 == 2 }),
			"/audit?target_type=request&target_id=req-3":    want(func(i int) bool { return i%10 == 3 }),
			"/audit?request_id=req-7&outcome=failure":       want(func(i int) bool { return i%10 == 7 && i%9 == 0 }),
			"/audit?outcome=failure&action=request.created": want(func(i int) bool { return i%9 == 0 && i%3 == 0 }),
			"/audit?since=" + url.QueryEscape(t0.Add(100*time.Minute).Format("2006-01-02T15:04")) + "&until=" + url.QueryEscape(t0.Add(110*time.Minute).Format("2006-01-02T15:04")): want(func(i int) bool { return i >= 100 && i < 110 }),
			"/audit?action=policy.deleted": nil,
			// Bounds with a fraction of a second keep it on every page: cut to the whole
			// second, the older pages would take in event 9, half a second before the range.
			"/audit?since=" + url.QueryEscape(t0.Add(9*time.Minute+500*time.Millisecond).Format(time.RFC3339Nano)) + "&until=" + url.QueryEscape(t0.Add(110*time.Minute+500*time.Millisecond).Format(time.RFC3339Nano)): want(func(i int) bool { return i >= 10 && i <= 110 }),
		}
		for path, w := range cases {
			if got := all(path); !slices.Equal(got, w) {
				t.Errorf("%s: got %v, want %v", path, got, w)
			}
		}
		empty := c.get("/audit?action=policy.deleted")
		if !strings.Contains(empty.find("audit-empty").Text(), "No events match") || empty.find("clear-filters").Length() == 0 {
			t.Fatalf("empty state: %q", empty.find("audit-empty").Text())
		}
		bad := c.get("/audit?since=yesterday&outcome=maybe")
		if bad.StatusCode != http.StatusUnprocessableEntity || bad.find("error-since").Text() == "" || bad.find("error-outcome").Text() == "" {
			t.Fatalf("bad filters: %d", bad.StatusCode)
		}
		if v, _ := bad.find("field-since").Attr("value"); v != "yesterday" {
			t.Fatalf("the typed value was not kept: %q", v)
		}
		// A date-and-time picker cannot show "yesterday": the field is text, so what was typed shows.
		if typ, _ := bad.find("field-since").Attr("type"); typ != "text" {
			t.Fatalf("a value that is not a time is in a %q field", typ)
		}
		// Times in another form (a date alone, RFC 3339 with an offset, as links carry them) are
		// shown back as the picker writes them, in the viewer's zone (UTC here).
		other := c.get("/audit?since=2020-01-01&until=" + url.QueryEscape("2020-01-02T03:04:05+02:00"))
		for field, want := range map[string]string{"field-since": "2020-01-01T00:00", "field-until": "2020-01-02T01:04:05"} {
			v, _ := other.find(field).Attr("value")
			typ, _ := other.find(field).Attr("type")
			if v != want || typ != "datetime-local" {
				t.Errorf("%s: %s %q, want datetime-local %q", field, typ, v, want)
			}
		}
		// A fraction of a second is kept. The picker holds milliseconds; a finer one would be
		// dropped by the browser with the whole value, so a text field shows it.
		frac := c.get("/audit?since=" + url.QueryEscape("2020-01-01T00:00:05.25Z") + "&until=" + url.QueryEscape("2020-01-02T00:00:00.123456Z"))
		for field, want := range map[string][2]string{"field-since": {"datetime-local", "2020-01-01T00:00:05.25"}, "field-until": {"text", "2020-01-02T00:00:00.123456"}} {
			v, _ := frac.find(field).Attr("value")
			typ, _ := frac.find(field).Attr("type")
			if v != want[1] || typ != want[0] {
				t.Errorf("%s: %s %q, want %s %q", field, typ, v, want[0], want[1])
			}
		}

		// Links from an event lead to its actor's, target's and request's events.
		ev := c.get("/audit/3") // i = 2: system, access.checked, req-2
		if ev.StatusCode != http.StatusOK {
			t.Fatalf("event page %d", ev.StatusCode)
		}
		stored, _ := a.db.AuditEvent(ctx, 3)
		if ev.find("event-hash").Text() != stored.Hash || ev.find("event-prev-hash").Text() != stored.PrevHash {
			t.Fatal("event page hashes differ from the stored event")
		}
		if got := all(href(ev, "event-request")); !slices.Equal(got, want(func(i int) bool { return i%10 == 2 })) {
			t.Fatalf("request link: %v", got)
		}
		if got := all(href(ev, "event-target")); !slices.Equal(got, want(func(i int) bool { return i%10 == 2 })) {
			t.Fatalf("target link: %v", got)
		}
		if got := all(href(ev, "event-action")); !slices.Equal(got, want(func(i int) bool { return i%3 == 2 })) {
			t.Fatalf("action link: %v", got)
		}
		sys := all(href(ev, "event-actor")) // 90 seeded, and the admin's creation
		if len(sys) != 91 {
			t.Fatalf("system actor link: %d events", len(sys))
		}
		boRow := c.get("/audit?actor_id=u-bo")
		if got := all(href(boRow, "actor-link")); !slices.Equal(got, want(func(i int) bool { return i%4 == 0 })) {
			t.Fatalf("actor link from a row: %v", got)
		}
		if href(ev, "event-prev") != "/audit/2" || href(ev, "event-next") != "/audit/4" {
			t.Fatalf("neighbours: %q %q", href(ev, "event-prev"), href(ev, "event-next"))
		}
		// The newest event has no next one; it is read with the event, not from the chain's head.
		if head, err = a.db.AuditHead(ctx); err != nil {
			t.Fatal(err)
		}
		newest := c.get(fmt.Sprintf("/audit/%d", head.Seq))
		if newest.StatusCode != http.StatusOK || newest.find("event-next").Length() != 0 || href(newest, "event-prev") != fmt.Sprintf("/audit/%d", head.Seq-1) {
			t.Fatalf("newest event %d: %d, next %q", head.Seq, newest.StatusCode, href(newest, "event-next"))
		}
		if p := c.get(fmt.Sprintf("/audit/%d", head.Seq+1)); p.StatusCode != http.StatusNotFound {
			t.Fatalf("an event past the head: %d", p.StatusCode)
		}
		// Times show relative words with the exact local time and UTC on hover.
		tm := ev.find("audit-event").Find("time")
		if title, _ := tm.Attr("title"); !strings.Contains(title, "UTC") || !strings.Contains(tm.Text(), "ago") {
			t.Fatalf("time: %q title %q", tm.Text(), title)
		}
	})
}

func TestAuditDetailsShownAndExportedLiterally(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		c := a.client()
		c.signIn("ada@example.com", goodPassword)
		justification := "Incident 42\n{\"approved\":true,\"outcome\":\"success\"}</pre><script>alert(1)</script>"
		ev := audit.Actor{Type: audit.ActorUser, ID: "u-eve", Name: "=cmd|' /C calc'!A0"}.
			Event(audit.RequestCreated, "request", "r-1", map[string]any{"justification": justification})
		ev.RequestID = "r-1"
		a.mustEvent(ev, a.clock.Now())

		p := c.get(fmt.Sprintf("/audit/%d", ev.Seq))
		pre := p.find("event-details")
		if pre.Children().Length() != 0 || p.doc.Find("script:not([src])").Length() != 0 {
			t.Fatal("details were interpreted as markup")
		}
		var shown map[string]string
		if err := json.Unmarshal([]byte(pre.Text()), &shown); err != nil || shown["justification"] != justification {
			t.Fatalf("details shown %q (%v)", pre.Text(), err)
		}
		if !strings.Contains(pre.Text(), `Incident 42\n{\"approved\":true`) {
			t.Fatalf("the newline and quotes are not shown escaped: %q", pre.Text())
		}
		list := c.get("/audit?request_id=r-1")
		if s := list.find("details-summary").Text(); !strings.HasPrefix(ev.Details, strings.TrimSuffix(s, "…")) || !strings.Contains(s, `Incident 42\n{\"approved\"`) {
			t.Fatalf("summary %q, want the start of %q", s, ev.Details)
		}

		resp := c.get("/audit/export?format=jsonl&request_id=r-1")
		if ct := resp.Header.Get("Content-Type"); ct != "application/x-ndjson" || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("jsonl headers: %q %q", ct, resp.Header.Get("Content-Disposition"))
		}
		lines := strings.Split(strings.TrimSpace(resp.body), "\n")
		var rec map[string]any
		if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &rec) != nil || rec["details"] != ev.Details || rec["hash"] != ev.Hash {
			t.Fatalf("jsonl export: %q", resp.body)
		}

		resp = c.get("/audit/export?format=csv&actor_id=u-eve")
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("csv content type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(resp.body)).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("csv: %v %v\n%s", rows, err, resp.body)
		}
		if rows[1][4] != "'"+ev.ActorName || rows[1][10] != ev.Details {
			t.Fatalf("csv row: %q", rows[1])
		}
		// An unfiltered export holds every event, oldest first.
		all := c.get("/audit/export?format=jsonl")
		if n := strings.Count(all.body, "\n"); n != int(ev.Seq) || !strings.HasPrefix(all.body, `{"seq":1,`) {
			t.Fatalf("full export: %d lines\n%s", n, all.body)
		}
	})
}

func TestSignInRolledBackWhenItsAuditWriteFails(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		a := newApp(t, dialect)
		a.mustUser("ana@example.com", "Ana", goodPassword, false)
		stmts := []string{`CREATE FUNCTION t_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected'; END $$`,
			`CREATE TRIGGER t_fail BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION t_fail()`}
		if dialect == store.SQLite {
			stmts = []string{`CREATE TRIGGER t_fail BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'injected'); END`}
		}
		for _, q := range stmts {
			if err := a.db.ExecRaw(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		c := a.client()
		c.get("/login")
		p := c.post("/login", url.Values{"email": {"ana@example.com"}, "password": {goodPassword}})
		if p.StatusCode != http.StatusInternalServerError || strings.Contains(p.body, "injected") {
			t.Fatalf("sign-in with a failing audit write: %d", p.StatusCode)
		}
		if c.signedIn() {
			t.Fatal("a session was started although its audit event was not written")
		}
		if head, _ := a.db.AuditHead(ctx); head.Seq != 1 {
			t.Fatalf("head moved to %d", head.Seq)
		}
	})
}

// An event stored but not yet sealed (its writer's transaction committed, the sealer has not
// run) is shown in the waiting band by its id, is not on the chain's pages, and is not exported.
func TestAuditPageShowsEventsWaitingToBeSealed(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		c := a.client()
		c.signIn("ada@example.com", goodPassword)
		if c.get("/audit").doc.Find(`[data-testid="audit-waiting"]`).Length() != 0 {
			t.Fatal("a waiting band with nothing waiting")
		}
		// Stored as a business transaction stores it, and left for the sweep.
		if err := a.db.ExecRaw(context.Background(), `INSERT INTO audit_events (at, actor_type, actor_name, action, target_type, target_id, outcome, details)
			VALUES (?, 'user', 'ada@example.com', 'policy.updated', 'policy', 'p-waiting', 'success', '{}')`, a.clock.Now()); err != nil {
			t.Fatal(err)
		}
		p := c.get("/audit")
		band := p.find("audit-waiting")
		if !strings.Contains(band.Text(), "1 event waits to be sealed") || !strings.Contains(p.find("waiting-row").Text(), "policy.updated by ada@example.com") {
			t.Fatalf("waiting band: %q", band.Text())
		}
		for _, r := range rowSeqs(p) {
			if ev, _ := a.db.AuditEvent(context.Background(), r); ev.TargetID == "p-waiting" {
				t.Fatal("an unsealed event is listed on the chain's page")
			}
		}
		if body := c.get("/audit/export?format=jsonl").body; strings.Contains(body, "p-waiting") {
			t.Fatal("an unsealed event was exported")
		}
		if n, err := a.db.SealWaiting(context.Background()); err != nil || n != 1 {
			t.Fatalf("sealed %d, %v", n, err)
		}
		if c.get("/audit").doc.Find(`[data-testid="audit-waiting"]`).Length() != 0 {
			t.Fatal("the band stayed after the event was sealed")
		}
	})
}

// An event that came from no client (the system's, the shell's, the demo's) shows a dash for
// its client address and user agent, as for a request it has not, rather than empty fields.
func TestAuditEventWithoutAClientShowsDashes(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		c := a.client()
		c.signIn("ada@example.com", goodPassword)
		ev := audit.Actor{Type: audit.ActorSystem, Name: "system"}.Event(audit.RequestTimedOut, "request", "r-1", nil)
		a.mustEvent(ev, a.clock.Now())
		p := c.get(fmt.Sprintf("/audit/%d", ev.Seq))
		for _, id := range []string{"event-ip", "event-user-agent"} {
			if got := strings.TrimSpace(p.find(id).Text()); got != "—" {
				t.Errorf("%s reads %q", id, got)
			}
		}
	})
}

// A search that finds nothing suggests widening the time range only when it has one.
func TestAuditEmptySearchSuggestsWhatItHas(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newApp(t, dialect)
		a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
		c := a.client()
		c.signIn("ada@example.com", goodPassword)
		for path, want := range map[string]string{
			"/audit?actor=nobody@example.com":                        "Loosen a filter or clear the filters.",
			"/audit?actor=nobody@example.com&since=2020-01-01T00:00": "Widen the time range or clear the filters.",
		} {
			p := c.get(path)
			if got := strings.Join(strings.Fields(p.find("audit-empty-help").Text()), " "); got != want {
				t.Errorf("%s: %q, want %q", path, got, want)
			}
		}
	})
}

// A person looked for by name finds nothing, and the empty search says why: people are found by
// email. An email, or a name the product acts under, gets no such line.
func TestAuditEmptySearchByANameSaysEmail(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("ada@example.com", "Ada Admin", goodPassword, true)
	c := a.client()
	c.signIn("ada@example.com", goodPassword)
	for actor, hint := range map[string]bool{"Ada": true, "nobody@example.com": false, "system": false, "Demo": false} {
		p := c.get("/audit?actor=" + url.QueryEscape(actor))
		got := p.find("audit-actor-hint").Text()
		if (got != "") != hint || hint && !strings.Contains(got, "People are found by their email: “"+actor+"” is not one.") {
			t.Errorf("actor %q: hint %q", actor, got)
		}
	}
}
