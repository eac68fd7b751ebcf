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
	c := inv.Campaign
	what := "membership"
	if inv.Items != 1 {
		what = "memberships"
	}
	def := "they are kept"
	if c.Default == "remove" {
		def = "they are removed"
	}
	return o.queueReviewMail(ctx, tx, KindReviewRequested, inv, content{
		Subject:  fmt.Sprintf("Access review: %s — %d %s to review", c.Name, inv.Items, what),
		Headline: "Access review: " + c.Name,
		Intro: []string{
			fmt.Sprintf("%s started an access review. Please confirm whether each of %d group %s should stay, before %s.",
				c.StartedByName, inv.Items, what, reviewDeadline(inv)),
			"Memberships nobody reviews by then follow the campaign's default: " + def + ".",
			"Opening the link only shows the list; nothing changes until you decide.",
		},
		Footer: "You get this mail because you own a group under review, or are an administrator.",
	}, "To review")
}

// KindReviewReminded is the reminder a reviewer with memberships still to decide gets when a
// campaign's deadline nears (admin.ReminderLead).
var KindReviewReminded = audit.ReviewCampaignReminded.String()

// ReviewReminded queues a reviewer's reminder of a campaign's deadline, inside the sweep's
// transaction that records it; inv.Items is how many memberships nobody has decided yet.
func (o *Outbox) ReviewReminded(ctx context.Context, tx *store.Store, inv admin.ReviewInvite) error {
	c := inv.Campaign
	what := "membership waits"
	if inv.Items != 1 {
		what = "memberships wait"
	}
	def := "kept"
	if c.Default == "remove" {
		def = "removed"
	}
	return o.queueReviewMail(ctx, tx, KindReviewReminded, inv, content{
		Subject:  fmt.Sprintf("Reminder: access review %s closes %s — %d %s for you", c.Name, reviewDeadline(inv), inv.Items, what),
		Headline: "Access review: " + c.Name + " closes soon",
		Intro: []string{
			fmt.Sprintf("The access review %s closes at %s, and %d group %s for a decision you may make.", c.Name, reviewDeadline(inv), inv.Items, what),
			"What nobody decides by then is " + def + ", as the campaign's default says.",
		},
		Footer: "You get this mail because you are a reviewer of this access review.",
	}, "Still to decide")
}

// reviewDeadline is the campaign's deadline in the reviewer's time zone.
func reviewDeadline(inv admin.ReviewInvite) string {
	return formatTime(inv.Campaign.Deadline, pam.ZoneOrUTC(inv.Reviewer.TimeZone))
}

// queueReviewMail completes m with what every access review message carries (the greeting, the
// campaign, the reviewer's count under countLabel, the deadline and the link to the review) and
// queues it for the reviewer.
func (o *Outbox) queueReviewMail(ctx context.Context, tx *store.Store, kind string, inv admin.ReviewInvite, m content, countLabel string) error {
	c, u := inv.Campaign, inv.Reviewer
	m.Greeting = "Hello " + u.Name + ","
	m.Fields = []Field{{"Campaign", c.Name}, {countLabel, fmt.Sprint(inv.Items)}, {"Deadline", reviewDeadline(inv)}}
	m.Link, m.LinkLabel = o.base+"/reviews/"+url.PathEscape(c.ID), "Review memberships"
	if err := o.enqueue(ctx, tx, kind, "", u, m); err != nil {
		return fmt.Errorf("queue %s mail for %s: %w", kind, u.Email, err)
	}
	return nil
}
