package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// Events stored before an action was renamed keep their old name (the chain forbids rewriting
// them); a search for the new name, the old name or a prefix finds them beside the new ones,
// in the page, the list and the export alike.
func TestAuditSearchFindsRenamedActions(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		old := audit.System.Event(audit.UserDisabled, "user", "u1", nil)
		old.Action = "user.disable" // as an earlier version stored it
		for _, ev := range []*audit.Event{
			old,
			audit.System.Event(audit.UserDisabled, "user", "u2", nil),
			audit.System.Event(audit.UserEnabled, "user", "u1", nil),
			audit.System.Event(audit.RequestCreated, "request", "r1", nil),
		} {
			if err := db.AppendAudit(ctx, ev); err != nil {
				t.Fatal(err)
			}
		}
		for q, want := range map[string][]string{
			"user.disabled": {"u2", "u1"},
			"user.disable":  {"u2", "u1"},
			"user.":         {"u1", "u2", "u1"},
			"user.enabled":  {"u1"},
			"request.":      {"r1"},
		} {
			f := audit.Filter{Action: q}
			evs, err := db.AuditEvents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if got := targets(evs); !slices.Equal(got, want) {
				t.Errorf("events for %q: %q, want %q", q, got, want)
			}
			page, err := db.AuditPage(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if got := targets(page.Events); !slices.Equal(got, want) {
				t.Errorf("page for %q: %q, want %q", q, got, want)
			}
		}
		var exported []audit.Event
		for ev, err := range db.ExportAuditEvents(ctx, audit.Filter{Action: "user.disabled"}) {
			if err != nil {
				t.Fatal(err)
			}
			exported = append(exported, ev)
		}
		if len(exported) != 2 || exported[0].Action != "user.disable" && exported[1].Action != "user.disable" {
			t.Fatalf("export for user.disabled: %+v", exported)
		}
	})
}

func targets(evs []audit.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.TargetID
	}
	return out
}
