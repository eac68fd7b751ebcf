// Package admin holds the administrators' use cases: users, groups, tasks, roles, role groups,
// policies and organisation settings. Each change is one transaction that writes the change and
// its audit event, with the values before and after, together.
package admin

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/google/uuid"
)

// PasswordLinkTTL is how long a set-password link works.
const PasswordLinkTTL = 7 * 24 * time.Hour

// Service is the administrators' use cases.
type Service struct {
	db     *store.Store
	now    func() time.Time
	mailer PasswordMailer
	rules  RequestRules
	// reviewMailer and providerManaged serve access reviews (reviews.go).
	reviewMailer     ReviewMailer
	providerManaged  ProviderManaged
	campaignNotifier CampaignNotifier
	// chainMailer tells of a broken audit chain and chainNotifier of every walk (chain.go).
	chainMailer   ChainMailer
	chainNotifier ChainNotifier
	walking       atomic.Bool     // a walk asked for on a page runs (WalkChainSoon)
	walks         sync.WaitGroup  // those walks, for WaitWalks
	bg            context.Context // what they run under (SetBackground)
}

// PasswordMailer queues a set-password link for a user inside the transaction that creates it.
type PasswordMailer interface {
	PasswordLink(ctx context.Context, tx *store.Store, l PasswordLink) error
}

// PasswordLink is a new set-password link as its user hears of it.
type PasswordLink struct {
	Action  audit.Action // audit.UserCreated for a new user, else audit.UserPasswordLinkCreated
	User    pam.User
	Token   string // the link's secret: only the message holds it, the database its hash
	Expires time.Time
}

// SetMailer makes new users and new password links also go out by mail. Without one, the
// administrator hands the link over.
func (s *Service) SetMailer(m PasswordMailer) { s.mailer = m }

// MailsPasswordLinks reports whether set-password links are also mailed to their users.
func (s *Service) MailsPasswordLinks() bool { return s.mailer != nil }

// New returns the admin service.
func New(db *store.Store, now func() time.Time) *Service { return &Service{db: db, now: now} }

func (s *Service) tx(ctx context.Context, fn func(tx *store.Store) error) error {
	return s.db.Tx(ctx, fn)
}

func (s *Service) record(ctx context.Context, tx *store.Store, a audit.Actor, action audit.Action, ttype, tid string, details map[string]any) error {
	ev := a.Event(action, ttype, tid, details)
	ev.At = s.now() // the service's clock, which its rows' times come from too
	return tx.AppendAudit(ctx, ev)
}

// ---- users

// CreateUser adds a user without a password and returns a one-time set-password token.
func (s *Service) CreateUser(ctx context.Context, a audit.Actor, email, name string, isAdmin, auditor bool) (pam.User, string, error) {
	return s.createUser(ctx, a, email, name, "", isAdmin, auditor)
}

// CreateUserWithPassword adds a user who can sign in with password at once (the shell's
// "user create"); no set-password link is made.
func (s *Service) CreateUserWithPassword(ctx context.Context, a audit.Actor, email, name, password string, isAdmin bool) (pam.User, error) {
	u, _, err := s.createUser(ctx, a, email, name, password, isAdmin, false)
	return u, err
}

