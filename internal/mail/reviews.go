package mail

import (
	"context"
	"fmt"
	"net/url"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// KindReviewRequested is the invitation each reviewer of a new access review campaign gets.
var KindReviewRequested = audit.ReviewCampaignStarted.String()

// ReviewRequested queues a reviewer's invitation to a campaign, inside the transaction tx that
// starts it. The link opens the reviewer's page, which changes nothing until they decide.
func (o *Outbox) ReviewRequested(ctx context.Context, tx *store.Store, inv admin.ReviewInvite) error {
	c, u := inv.Campaign, inv.Reviewer
	loc := pam.ZoneOrUTC(u.TimeZone)
	what := "membership"
	if inv.Items != 1 {
		what = "memberships"
	}
	def := "they are kept"
	if c.Default == "remove" {
		def = "they are removed"
	}
	m := content{
		Subject:  fmt.Sprintf("Access review: %s — %d %s to review", c.Name, inv.Items, what),
		Headline: "Access review: " + c.Name,
		Greeting: "Hello " + u.Name + ",",
		Intro: []string{
			fmt.Sprintf("%s started an access review. Please confirm whether each of %d group %s should stay, before %s.",
				c.StartedByName, inv.Items, what, formatTime(c.Deadline, loc)),
			"Memberships nobody reviews by then follow the campaign's default: " + def + ".",
			"Opening the link only shows the list; nothing changes until you decide.",
		},
		Fields:    []Field{{"Campaign", c.Name}, {"To review", fmt.Sprint(inv.Items)}, {"Deadline", formatTime(c.Deadline, loc)}},
		Link:      o.base + "/reviews/" + url.PathEscape(c.ID),
		LinkLabel: "Review memberships",
		Footer:    "You get this mail because you own a group under review, or are an administrator.",
	}
	if err := o.enqueue(ctx, tx, KindReviewRequested, "", u, m); err != nil {
		return fmt.Errorf("queue review invitation for %s: %w", u.Email, err)
	}
	return nil
}

// KindReviewReminded is the reminder a reviewer with memberships still to decide gets when a
// campaign's deadline nears (admin.ReminderLead).
var KindReviewReminded = audit.ReviewCampaignReminded.String()

// ReviewReminded queues a reviewer's reminder of a campaign's deadline, inside the sweep's
// transaction that records it; inv.Items is how many memberships nobody has decided yet.
func (o *Outbox) ReviewReminded(ctx context.Context, tx *store.Store, inv admin.ReviewInvite) error {
	c, u := inv.Campaign, inv.Reviewer
	loc := pam.ZoneOrUTC(u.TimeZone)
	what := "membership waits"
	if inv.Items != 1 {
		what = "memberships wait"
	}
	def := "kept"
	if c.Default == "remove" {
		def = "removed"
	}
	m := content{
		Subject:  fmt.Sprintf("Reminder: access review %s closes %s — %d %s for you", c.Name, formatTime(c.Deadline, loc), inv.Items, what),
		Headline: "Access review: " + c.Name + " closes soon",
		Greeting: "Hello " + u.Name + ",",
		Intro: []string{
			fmt.Sprintf("The access review %s closes at %s, and %d group %s for a decision you may make.", c.Name, formatTime(c.Deadline, loc), inv.Items, what),
			"What nobody decides by then is " + def + ", as the campaign's default says.",
		},
		Fields:    []Field{{"Campaign", c.Name}, {"Still to decide", fmt.Sprint(inv.Items)}, {"Deadline", formatTime(c.Deadline, loc)}},
		Link:      o.base + "/reviews/" + url.PathEscape(c.ID),
		LinkLabel: "Review memberships",
		Footer:    "You get this mail because you are a reviewer of this access review.",
	}
	if err := o.enqueue(ctx, tx, KindReviewReminded, "", u, m); err != nil {
		return fmt.Errorf("queue review reminder for %s: %w", u.Email, err)
	}
	return nil
}
