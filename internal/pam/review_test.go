package pam

import (
	"testing"
	"time"
)

func TestNewCampaign(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	ok := CampaignInput{Name: "Q3", Scope: "policies", PolicyIDs: []string{"p"}, Reviewers: "owners", Default: "keep", Deadline: now.Add(24 * time.Hour)}
	many := make([]string, MaxCampaignPolicies+1)
	for _, tc := range []struct {
		name  string
		edit  func(*CampaignInput)
		field string // "" = valid
	}{
		{"valid", func(*CampaignInput) {}, ""},
		{"all groups need no policy", func(in *CampaignInput) { in.Scope, in.PolicyIDs = "all", nil }, ""},
		{"no name", func(in *CampaignInput) { in.Name = " " }, "name"},
		{"unknown scope", func(in *CampaignInput) { in.Scope = "some" }, "scope"},
		{"no policy", func(in *CampaignInput) { in.PolicyIDs = nil }, "policies"},
		{"too many policies", func(in *CampaignInput) { in.PolicyIDs = many }, "policies"},
		{"unknown reviewers", func(in *CampaignInput) { in.Reviewers = "everyone" }, "reviewers"},
		{"unknown default", func(in *CampaignInput) { in.Default = "maybe" }, "default"},
		{"no deadline", func(in *CampaignInput) { in.Deadline = time.Time{} }, "deadline"},
		{"deadline too soon", func(in *CampaignInput) { in.Deadline = now.Add(time.Minute) }, "deadline"},
		{"deadline too far", func(in *CampaignInput) { in.Deadline = now.Add(91 * 24 * time.Hour) }, "deadline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ok
			tc.edit(&in)
			c, err := NewCampaign(in, now)
			if tc.field == "" {
				if err != nil || c.Status != CampaignOpen {
					t.Fatalf("%+v, %v", c, err)
				}
				return
			}
			if e, isE := err.(*Error); !isE || e.Field != tc.field || e.Code != EINVALID {
				t.Fatalf("want a problem with %s, got %v", tc.field, err)
			}
		})
	}
}

func TestReviewItemDecide(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	open := Campaign{Name: "Q3", Status: CampaignOpen, Deadline: now.Add(time.Hour)}
	for _, tc := range []struct {
		name     string
		campaign Campaign
		by       UserID
		d        ReviewDecision
		comment  string
		code     string // "" = decided
	}{
		{"owner keeps", open, "owner", ReviewKeep, "still needed", ""},
		{"owner removes", open, "owner", ReviewRemove, "", ""},
		{"own membership", open, "member", ReviewKeep, "", EFORBIDDEN},
		{"closing", Campaign{Status: CampaignClosing}, "owner", ReviewKeep, "", ECONFLICT},
		{"closed", Campaign{Status: CampaignClosed}, "owner", ReviewKeep, "", ECONFLICT},
		{"no decision", open, "owner", "", "", EINVALID},
		{"long comment", open, "owner", ReviewKeep, string(make([]byte, MaxComment+1)), EINVALID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := ReviewItem{UserID: "member", GroupName: "Approvers"}
			err := it.Decide(tc.campaign, tc.by, tc.d, tc.comment, now)
			if tc.code == "" {
				if err != nil || it.Decision != tc.d || it.DecidedBy != tc.by || it.DecidedAt == nil {
					t.Fatalf("%+v, %v", it, err)
				}
				return
			}
			if ErrorCode(err) != tc.code || it.Decision != "" {
				t.Fatalf("want %s, got %v (%+v)", tc.code, err, it)
			}
		})
	}
	if (ReviewItem{}).Effective(ReviewRemove) != ReviewRemove || (ReviewItem{Decision: ReviewKeep}).Effective(ReviewRemove) != ReviewKeep {
		t.Fatal("effective decision")
	}
	due := Campaign{Status: CampaignOpen, Deadline: now}
	if !due.Due(now) || due.Due(now.Add(-time.Second)) || !(Campaign{Status: CampaignClosing}).Due(now) || (Campaign{Status: CampaignClosed}).Due(now) {
		t.Fatal("due")
	}
}
