package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/elevate-pam/elevate/internal/audit"
)

// The role and role group pages are one shape: list with counts, create, search for members,
// add (twice: a flash), show, rename with a clash kept beside the field, remove.
func TestRoleAndRoleGroupPagesShareOneShape(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := context.Background()
	a.mustUser("root@example.com", "Root", goodPassword, true)
	if _, err := a.admin.CreateTask(ctx, audit.System, "exchange/New-JournalRule", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.admin.CreateRole(ctx, audit.System, "Journal admin", ""); err != nil {
		t.Fatal(err)
	}
	c := a.client()
	c.signIn("root@example.com", goodPassword)

	cases := []struct {
		list, what, section, add, query, member, added, removed, related string
	}{
		{"/admin/roles", "Role", "role-tasks", "/tasks", "journal", "exchange/New-JournalRule", "Task added.", "Task removed.", "role-role-groups"},
		{"/admin/role-groups", "Role group", "rg-roles", "/roles", "journal", "Journal admin", "Role added.", "Role removed.", "rg-tasks"},
	}
	for _, tc := range cases {
		t.Run(tc.what, func(t *testing.T) {
			c.get(tc.list + "/new")
			p := c.post(tc.list, url.Values{"name": {"On call"}})
			if p.StatusCode != http.StatusSeeOther {
				t.Fatalf("create: %d", p.StatusCode)
			}
			setURL := p.Header.Get("Location")
			if f := c.get(setURL).find("flash").Text(); !strings.Contains(f, tc.what+" On call created") {
				t.Fatalf("flash after create: %q", f)
			}
			found := c.get(setURL + "?q=" + tc.query).find(tc.section + "-candidate")
			if found.Length() != 1 || !strings.Contains(found.Text(), tc.member) {
				t.Fatalf("search: %d %q", found.Length(), found.Text())
			}
			in := found.Find("input[type=hidden]").Last()
			form := url.Values{in.AttrOr("name", ""): {in.AttrOr("value", "")}}
			if p := c.post(setURL+tc.add, form); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("add: %d", p.StatusCode)
			}
			page := c.get(setURL)
			if f := page.find("flash").Text(); !strings.Contains(f, tc.added) {
				t.Fatalf("flash after add: %q", f)
			}
			items := page.find(tc.section + "-item")
			if items.Length() != 1 || !strings.Contains(items.Text(), tc.member) || page.find(tc.related).Length() != 1 {
				t.Fatalf("members: %d %q", items.Length(), items.Text())
			}
			if !strings.Contains(page.find(tc.section).Find("h2").Text(), "(1)") {
				t.Fatalf("count: %q", page.find(tc.section).Find("h2").Text())
			}
			if cells := c.get(tc.list).find(strings.TrimPrefix(tc.list, "/admin/")).Text(); !strings.Contains(cells, "On call") {
				t.Fatalf("list: %q", cells)
			}

			// Renaming to a taken name keeps the input beside the field.
			taken := "Journal admin"
			if tc.what == "Role" {
				taken = "journal ADMIN"
			} else if _, err := a.admin.CreateRoleGroup(ctx, audit.System, "Journal admin", ""); err != nil {
				t.Fatal(err)
			}
			bad := c.post(setURL, url.Values{"name": {taken}, "description": {"kept"}})
			if bad.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(bad.find("error-name").Text(), "already exists") ||
				bad.find("field-description").Text() != "kept" || bad.find(tc.section+"-item").Length() != 1 {
				t.Fatalf("rename clash: %d %q", bad.StatusCode, bad.find("error-name").Text())
			}
			if p := c.post(setURL, url.Values{"name": {"On call " + tc.what}}); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("rename: %d", p.StatusCode)
			}
			if f := c.get(setURL).find("flash").Text(); !strings.Contains(f, tc.what+" saved.") {
				t.Fatalf("flash after save: %q", f)
			}

			remove := items.Find("form").AttrOr("action", "")
			if p := c.post(remove, nil); p.StatusCode != http.StatusSeeOther {
				t.Fatalf("remove %s: %d", remove, p.StatusCode)
			}
			if f := c.get(setURL).find("flash").Text(); !strings.Contains(f, tc.removed) {
				t.Fatalf("flash after remove: %q", f)
			}
			if p := c.post(remove, nil); p.StatusCode != http.StatusNotFound {
				t.Fatalf("remove twice: %d", p.StatusCode)
			}
		})
	}
}

// TestScopeCountsAgreeWithTheirNouns: a role of one task reads "1 task" and a role group of one
// role "1 role", where a new policy's scope is chosen and where a role is found for a group.
func TestScopeCountsAgreeWithTheirNouns(t *testing.T) {
	a := newApp(t, "sqlite")
	ctx := context.Background()
	a.mustUser("root@example.com", "Root", goodPassword, true)
	if _, err := a.admin.CreateTask(ctx, audit.System, "exchange/New-JournalRule", "", ""); err != nil {
		t.Fatal(err)
	}
	role, err := a.admin.CreateRole(ctx, audit.System, "Journal admin", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.admin.AddRoleTask(ctx, audit.System, role.ID, "exchange/New-JournalRule"); err != nil {
		t.Fatal(err)
	}
	rg, err := a.admin.CreateRoleGroup(ctx, audit.System, "Mail admin", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.admin.AddRoleGroupRole(ctx, audit.System, rg.ID, role.ID); err != nil {
		t.Fatal(err)
	}
	c := a.client()
	c.signIn("root@example.com", goodPassword)
	rows := c.get("/admin/policies/new").find("scopes").Find("tbody tr")
	var got []string
	rows.Each(func(_ int, r *goquery.Selection) {
		got = append(got, strings.Join(strings.Fields(r.Find("td").First().Text()), " "))
	})
	if strings.Join(got, " | ") != "Mail admin 1 role | Journal admin 1 task | exchange/New-JournalRule New-JournalRule" {
		t.Fatalf("scopes to choose: %q", got)
	}
	// A role not in the group yet, found to be added.
	other, err := a.admin.CreateRole(ctx, audit.System, "Journal reader", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.admin.AddRoleTask(ctx, audit.System, other.ID, "exchange/New-JournalRule"); err != nil {
		t.Fatal(err)
	}
	cand := c.get("/admin/role-groups/" + rg.ID + "?q=reader").find("rg-roles-candidate").Text()
	if !strings.Contains(cand, "1 task") || strings.Contains(cand, "1 tasks") {
		t.Fatalf("role found for the group: %q", cand)
	}
}
