package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// editEvent changes a sealed event behind Elevate's back, as someone with the database's keys
// could.
func editEvent(t *testing.T, db *store.Store, dialect string, seq int64) {
	t.Helper()
	testenv.Tamper(t, db, dialect, fmt.Sprintf("UPDATE audit_events SET actor_name = 'someone else' WHERE seq = %d", seq))
}

// chainWorld is an empty organisation whose broken chains are mailed through the outbox.
func chainWorld(t *testing.T, dialect string) (*store.Store, *testenv.Clock, *admin.Service) {
	t.Helper()
	db, clock := testenv.Store(t, dialect), testenv.NewClock()
	svc := admin.New(db, clock.Now)
	svc.SetChainMailer(mail.NewOutbox(db, config.Config{}, clock.Now))
	return db, clock, svc
}

// verifiedEvents returns the recorded walks of the chain, oldest first.
func verifiedEvents(t *testing.T, db *store.Store) []audit.Event {
	t.Helper()
	if _, err := db.SealWaiting(context.Background()); err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for ev, err := range db.AllAuditEvents(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Action == audit.ChainVerified.String() {
			out = append(out, ev)
		}
	}
	return out
}

// A walk of the chain is recorded in the trail; one that finds the chain broken is recorded as
// a failure naming the first bad event and is mailed, in the same transaction, to the security
// address and every enabled auditor (nobody else).
func TestVerifyChainRecordsTheWalkAndMailsABreak(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db, clock, svc := chainWorld(t, dialect)
		ctx := context.Background()
		ada := mustUser(t, svc, "ada@example.com", true)
		if _, _, err := svc.CreateUser(ctx, as(ada), "audrey@example.com", "Audrey Auditor", false, true); err != nil {
			t.Fatal(err)
		}
		gone, _, err := svc.CreateUser(ctx, as(ada), "gone@example.com", "Gone Auditor", false, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ChangeUser(ctx, as(ada), gone.ID, admin.Disable); err != nil {
			t.Fatal(err)
		}
		if err := svc.UpdateSettings(ctx, as(ada), admin.SettingsInput{Enforcement: true, MaxDuration: 8 * time.Hour, SecurityEmail: "soc@example.com"}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		head, err := db.AuditHead(ctx)
		if err != nil {
			t.Fatal(err)
		}

		v, err := svc.VerifyChain(ctx, audit.System, nil)
		if err != nil || v.Broken != nil || v.Head != head || v.Events != head.Seq {
			t.Fatalf("walk of an intact chain: %+v %v (head %+v)", v, err, head)
		}
		walks := verifiedEvents(t, db)
		if len(walks) != 1 || walks[0].Outcome != audit.OutcomeSuccess || walks[0].ActorName != audit.System.Name {
			t.Fatalf("recorded walks: %+v", walks)
		}
		var d map[string]int64
		if err := json.Unmarshal([]byte(walks[0].Details), &d); err != nil || d["through"] != head.Seq || d["events"] != head.Seq {
			t.Fatalf("walk details %s (%v), want through and events %d", walks[0].Details, err, head.Seq)
		}
		if msgs, err := db.Mail(ctx, pam.MailFilter{Limit: 50}); err != nil || len(msgs) != 0 {
			t.Fatalf("an intact chain was mailed: %d messages %v", len(msgs), err)
		}
		st, err := db.AuditStatus(ctx)
		if err != nil || st.Verified == nil || st.Verified.BrokenAt != 0 || st.Verified.Through != head.Seq || st.Verified.Seq != walks[0].Seq {
			t.Fatalf("status after the walk: %+v %v", st.Verified, err)
		}

		editEvent(t, db, dialect, 3)
		v, err = svc.VerifyChain(ctx, audit.Actor{Type: audit.ActorSystem, Name: "cli"}, nil)
		if err != nil || v.Broken == nil || v.Broken.Seq != 3 {
			t.Fatalf("walk over an edited event: %+v %v", v, err)
		}
		walks = verifiedEvents(t, db)
		if len(walks) != 2 || walks[1].Outcome != audit.OutcomeFailure || walks[1].TargetID != "3" || !strings.Contains(walks[1].Details, `"broken_at":3`) {
			t.Fatalf("recorded walks after the edit: %+v", walks)
		}
		st, err = db.AuditStatus(ctx)
		if err != nil || st.Verified == nil || st.Verified.BrokenAt != 3 || !strings.Contains(st.Verified.Reason, "does not match its hash") {
			t.Fatalf("status after the broken walk: %+v %v", st.Verified, err)
		}
		msgs, err := db.Mail(ctx, pam.MailFilter{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var to []string
		for _, m := range msgs {
			to = append(to, m.Recipient)
			if m.Kind != mail.KindChainBroken || !strings.Contains(m.Subject, "broken at event 3") || !strings.Contains(m.Text, "/audit/3") ||
				!strings.Contains(m.Text, "elevate audit verify") {
				t.Errorf("message to %s: %s\n%s", m.Recipient, m.Subject, m.Text)
			}
		}
		slices.Sort(to)
		if want := []string{"audrey@example.com", "soc@example.com"}; !slices.Equal(to, want) {
			t.Fatalf("the break was mailed to %v, want %v", to, want)
		}

		// The same break found again within a day is recorded but not mailed again; after a
		// day it is.
		mails := func() int {
			t.Helper()
			msgs, err := db.Mail(ctx, pam.MailFilter{Limit: 50})
			if err != nil {
				t.Fatal(err)
			}
			return len(msgs)
		}
		clock.Advance(time.Hour)
		if v, err := svc.VerifyChain(ctx, audit.System, nil); err != nil || v.Broken == nil {
			t.Fatalf("second walk: %+v %v", v, err)
		}
		if n := mails(); n != 2 {
			t.Fatalf("%d messages after the same break an hour later, want the first 2", n)
		}
		clock.Advance(admin.ChainBreakMailEvery)
		if _, err := svc.VerifyChain(ctx, audit.System, nil); err != nil {
			t.Fatal(err)
		}
		if n := mails(); n != 4 {
			t.Fatalf("%d messages a day later, want 4", n)
		}
		if n := len(verifiedEvents(t, db)); n != 4 {
			t.Fatalf("%d walks recorded, want 4", n)
		}
	})
}

// A checkpoint the chain does not hold, on a chain that holds on its own, is the walker's to
// judge (mistyped, or taken from another chain): the walk is recorded as holding, with the
// checkpoint's failure, and nobody is mailed.
func TestVerifyChainWithAMissedCheckpoint(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db, _, svc := chainWorld(t, dialect)
		ctx := context.Background()
		ada := mustUser(t, svc, "ada@example.com", true)
		if _, _, err := svc.CreateUser(ctx, as(ada), "audrey@example.com", "Audrey Auditor", false, true); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		wrong := audit.Head{Seq: 1, Hash: strings.Repeat("0", 64)}
		v, err := svc.VerifyChain(ctx, audit.CLI, &wrong)
		if err != nil || v.Broken != nil || v.CheckpointMissed == nil || v.CheckpointMissed.Seq != 1 || v.Events == 0 {
			t.Fatalf("walk with a wrong checkpoint: %+v %v", v, err)
		}
		walks := verifiedEvents(t, db)
		if len(walks) != 1 || walks[0].Outcome != audit.OutcomeSuccess || !strings.Contains(walks[0].Details, "checkpoint_missed") {
			t.Fatalf("recorded walks: %+v", walks)
		}
		if msgs, err := db.Mail(ctx, pam.MailFilter{Limit: 50}); err != nil || len(msgs) != 0 {
			t.Fatalf("a missed checkpoint was mailed: %d %v", len(msgs), err)
		}
	})
}

