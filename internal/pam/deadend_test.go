package pam_test

import (
	"testing"

	"github.com/elevate-pam/elevate/internal/pam"
)

func TestApprovalWarningsDeadEnds(t *testing.T) {
	manual := func(n int) pam.Policy { return pam.Policy{ApprovalType: pam.ApprovalManual, ApprovalsRequired: n} }
	for _, tc := range []struct {
		name string
		p    pam.Policy
		f    pam.ApprovalFacts
		dead bool
		text string
		fix  pam.Fix
	}{
		{"no group", manual(1), pam.ApprovalFacts{}, true,
			"No one can approve this: it names no approver group and the organisation has no default approver group.", pam.FixApproverGroup},
		{"empty group", manual(1), pam.ApprovalFacts{ApproverGroupSet: true, GroupName: "Ops"}, true,
			"No one can approve this: the approver group Ops has no enabled members.", pam.FixApprovers},
		{"too few", manual(2), pam.ApprovalFacts{ApproverGroupSet: true, GroupName: "Ops", Approvers: 1}, true,
			"No one can approve this: the approver group Ops has 1 member and 2 approvals are needed.", pam.FixApprovers},
		{"too few, plural", manual(3), pam.ApprovalFacts{ApproverGroupSet: true, Approvers: 2}, true,
			"No one can approve this: the approver group has 2 members and 3 approvals are needed.", pam.FixApprovers},
		{"only approver asking", manual(1), pam.ApprovalFacts{ApproverGroupSet: true, GroupName: "Ops", Approvers: 1, EligibleApprover: true}, false,
			"A request from the only member of the approver group Ops can never be approved, because nobody approves their own request.", pam.FixApprovers},
		{"approver asking", manual(2), pam.ApprovalFacts{ApproverGroupSet: true, Approvers: 2, EligibleApprover: true}, false,
			"A request from an approver can collect at most 1 approval, because nobody approves their own request; 2 approvals are needed.", pam.FixApprovers},
		{"enough", manual(2), pam.ApprovalFacts{ApproverGroupSet: true, Approvers: 3, EligibleApprover: true}, false, "", ""},
		{"automatic", pam.Policy{ApprovalType: pam.ApprovalAuto, ApprovalsRequired: 1}, pam.ApprovalFacts{}, false, "", ""},
	} {
		ws := tc.p.ApprovalWarnings(tc.f)
		w, dead := pam.DeadEnd(ws)
		if dead != tc.dead {
			t.Errorf("%s: dead end %v, want %v", tc.name, dead, tc.dead)
		}
		if tc.text == "" {
			if len(ws) != 0 {
				t.Errorf("%s: warnings %+v", tc.name, ws)
			}
			continue
		}
		if !dead {
			w = ws[0]
		}
		if w.Text != tc.text || w.Fix != tc.fix {
			t.Errorf("%s: %q (%s), want %q (%s)", tc.name, w.Text, w.Fix, tc.text, tc.fix)
		}
	}
}
