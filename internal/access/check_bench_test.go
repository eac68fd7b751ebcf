package access

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// decideSeparate is the decision as it was made with one query per fact (settings, user,
// exempt membership, task, grant). It is kept as the reference decide is measured against.
func decideSeparate(ctx context.Context, tx *store.Store, userRef, taskKey string, now time.Time) (Decision, error) {
	org, err := tx.OrgSettings(ctx)
	if err != nil {
		return Decision{}, err
	}
	if !org.Enforcement {
		return Decision{Allowed: true, Reason: ReasonNotEnforced}, nil
	}
	var u pam.User
	if strings.Contains(userRef, "@") {
		u, _, err = tx.UserByEmail(ctx, strings.ToLower(userRef))
	} else {
		u, err = tx.UserByID(ctx, pam.UserID(userRef))
	}
	if pam.ErrorCode(err) == pam.ENOTFOUND || userRef == "" {
		return Decision{Reason: ReasonUnknownUser}, nil
	}
	if err != nil {
		return Decision{}, err
	}
	if !u.Active() {
		return Decision{Reason: ReasonDisabled}, nil
	}
	if org.ExemptGroupID != "" {
		exempt, err := tx.IsActiveMember(ctx, org.ExemptGroupID, u.ID)
		if err != nil {
			return Decision{}, err
		}
		if exempt {
			return Decision{Allowed: true, Reason: ReasonExempt}, nil
		}
	}
	task, err := tx.TaskByKey(ctx, taskKey)
	if pam.ErrorCode(err) == pam.ENOTFOUND || taskKey == "" {
		return Decision{Reason: ReasonUnknownTask}, nil
	}
	if err != nil {
		return Decision{}, err
	}
	g, ok, err := tx.GrantFor(ctx, u.ID, task.ID, now)
	if err != nil {
		return Decision{}, err
	}
	if !ok {
		return Decision{Reason: ReasonNoGrant}, nil
	}
	return Decision{Allowed: true, Reason: ReasonGrant, RequestID: g.ID, ExpiresAt: g.EndsAt}, nil
}

// benchCatalog fills a database with 500 users, 200 tasks in 20 roles and 5 role groups, an exempt
// group of 50 and 4,000 requests of every status, and returns a time inside the grants' windows.
func benchCatalog(b *testing.B, db *store.Store) time.Time {
	b.Helper()
	ctx := context.Background()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	err := db.Tx(ctx, func(tx *store.Store) error {
		must := func(err error) {
			if err != nil {
				b.Fatal(err)
			}
		}
		must(tx.CreateGroup(ctx, pam.Group{ID: "g-exempt", Name: "Break glass"}, now))
		for i := range 500 {
			id := pam.UserID(fmt.Sprintf("u%03d", i))
			must(tx.CreateUser(ctx, pam.User{ID: id, Email: fmt.Sprintf("user%03d@example.com", i), Name: "U", CreatedAt: now}, ""))
			if i%10 == 9 {
				must(tx.AddMember(ctx, "g-exempt", id, now))
			}
		}
		for r := range 20 {
			must(tx.CreateRole(ctx, pam.Role{ID: fmt.Sprintf("r%02d", r), Name: fmt.Sprintf("Role %02d", r)}, now))
		}
		for g := range 5 {
			must(tx.CreateRoleGroup(ctx, pam.RoleGroup{ID: fmt.Sprintf("rg%d", g), Name: fmt.Sprintf("Role group %d", g)}, now))
			for r := g * 4; r < g*4+4; r++ {
				must(tx.AddRoleGroupRole(ctx, fmt.Sprintf("rg%d", g), fmt.Sprintf("r%02d", r)))
			}
		}
		for i := range 200 {
			id := fmt.Sprintf("t%03d", i)
			must(tx.CreateTask(ctx, pam.Task{ID: id, Key: fmt.Sprintf("sys%d/Task-%03d", i%7, i), Name: id}, now))
			must(tx.AddRoleTask(ctx, fmt.Sprintf("r%02d", i%20), id))
		}
		statuses := []pam.Status{pam.StatusApproved, pam.StatusExpired, pam.StatusRevoked, pam.StatusDenied, pam.StatusPending}
		for i := range 4000 {
			starts := now.Add(time.Duration(i%48-40) * time.Hour)
			ends := starts.Add(8 * time.Hour)
			st, scope := pam.ScopeRole, fmt.Sprintf("r%02d", i%20)
			if i%3 == 0 {
				st, scope = pam.ScopeRoleGroup, fmt.Sprintf("rg%d", i%5)
			}
			must(tx.CreateRequest(ctx, pam.Request{ID: fmt.Sprintf("q%04d", i), RequesterID: pam.UserID(fmt.Sprintf("u%03d", i%500)),
				PolicyID: "p", ScopeType: st, ScopeID: scope, ScopeName: scope, ApprovalType: "auto", Duration: 8 * time.Hour,
				Status: statuses[i%len(statuses)], CreatedAt: starts, PendingUntil: starts, StartsAt: &starts, EndsAt: &ends}))
		}
		return tx.SaveOrgSettings(ctx, pam.OrgSettings{Enforcement: true, ExemptGroupID: "g-exempt", MaxDuration: 24 * time.Hour}, now)
	})
	if err != nil {
		b.Fatal(err)
	}
	return now
}

// BenchmarkDecide measures one decision made with the separate queries and with CheckFacts, on
// the path that reads every fact (a grant in force) and on one that finds none.
func BenchmarkDecide(b *testing.B) {
	for _, dialect := range testenv.Dialects {
		b.Run(dialect, func(b *testing.B) {
			db := testenv.Store(b, dialect)
			now := benchCatalog(b, db)
			s := New(db, func() time.Time { return now }, nil)
			ctx := context.Background()
			cases := []struct{ name, user, task, want string }{
				{"grant", "user000@example.com", "sys0/Task-000", ReasonGrant},
				{"nogrant", "user001@example.com", "sys0/Task-007", ReasonNoGrant},
			}
			impls := []struct {
				name   string
				decide func(context.Context, *store.Store, string, string, time.Time) (Decision, error)
			}{{"separate", decideSeparate}, {"onequery", s.decide}}
			for _, c := range cases {
				old, err1 := decideSeparate(ctx, db, c.user, c.task, now)
				cur, err2 := s.decide(ctx, db, c.user, c.task, now)
				if err1 != nil || err2 != nil || old.Reason != c.want || !reflect.DeepEqual(old, cur) {
					b.Fatalf("%s: separate %+v %v, one query %+v %v", c.name, old, err1, cur, err2)
				}
				for _, impl := range impls {
					b.Run(c.name+"/"+impl.name, func(b *testing.B) {
						for b.Loop() {
							if _, err := impl.decide(ctx, db, c.user, c.task, now); err != nil {
								b.Fatal(err)
							}
						}
					})
				}
			}
		})
	}
}
