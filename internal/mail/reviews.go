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
