package pam

import (
	"testing"
	"time"
)

func TestPolicyFollowUps(t *testing.T) {
	base := NewPolicy(ScopeTask, "t")
	base.ApproverGroupID, base.PendingTimeout = "approvers", 8*time.Hour
	for _, c := range []struct {
		name   string
		edit   func(*Policy)
		field  string
		remind time.Duration // 0 = none
	}{
		{"default reminder is half the time to decide", func(*Policy) {}, "", 4 * time.Hour},
		{"own reminder", func(p *Policy) { p.RemindAfter = time.Hour }, "", time.Hour},
		{"reminder off", func(p *Policy) { p.RemindAfter = NoReminder }, "", 0},
		{"automatic asks nobody", func(p *Policy) { p.ApprovalType = ApprovalAuto }, "", 0},
		{"reminder at the timeout", func(p *Policy) { p.RemindAfter = 8 * time.Hour }, "remind_after", 0},
		{"reminder too soon", func(p *Policy) { p.RemindAfter = time.Minute }, "remind_after", 0},
		{"other negative reminder", func(p *Policy) { p.RemindAfter = -time.Hour }, "remind_after", 0},
		{"escalation", func(p *Policy) { p.EscalationGroupID, p.EscalateAfter = "backup", 4*time.Hour }, "", 4 * time.Hour},
		{"escalation without a time", func(p *Policy) { p.EscalationGroupID = "backup" }, "escalate_after", 0},
		{"a time without a group", func(p *Policy) { p.EscalateAfter = time.Hour }, "escalation_group_id", 0},
		{"escalation at the timeout", func(p *Policy) { p.EscalationGroupID, p.EscalateAfter = "backup", 8*time.Hour }, "escalate_after", 0},
		{"escalation to the approvers", func(p *Policy) { p.EscalationGroupID, p.EscalateAfter = "approvers", time.Hour }, "escalation_group_id", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := base
			c.edit(&p)
			err := p.Validate(DefaultOrgMax)
			if c.field != "" {
				var pe *Error
				if e, ok := err.(*Error); ok {
					pe = e
				}
				if pe == nil || pe.Field != c.field {
					t.Fatalf("error %v, want one on %s", err, c.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.name == "escalation" {
				now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
				r := Request{CreatedAt: now}
				r.PlanFollowUps(p)
				if r.EscalateAt == nil || !r.EscalateAt.Equal(now.Add(4*time.Hour)) || r.EscalationGroupID != "backup" || r.Escalated() {
					t.Fatalf("planned %+v", r)
				}
				return
			}
			d, ok := p.ReminderDelay()
			if (c.remind == 0) == ok || d != c.remind {
				t.Fatalf("reminder %v %v, want %v", d, ok, c.remind)
			}
		})
	}
}

func TestEscalationWarnings(t *testing.T) {
	p := NewPolicy(ScopeTask, "t")
	p.ApprovalsRequired, p.EscalationGroupID, p.EscalateAfter = 2, "backup", time.Hour
	if w, dead := DeadEnd(p.EscalationWarnings(EscalationFacts{GroupName: "Backup"})); !dead || w.Fix != FixEscalation {
		t.Fatalf("empty group: %+v %v", w, dead)
	}
	if ws := p.EscalationWarnings(EscalationFacts{GroupName: "Backup", Members: 1}); len(ws) != 1 || ws[0].DeadEnd {
		t.Fatalf("one member for two approvals: %+v", ws)
	}
	if ws := p.EscalationWarnings(EscalationFacts{Members: 2}); len(ws) != 0 {
		t.Fatalf("enough members: %+v", ws)
	}
	p.EscalationGroupID = ""
	if ws := p.EscalationWarnings(EscalationFacts{}); len(ws) != 0 {
		t.Fatalf("no escalation: %+v", ws)
	}
}
