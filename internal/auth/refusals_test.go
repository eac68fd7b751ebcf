package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// TestAuditOnceRecordsOneRefusalPerKeyAndWindow: four "processes" (limiters on one database)
// refused by the same address at once record one event between them for the window; a process
// that saw the window recorded asks the database nothing more; another key and the next window
// are recorded again.
func TestAuditOnceRecordsOneRefusalPerKeyAndWindow(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		clock := testenv.NewClock()
		svc := auth.NewService(db, nil, clock.Now)
		limiters := []*auth.Limiter{svc.NewLimiter(), svc.NewLimiter(), svc.NewLimiter(), svc.NewLimiter()}
		refuse := func(l *auth.Limiter, ip string) bool {
			t.Helper()
			a := audit.Actor{Type: audit.ActorAnonymous, IP: ip}
			ev := a.Event(audit.CheckTokenRefused, "", "", map[string]any{"reason": "unknown or revoked"})
			ok, err := l.AuditOnce(ctx, auth.CheckRefusedPerIP, ip, ev)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		count := func() int {
			t.Helper()
			evs, err := db.AuditEvents(ctx, store.AuditFilter{Action: audit.CheckTokenRefused.String(), Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		recorded := 0
		for _, l := range limiters {
			for range 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if refuse(l, "192.0.2.1") {
						mu.Lock()
						recorded++
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
		if recorded != 1 || count() != 1 {
			t.Fatalf("20 refusals through 4 processes: %d recorded, %d events; want 1", recorded, count())
		}
		// Every process has seen the window: more refusals from that address cost nothing.
		before := db.Counts()
		for _, l := range limiters {
			if refuse(l, "192.0.2.1") {
				t.Fatal("recorded twice in one window")
			}
		}
		if after := db.Counts(); after != before {
			t.Fatalf("refusals in a recorded window cost %d statements", after.Statements-before.Statements)
		}
		if !refuse(limiters[0], "192.0.2.2") || refuse(limiters[1], "192.0.2.2") || count() != 2 {
			t.Fatalf("another address: %d events, want 2", count())
		}
		clock.Advance(15 * time.Minute)
		if !refuse(limiters[2], "192.0.2.1") || refuse(limiters[3], "192.0.2.1") || count() != 3 {
			t.Fatalf("next window: %d events, want 3", count())
		}
	})
}