// With no security address and no auditor, a broken chain is mailed to the enabled
// administrators, so the news reaches someone.
func TestChainBreakWithoutAuditorsGoesToAdministrators(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db, _, svc := chainWorld(t, dialect)
		ctx := context.Background()
		ada := mustUser(t, svc, "ada@example.com", true)
		mustUser(t, svc, "rhea@example.com", false)
		if _, err := db.SealWaiting(ctx); err != nil {
			t.Fatal(err)
		}
		editEvent(t, db, dialect, 1)
		if v, err := svc.VerifyChain(ctx, audit.System, nil); err != nil || v.Broken == nil {
			t.Fatalf("walk over an edited event: %+v %v", v, err)
		}
		msgs, err := db.Mail(ctx, pam.MailFilter{Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		var to []string
		for _, m := range msgs {
			if m.Kind == mail.KindChainBroken {
				to = append(to, m.Recipient)
			}
		}
		if !slices.Equal(to, []string{ada.Email}) {
			t.Fatalf("the break was mailed to %v, want the administrator alone", to)
		}
	})
}

// The scheduled walk happens once a period whichever process asks: the first ask on a database
// starts the clock, asks within the period walk nothing, and the first ask once it is due walks.
func TestVerifyChainWhenDueWalksOncePerPeriod(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db := testenv.Store(t, dialect)
		clock := testenv.NewClock()
		ctx := context.Background()
		one, other := admin.New(db, clock.Now), admin.New(db, clock.Now)
		walk := func(svc *admin.Service) bool {
			t.Helper()
			ok, err := svc.VerifyChainWhenDue(ctx, 24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if walk(one) || walk(other) || len(verifiedEvents(t, db)) != 0 {
			t.Fatal("a walk before the first period passed")
		}
		clock.Advance(24 * time.Hour)
		if !walk(other) || walk(one) {
			t.Fatal("the due walk did not happen exactly once")
		}
		clock.Advance(23 * time.Hour)
		// A look that is not due costs two statements: the clock's row is there, its time not yet.
		before := db.Counts().Statements
		if walk(one) {
			t.Fatal("a second walk within the period")
		}
		if n := db.Counts().Statements - before; n != 2 {
			t.Fatalf("a look that was not due took %d statements, want 2", n)
		}
		clock.Advance(time.Hour)
		if !walk(one) {
			t.Fatal("no walk a period after the last one")
		}
		if n := len(verifiedEvents(t, db)); n != 2 {
			t.Fatalf("%d walks recorded, want 2", n)
		}
	})
}

// A walk asked for on a page runs under the server's background context: WaitWalks waits for
// it, one a minute may be asked for, and one whose background was cancelled (the server
// stopping) records nothing.
func TestWalkChainSoonRunsUnderTheBackground(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		db, clock, svc := chainWorld(t, dialect)
		ctx := context.Background()
		bg, stop := context.WithCancel(ctx)
		defer stop()
		svc.SetBackground(bg)
		ask := func() bool {
			t.Helper()
			started, err := svc.WalkChainSoon(ctx, audit.CLI, nil)
			if err != nil {
				t.Fatal(err)
			}
			return started
		}
		if !ask() {
			t.Fatal("the first walk asked for did not start")
		}
		svc.WaitWalks()
		if n := len(verifiedEvents(t, db)); n != 1 {
			t.Fatalf("%d walks recorded after WaitWalks, want 1", n)
		}
		if ask() {
			t.Fatal("a second walk started within the minute")
		}
		clock.Advance(admin.AskedWalkEvery)
		stop()
		if !ask() {
			t.Fatal("a walk asked for a minute later did not start")
		}
		svc.WaitWalks()
		if n := len(verifiedEvents(t, db)); n != 1 {
			t.Fatalf("a walk whose background was cancelled was recorded: %d walks", n)
		}
	})
}
