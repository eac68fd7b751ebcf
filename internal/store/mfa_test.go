package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

func TestCountAttemptIsAtomic(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		ctx := context.Background()
		var mu sync.Mutex
		seen := map[int64]bool{}
		var wg sync.WaitGroup
		for range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					n, err := db.CountAttempt(ctx, "k", 100)
					if err != nil {
						t.Errorf("count: %v", err)
						return
					}
					mu.Lock()
					seen[n] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		for i := int64(1); i <= 60; i++ {
			if !seen[i] {
				t.Fatalf("count %d never returned: attempts were lost or doubled (%d distinct)", i, len(seen))
			}
		}
		if n, _ := db.CountAttempt(ctx, "k", 200); n != 1 {
			t.Fatalf("a new window starts at %d", n)
		}
		if err := db.UncountAttempt(ctx, "k", 200); err != nil {
			t.Fatal(err)
		}
		if err := db.UncountAttempt(ctx, "k", 200); err != nil {
			t.Fatal(err)
		}
		if n, _ := db.CountAttempt(ctx, "k", 200); n != 1 {
			t.Fatalf("uncount went below zero: next count %d", n)
		}
		if n, err := db.DeleteRateLimitsBefore(ctx, 200); err != nil || n != 1 {
			t.Fatalf("sweep removed %d: %v", n, err)
		}
	})
}

func TestMFAStepIsUsedOnce(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		ctx := context.Background()
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		if err := db.CreateUser(ctx, pam.User{ID: "u1", Email: "a@example.com", Name: "A", CreatedAt: now}, ""); err != nil {
			t.Fatal(err)
		}
		if err := db.BeginMFA(ctx, "u1", "sealed-1", now); err != nil {
			t.Fatal(err)
		}
		if err := db.BeginMFA(ctx, "u1", "sealed-2", now); err != nil {
			t.Fatalf("restart of an unconfirmed set-up: %v", err)
		}
		if err := db.ConfirmMFA(ctx, "u1", now); err != nil {
			t.Fatal(err)
		}
		if err := db.BeginMFA(ctx, "u1", "sealed-3", now); pam.ErrorCode(err) != pam.ECONFLICT {
			t.Fatalf("set-up over a confirmed one: %v", err)
		}
		if m, _ := db.MFAByUser(ctx, "u1"); m.SecretEnc != "sealed-2" || !m.Confirmed() {
			t.Fatalf("enrolment %+v", m)
		}
		var wg sync.WaitGroup
		wins := make(chan bool, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.UseMFAStep(ctx, "u1", 1000, now)
				if err != nil {
					t.Errorf("use step: %v", err)
				}
				wins <- ok
			}()
		}
		wg.Wait()
		close(wins)
		n := 0
		for ok := range wins {
			if ok {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("one code was accepted %d times", n)
		}
		if ok, _ := db.UseMFAStep(ctx, "u1", 999, now); ok {
			t.Fatal("an earlier step was accepted after a later one")
		}
	})
}

// The profile's two-step status is one statement: the enrolment and its unused recovery codes.
func TestMFAStatusIsOneStatement(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		ctx := context.Background()
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		if err := db.CreateUser(ctx, pam.User{ID: "u1", Email: "a@example.com", Name: "A", CreatedAt: now}, ""); err != nil {
			t.Fatal(err)
		}
		status := func() (store.MFA, int64, error) {
			t.Helper()
			before := db.Counts().Statements
			m, n, err := db.MFAStatus(ctx, "u1")
			if s := db.Counts().Statements - before; s != 1 {
				t.Fatalf("the status took %d statements", s)
			}
			return m, n, err
		}
		if _, _, err := status(); pam.ErrorCode(err) != pam.ENOTFOUND {
			t.Fatalf("no enrolment: %v", err)
		}
		if err := db.BeginMFA(ctx, "u1", "sealed", now); err != nil {
			t.Fatal(err)
		}
		if m, n, err := status(); err != nil || m.Confirmed() || n != 0 {
			t.Fatalf("pending: %+v %d %v", m, n, err)
		}
		if err := db.ConfirmMFA(ctx, "u1", now); err != nil {
			t.Fatal(err)
		}
		if err := db.ReplaceRecoveryCodes(ctx, "u1", []string{"h1", "h2", "h3"}); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.UseRecoveryCode(ctx, "u1", "h2", now); err != nil || !ok {
			t.Fatalf("use a code: %v %v", ok, err)
		}
		if m, n, err := status(); err != nil || !m.Confirmed() || m.SecretEnc != "sealed" || n != 2 {
			t.Fatalf("enrolled: %+v %d %v", m, n, err)
		}
	})
}