// createUser adds a user with password, or, when it is empty, with a set-password link.
func (s *Service) createUser(ctx context.Context, a audit.Actor, email, name, password string, isAdmin, auditor bool) (pam.User, string, error) {
	var ps pam.Problems
	email, err := pam.NormalizeEmail(email)
	ps.Add(err)
	name, err = pam.ValidateName(name)
	ps.Add(err)
	if password != "" {
		ps.Add(pam.ValidatePassword(password, password))
	}
	if err := ps.Err(); err != nil {
		return pam.User{}, "", err
	}
	hash := ""
	if password != "" {
		if hash, err = auth.HashPassword(password); err != nil {
			return pam.User{}, "", err
		}
	}
	now := s.now()
	u := pam.User{ID: pam.UserID(uuid.NewString()), Email: email, Name: name, Admin: isAdmin, Auditor: auditor, TimeZone: "UTC", CreatedAt: now}
	tok := ""
	err = s.tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateUser(ctx, u, hash); err != nil {
			return err
		}
		if password == "" {
			var tokHash string
			tok, tokHash = auth.NewToken()
			if err := tx.CreatePasswordToken(ctx, u.ID, tokHash, now.Add(PasswordLinkTTL), now); err != nil {
				return err
			}
			if s.mailer != nil {
				if err := s.mailer.PasswordLink(ctx, tx, PasswordLink{Action: audit.UserCreated, User: u, Token: tok, Expires: now.Add(PasswordLinkTTL)}); err != nil {
					return err
				}
			}
		}
		return s.record(ctx, tx, a, audit.UserCreated, "user", string(u.ID), map[string]any{
			"after": map[string]any{"email": email, "name": name, "admin": isAdmin, "auditor": auditor}})
	})
	if err != nil {
		return pam.User{}, "", fmt.Errorf("create user %s: %w", email, err)
	}
	return u, tok, nil
}

// NewPasswordLink replaces a user's set-password link (for a forgotten or never-set password).
func (s *Service) NewPasswordLink(ctx context.Context, a audit.Actor, id pam.UserID) (string, error) {
	tok, hash := auth.NewToken()
	err := s.tx(ctx, func(tx *store.Store) error {
		u, err := tx.UserByID(ctx, id)
		if err != nil {
			return err
		}
		now := s.now()
		if err := tx.CreatePasswordToken(ctx, u.ID, hash, now.Add(PasswordLinkTTL), now); err != nil {
			return err
		}
		if s.mailer != nil && u.Active() {
			if err := s.mailer.PasswordLink(ctx, tx, PasswordLink{Action: audit.UserPasswordLinkCreated, User: u, Token: tok, Expires: now.Add(PasswordLinkTTL)}); err != nil {
				return err
			}
		}
		return s.record(ctx, tx, a, audit.UserPasswordLinkCreated, "user", string(u.ID), map[string]any{"email": u.Email})
	})
	return tok, err
}

// UserChange is one of the switches an admin flips on a user.
type UserChange string

// User changes.
const (
	Disable       UserChange = "disable"
	Enable        UserChange = "enable"
	MakeAdmin     UserChange = "make_admin"
	RemoveAdmin   UserChange = "remove_admin"
	MakeAuditor   UserChange = "make_auditor"
	RemoveAuditor UserChange = "remove_auditor"
)

// changeActions records each change on the audit trail.
var changeActions = map[UserChange]audit.Action{
	Disable: audit.UserDisabled, Enable: audit.UserEnabled, MakeAdmin: audit.UserAdminGranted,
	RemoveAdmin: audit.UserAdminRevoked, MakeAuditor: audit.UserAuditorGranted, RemoveAuditor: audit.UserAuditorRevoked,
}

// ChangeUser applies one change. Admins cannot disable or demote themselves, and the last
// enabled admin cannot be disabled or demoted; the admin rows are locked while this is decided.
func (s *Service) ChangeUser(ctx context.Context, a audit.Actor, id pam.UserID, change UserChange) (pam.User, error) {
	return s.changeUser(ctx, a, change, "", func(tx *store.Store) (pam.User, error) { return tx.UserByID(ctx, id) })
}

// TakesAway reports whether the change takes access away (disabling, removing administrator or
// auditor rights): the pages ask why, and the change's audit event keeps the reason.
func (c UserChange) TakesAway() bool { return askWhy[c] != "" }

// askWhy is what the pages say when a change that takes access away comes without a reason.
var askWhy = map[UserChange]string{
	Disable:       "Say why you disable this user; the audit trail keeps it.",
	RemoveAdmin:   "Say why you remove their administrator rights; the audit trail keeps it.",
	RemoveAuditor: "Say why you remove their auditor rights; the audit trail keeps it.",
}

