package admin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
)

// Groups from the identity provider. An administrator maps a group to a claim value (the
// groups claim containing exchange-admins); from then on the group's members are the people
// whose SSO sign-in carries that value: added and removed at each sign-in, never by hand, and
// removed by the sweep when no sign-in confirmed them for the maximum age. Every removal goes
// through removeMember's path (endMembership), so what the group made them eligible for ends
// with it, as when an administrator removes a member.

// idpActor is the identity provider as the actor of the membership changes it causes.
func idpActor(issuer string) audit.Actor {
	return audit.Actor{Type: audit.ActorSystem, ID: "idp", Name: "identity provider " + issuer}
}

// MapGroupToIdP makes the identity provider manage a group's members: from now on they are the
// people whose sign-in carries value in the groups claim. Its present members become provider
// memberships confirmed now, so they stay until their next sign-in says otherwise or they lapse.
func (s *Service) MapGroupToIdP(ctx context.Context, a audit.Actor, groupID, value string) error {
	value, err := pam.ValidateIdPValue(value)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *store.Store) error {
		g, err := tx.LockGroup(ctx, groupID)
		if err != nil {
			return err
		}
		if g.IdPValue == value {
			return pam.FieldError("idp_value", "%s is already managed by the identity provider with %s.", g.Name, value)
		}
		if err := tx.SetGroupIdP(ctx, g.ID, value, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.GroupIdPMapped, "group", g.ID, map[string]any{"group": g.Name,
			"before": map[string]any{"idp_value": g.IdPValue}, "after": map[string]any{"idp_value": value}})
	})
}

// UnmapGroupFromIdP returns a group's members to hand editing. Its members stay, as members
// added by hand.
func (s *Service) UnmapGroupFromIdP(ctx context.Context, a audit.Actor, groupID string) error {
	return s.tx(ctx, func(tx *store.Store) error {
		g, err := tx.LockGroup(ctx, groupID)
		if err != nil {
			return err
		}
		if !g.Managed() {
			return pam.Errorf(pam.ECONFLICT, "The identity provider does not manage %s.", g.Name)
		}
		if err := tx.SetGroupIdP(ctx, g.ID, "", s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.GroupIdPUnmapped, "group", g.ID, map[string]any{"group": g.Name,
			"before": map[string]any{"idp_value": g.IdPValue}, "after": map[string]any{"idp_value": ""}})
	})
}

// handEditable refuses, inside tx and with the group's row locked, a hand edit of the members
// of a group the identity provider manages.
func handEditable(ctx context.Context, tx *store.Store, groupID string) error {
	g, err := tx.LockGroup(ctx, groupID)
	if err != nil {
		return err
	}
	if g.Managed() {
		return pam.Errorf(pam.ECONFLICT, "The identity provider manages the members of %s (claim value %s): change them there, or stop managing the group from the identity provider first.", g.Name, g.IdPValue)
	}
	return nil
}

// SyncProviderGroups sets u's memberships of the managed groups from what the provider said at
// a sign-in, inside its transaction tx: a group whose value the claim carries gets u (added, or
// confirmed now), one whose value it lacks loses u through the group page's removal path. A
// claim that is absent counts as no value, so nobody keeps a membership the provider no longer
// vouches for. It returns the sign-in event's details about groups.
func (s *Service) SyncProviderGroups(ctx context.Context, tx *store.Store, u pam.User, pg auth.ProviderGroups) (map[string]any, error) {
	groups, err := tx.IdPGroups(ctx)
	if err != nil || len(groups) == 0 {
		return nil, err
	}
	member, err := tx.IdPMemberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	a := idpActor(pg.Issuer)
	now := s.now()
	confirmed := []string{}
	for _, g := range groups {
		extra := map[string]any{"source": "identity provider", "issuer": pg.Issuer, "claim": pg.Claim, "idp_value": g.IdPValue}
		if slices.Contains(pg.Values, g.IdPValue) {
			added, err := tx.ConfirmIdPMember(ctx, g.ID, u.ID, now)
			if err != nil {
				return nil, fmt.Errorf("confirm %s in %s: %w", u.Email, g.Name, err)
			}
			confirmed = append(confirmed, g.Name)
			if added {
				if err := s.record(ctx, tx, a, audit.GroupMemberAdded, "group", g.ID, merge(membershipDetails(g, u), extra)); err != nil {
					return nil, err
				}
			}
			continue
		}
		if !slices.Contains(member, g.ID) {
			continue
		}
		extra["reason"] = "not in the provider's claim"
		if _, err := s.removeMember(ctx, tx, a, g.ID, u.ID, extra); err != nil && pam.ErrorCode(err) != pam.ENOTFOUND {
			// Not found: another sign-in or the sweep removed it meanwhile.
			return nil, fmt.Errorf("remove %s from %s: %w", u.Email, g.Name, err)
		}
	}
	from := pg.From
	if from == "" {
		from = "absent"
	}
	return map[string]any{"idp_groups": confirmed, "idp_claim": from}, nil
}

// lapseBatch is how many lapsed memberships one sweep run removes at most.
const lapseBatch = 100

// LapseProviderMemberships removes, as the system, the memberships of managed groups that no
// SSO sign-in confirmed within maxAge, each in its own transaction through the group page's
// removal path; the sweep calls it. A sign-in that confirms one meanwhile keeps it. It returns
// how many it removed.
func (s *Service) LapseProviderMemberships(ctx context.Context, maxAge time.Duration) (int, error) {
	cutoff := s.now().Add(-maxAge)
	lapsed, err := s.db.LapsedIdPMembers(ctx, cutoff, lapseBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range lapsed {
		var removed bool
		err := s.tx(ctx, func(tx *store.Store) error {
			g, u, err := groupAndUser(ctx, tx, m.GroupID, pam.UserID(m.UserID))
			if err != nil {
				return err
			}
			if removed, err = tx.RemoveLapsedMember(ctx, g.ID, u.ID, cutoff); err != nil || !removed {
				return err
			}
			_, err = s.endMembership(ctx, tx, audit.System, g, u, map[string]any{"source": "identity provider",
				"reason": "lapsed: no sign-in confirmed it", "idp_value": g.IdPValue,
				"confirmed_at": m.ConfirmedAt.UTC().Format(time.RFC3339), "max_age": maxAge.String()})
			return err
		})
		if err != nil && pam.ErrorCode(err) != pam.ENOTFOUND {
			return n, fmt.Errorf("lapse %s in %s: %w", m.UserID, m.GroupID, err)
		}
		if removed && err == nil {
			n++
		}
	}
	return n, nil
}
