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

// KindChainBroken goes to the security address and the auditors: a walk of the audit chain
// found it broken.
const KindChainBroken = "audit_chain_broken"

// ChainBroken queues the news of a broken audit chain to each of b.To, inside the transaction
// that records the walk. The link opens the first bad event's page, which only shows it.
func (o *Outbox) ChainBroken(ctx context.Context, tx *store.Store, b admin.ChainBreak) error {
	who := "A check asked for by " + b.By.Name
	switch b.By {
	case audit.System:
		who = "Elevate's scheduled check"
	case audit.CLI:
		who = "A check run with elevate audit verify"
	}
	for _, u := range b.To {
		c := content{
			Subject:  fmt.Sprintf("Elevate's audit chain is broken at event %d", b.Seq),
			Headline: "The audit chain is broken",
			Greeting: "Hello " + u.Name + ",",
			Intro: []string{
				fmt.Sprintf("%s found at %s that event %d of the audit trail does not match the chain: %s.",
					who, formatTime(b.At, pam.ZoneOrUTC(u.TimeZone)), b.Seq, b.Reason),
				"Every event before it still checks out. From this event on the trail may have been edited, removed or reordered outside Elevate; compare it with an export or a checkpoint kept elsewhere.",
			},
			Fields:    []Field{{"First bad event", fmt.Sprint(b.Seq)}},
			Link:      o.base + "/audit/" + url.PathEscape(fmt.Sprint(b.Seq)),
			LinkLabel: "Open the event",
			Footer:    "You get this mail because you are an auditor in Elevate or its organisation's security address, or, with neither, one of its administrators.",
		}
		if err := o.enqueue(ctx, tx, KindChainBroken, "", u, c); err != nil {
			return fmt.Errorf("queue chain break for %s: %w", u.Email, err)
		}
	}
	return nil
}