// ChangeUserBecause is ChangeUser with the administrator's reason, which the audit event keeps;
// a change that takes access away needs one (EINVALID on the reason field without it).
func (s *Service) ChangeUserBecause(ctx context.Context, a audit.Actor, id pam.UserID, change UserChange, reason string) (pam.User, error) {
	if change.TakesAway() {
		var err error
		if reason, err = pam.ActionReason(reason, askWhy[change]); err != nil {
			return pam.User{}, err
		}
	}
	return s.changeUser(ctx, a, change, reason, func(tx *store.Store) (pam.User, error) { return tx.UserByID(ctx, id) })
}

// ChangeUserByEmail is ChangeUser for a user named by email address (the shell's "user
// disable" and "user auditor"), with the same guards and the same audit actions.
func (s *Service) ChangeUserByEmail(ctx context.Context, a audit.Actor, email string, change UserChange) (pam.User, error) {
	email, err := pam.NormalizeEmail(email)
	if err != nil {
		return pam.User{}, err
	}
	return s.changeUser(ctx, a, change, "", func(tx *store.Store) (pam.User, error) {
		u, _, err := tx.UserByEmail(ctx, email)
		return u, err
	})
}

// changeUser applies change to the user find returns, read after the admin rows are locked;
// a reason, when given, goes into the audit event.
func (s *Service) changeUser(ctx context.Context, a audit.Actor, change UserChange, reason string, find func(tx *store.Store) (pam.User, error)) (pam.User, error) {
	var after pam.User
	err := s.tx(ctx, func(tx *store.Store) error {
		admins, err := tx.LockActiveAdmins(ctx)
		if err != nil {
			return err
		}
		u, err := find(tx)
		if err != nil {
			return err
		}
		before := u
		now := s.now()
		losesAdmin := false
		switch change {
		case Disable:
			if !u.Active() {
				return pam.Errorf(pam.ECONFLICT, "%s is already disabled.", u.Email)
			}
			u.DisabledAt = &now
			losesAdmin = u.Admin
		case Enable:
			if u.Active() {
				return pam.Errorf(pam.ECONFLICT, "%s is already enabled.", u.Email)
			}
			u.DisabledAt = nil
		case MakeAdmin:
			if u.Admin {
				return pam.Errorf(pam.ECONFLICT, "%s is already an administrator.", u.Email)
			}
			u.Admin = true
		case RemoveAdmin:
			if !u.Admin {
				return pam.Errorf(pam.ECONFLICT, "%s is not an administrator.", u.Email)
			}
			u.Admin = false
			losesAdmin = before.Active()
		case MakeAuditor:
			if u.Auditor {
				return pam.Errorf(pam.ECONFLICT, "%s is already an auditor.", u.Email)
			}
			u.Auditor = true
		case RemoveAuditor:
			if !u.Auditor {
				return pam.Errorf(pam.ECONFLICT, "%s is not an auditor.", u.Email)
			}
			u.Auditor = false
		default:
			return pam.Errorf(pam.EINVALID, "Unknown change.")
		}
		if string(u.ID) == a.ID && (change == Disable || change == RemoveAdmin) {
			return pam.Errorf(pam.EFORBIDDEN, "You cannot disable or demote yourself. Ask another administrator.")
		}
		if losesAdmin && len(admins) <= 1 {
			return pam.Errorf(pam.ECONFLICT, "%s is the last enabled administrator. Make someone else an administrator first.", u.Email)
		}
		if err := tx.UpdateUserFlags(ctx, u, now); err != nil {
			return err
		}
		var ended map[string]any
		if change == Disable {
			if err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
				return err
			}
			// A disabled user is eligible for nothing: what they had open ends with them.
			if ended, err = s.reach(func(r RequestRules) (map[string]any, error) { return r.UserDisabled(ctx, tx, u.ID) }); err != nil {
				return err
			}
		}
		after = u
		details := map[string]any{
			"email":  u.Email,
			"before": map[string]any{"admin": before.Admin, "auditor": before.Auditor, "disabled": !before.Active()},
			"after":  map[string]any{"admin": u.Admin, "auditor": u.Auditor, "disabled": !u.Active()},
		}
		if reason != "" {
			details["reason"] = reason
		}
		return s.record(ctx, tx, a, changeActions[change], "user", string(u.ID), merge(details, ended))
	})
	return after, err
}

