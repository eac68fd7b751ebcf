package auth_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

const password = "correct horse battery"

var cli = audit.Actor{Type: audit.ActorSystem, Name: "cli"}

// Processes that start together on an empty database race to issue the setup token: exactly
// one of them may get a token, and it must be the one the setup page accepts.
func TestIssueSetupTokenOnceUnderRace(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		clock := testenv.NewClock()
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			tokens  []string
			pending int
		)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// One service per caller, as each process has its own.
				tok, state, err := auth.NewService(db, nil, clock.Now).IssueSetupToken(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				switch {
				case state == auth.SetupIssued && tok != "":
					tokens = append(tokens, tok)
				case state == auth.SetupPending && tok == "":
					pending++
				default:
					t.Errorf("state %d with token %q", state, tok)
				}
			}()
		}
		wg.Wait()
		if len(tokens) != 1 || pending != 15 {
			t.Fatalf("%d callers got a setup token and %d were told one exists, want 1 and 15", len(tokens), pending)
		}
		svc := auth.NewService(db, nil, clock.Now)
		if ok, err := svc.SetupTokenValid(ctx, tokens[0]); err != nil || !ok {
			t.Fatalf("the issued token is not the live one: %v %v", ok, err)
		}

		// A later start (a restart, another replica) leaves the live token alone.
		if tok, state, err := svc.IssueSetupToken(ctx); err != nil || tok != "" || state != auth.SetupPending {
			t.Fatalf("issue again: %q %d %v", tok, state, err)
		}
		if ok, _ := svc.SetupTokenValid(ctx, tokens[0]); !ok {
			t.Fatal("a later issue ended the live token")
		}
	})
}

func TestReissueSetupTokenEndsTheEarlierLink(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		svc := auth.NewService(db, nil, testenv.NewClock().Now)
		first, _, err := svc.IssueSetupToken(ctx)
		if err != nil || first == "" {
			t.Fatalf("issue: %q %v", first, err)
		}
		fresh, err := svc.ReissueSetupToken(ctx, cli)
		if err != nil || fresh == "" || fresh == first {
			t.Fatalf("reissue: %q %v", fresh, err)
		}
		if ok, _ := svc.SetupTokenValid(ctx, first); ok {
			t.Fatal("the earlier link still works")
		}
		if ok, _ := svc.SetupTokenValid(ctx, fresh); !ok {
			t.Fatal("the fresh link does not work")
		}
		evs := setupEvents(t, db)
		if len(evs) != 1 || evs[0].ActorType != audit.ActorSystem || evs[0].ActorName != "cli" ||
			!strings.Contains(evs[0].Details, `"replaced_earlier_link":true`) || strings.Contains(evs[0].Details, fresh) {
			t.Fatalf("audit events: %+v", evs)
		}

		// Once the first admin exists, nothing is issued or changed.
		if _, err := svc.Setup(ctx, auth.SetupInput{Token: fresh, Email: "ada@example.com", Name: "Ada",
			Password: password, PasswordConfirm: password}, audit.Actor{}); err != nil {
			t.Fatalf("setup: %v", err)
		}
		if tok, err := svc.ReissueSetupToken(ctx, cli); pam.ErrorCode(err) != pam.ECONFLICT || tok != "" {
			t.Fatalf("reissue after setup: %q %v", tok, err)
		}
		if v, _ := db.Value(ctx, "setup_token_sha256"); v != "" {
			t.Fatal("a refused reissue stored a token")
		}
		if n := len(setupEvents(t, db)); n != 1 {
			t.Fatalf("%d setup.link_issued events after a refusal, want 1", n)
		}
		if tok, state, err := svc.IssueSetupToken(ctx); err != nil || tok != "" || state != auth.SetupDone {
			t.Fatalf("issue after setup: %q %d %v", tok, state, err)
		}
	})
}

func setupEvents(t *testing.T, db *store.Store) []audit.Event {
	t.Helper()
	evs, err := db.AuditEvents(context.Background(), store.AuditFilter{Action: "setup.link_issued", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