// ---- groups

// CreateGroup adds a group.
func (s *Service) CreateGroup(ctx context.Context, a audit.Actor, name, desc string) (pam.Group, error) {
	g, err := titled(name, desc)
	if err != nil {
		return pam.Group{}, err
	}
	grp := pam.Group{ID: uuid.NewString(), Name: g.name, Description: g.desc}
	err = s.tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateGroup(ctx, grp, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.GroupCreated, "group", grp.ID, map[string]any{"after": map[string]any{"name": grp.Name, "description": grp.Description}})
	})
	return grp, err
}

// UpdateGroup renames or re-describes a group.
func (s *Service) UpdateGroup(ctx context.Context, a audit.Actor, id, name, desc string) error {
	g, err := titled(name, desc)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *store.Store) error {
		before, err := tx.GroupByID(ctx, id)
		if err != nil {
			return err
		}
		if err := tx.UpdateGroup(ctx, pam.Group{ID: id, Name: g.name, Description: g.desc}, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.GroupUpdated, "group", id, map[string]any{
			"before": map[string]any{"name": before.Name, "description": before.Description},
			"after":  map[string]any{"name": g.name, "description": g.desc}})
	})
}

// DeleteGroup deletes an unused group; while it is used, the error names its users.
func (s *Service) DeleteGroup(ctx context.Context, a audit.Actor, id string) error {
	return s.tx(ctx, func(tx *store.Store) error {
		g, err := tx.GroupByID(ctx, id)
		if err != nil {
			return err
		}
		uses, err := tx.GroupUsage(ctx, id)
		if err != nil {
			return err
		}
		if len(uses) > 0 {
			return pam.Errorf(pam.ECONFLICT, "%s cannot be deleted while it is used by %s.", g.Name, strings.Join(uses, "; "))
		}
		if err := tx.DeleteGroup(ctx, id); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.GroupDeleted, "group", id, map[string]any{"before": map[string]any{"name": g.Name}})
	})
}

// groupAndUser reads, inside tx, the group and the user a membership change names.
func groupAndUser(ctx context.Context, tx *store.Store, groupID string, userID pam.UserID) (pam.Group, pam.User, error) {
	g, err := tx.GroupByID(ctx, groupID)
	if err != nil {
		return g, pam.User{}, err
	}
	u, err := tx.UserByID(ctx, userID)
	return g, u, err
}

// membershipDetails are the audit details of a change of u's place in g (member or owner).
func membershipDetails(g pam.Group, u pam.User) map[string]any {
	return map[string]any{"group": g.Name, "user": u.Email, "user_id": string(u.ID)}
}

// AddMember puts a user into a group by hand; a group the identity provider manages refuses.
func (s *Service) AddMember(ctx context.Context, a audit.Actor, groupID string, userID pam.UserID) error {
	return s.tx(ctx, func(tx *store.Store) error {
		if err := handEditable(ctx, tx, groupID); err != nil {
			return err
		}
		g, u, err := groupAndUser(ctx, tx, groupID, userID)
		if err != nil {
			return err
		}
		if err := tx.AddMember(ctx, groupID, u.ID, s.now()); err != nil {
			return err
		}
		return s.record(ctx, tx, a, audit.GroupMemberAdded, "group", groupID, membershipDetails(g, u))
	})
}

// RemoveMember takes a user out of a group by hand (a group the identity provider manages
// refuses). Their requests still open under the policies the group makes them eligible for
// end with it: pending ones are cancelled and grants revoked ("no longer eligible", by the
// system), in the same transaction.
func (s *Service) RemoveMember(ctx context.Context, a audit.Actor, groupID string, userID pam.UserID) error {
	_, err := s.removeByHand(ctx, a, groupID, userID, nil)
	return err
}

// Ended is what the end of a membership ended with it: pending requests cancelled and grants
// (in force or scheduled) revoked.
type Ended struct {
	Cancelled, Revoked int64
}

// MemberLoss counts what removing userID from groupID would end now (see RemoveMember): the
// confirmation the group page asks for shows it before the change. A user who is not a member
// is ENOTFOUND.
func (s *Service) MemberLoss(ctx context.Context, groupID string, userID pam.UserID) (Ended, error) {
	member, err := s.db.IsMember(ctx, groupID, userID)
	if err != nil {
		return Ended{}, err
	}
	if !member {
		return Ended{}, pam.Errorf(pam.ENOTFOUND, "This user is not a member of the group.")
	}
	if s.rules == nil {
		return Ended{}, nil
	}
	pending, grants, err := s.rules.OpenThroughGroup(ctx, nil, groupID, userID)
	return Ended{Cancelled: pending, Revoked: grants}, err
}

// RemoveMemberBecause is RemoveMember with the administrator's reason, which the audit event
// keeps (EINVALID on the reason field without one); it reports what the removal ended.
func (s *Service) RemoveMemberBecause(ctx context.Context, a audit.Actor, groupID string, userID pam.UserID, reason string) (Ended, error) {
	reason, err := pam.ActionReason(reason, "Say why you remove this member; the audit trail keeps it.")
	if err != nil {
		return Ended{}, err
	}
	return s.removeByHand(ctx, a, groupID, userID, map[string]any{"reason": reason})
}

// removeByHand is RemoveMember's transaction, with extra on the audit event.
func (s *Service) removeByHand(ctx context.Context, a audit.Actor, groupID string, userID pam.UserID, extra map[string]any) (Ended, error) {
	var ended Ended
	err := s.tx(ctx, func(tx *store.Store) error {
		if err := handEditable(ctx, tx, groupID); err != nil {
			return err
		}
		var err error
		ended, err = s.removeMember(ctx, tx, a, groupID, userID, extra)
		return err
	})
	return ended, err
}

// removeMember is RemoveMember inside the transaction tx without the hand-edit guard: the one
// way a membership ends, from the group page, a closing access review and the identity
// provider alike. extra goes on the audit event beside the usual details.
func (s *Service) removeMember(ctx context.Context, tx *store.Store, a audit.Actor, groupID string, userID pam.UserID, extra map[string]any) (Ended, error) {
	g, u, err := groupAndUser(ctx, tx, groupID, userID)
	if err != nil {
		return Ended{}, err
	}
	if err := tx.RemoveMember(ctx, groupID, u.ID); err != nil {
		return Ended{}, err
	}
	return s.endMembership(ctx, tx, a, g, u, extra)
}

// endMembership finishes, inside tx, a membership whose row is already gone: what the group
// made u eligible for ends with it, and the removal is recorded with extra in its details.
func (s *Service) endMembership(ctx context.Context, tx *store.Store, a audit.Actor, g pam.Group, u pam.User, extra map[string]any) (Ended, error) {
	// Leaving an eligible group ends what it made them eligible for.
	ended, err := s.reach(func(r RequestRules) (map[string]any, error) { return r.LeftGroup(ctx, tx, g.ID, u.ID) })
	if err != nil {
		return Ended{}, err
	}
	n := func(k string) int64 {
		switch v := ended[k].(type) {
		case int:
			return int64(v)
		case int64:
			return v
		}
		return 0
	}
	return Ended{Cancelled: n("pending_cancelled"), Revoked: n("grants_revoked")},
		s.record(ctx, tx, a, audit.GroupMemberRemoved, "group", g.ID, merge(merge(membershipDetails(g, u), extra), ended))
}

type title struct{ name, desc string }

// titled checks a name and a description, and tells both problems at once.
func titled(name, desc string) (title, error) {
	var ps pam.Problems
	t := titledInto(&ps, name, desc)
	return t, ps.Err()
}

// titledInto adds the name's and the description's problems to ps, for a form with more fields.
func titledInto(ps *pam.Problems, name, desc string) title {
	n, err := pam.ValidateTitle("name", name)
	ps.Add(err)
	d, err := pam.ValidateDescription(desc)
	ps.Add(err)
	return title{n, d}
}
