package auth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/testenv"
)

// A signed-in request reads its session and user in one statement, and writes the idle clock
// only when the stored time is a minute old or more.
func TestAuthenticateReadsSessionAndUserInOneStatement(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db := testenv.Store(t, dialect)
		clock := testenv.NewClock()
		sessions := auth.NewSessionStore(db, []byte("0123456789abcdef0123456789abcdef"), 30*time.Minute, 12*time.Hour, false, clock.Now)
		svc := auth.NewService(db, sessions, clock.Now)
		ana := pam.User{ID: "u-ana", Email: "ana@example.com", Name: "Ana", TimeZone: "Europe/Paris", Admin: true, CreatedAt: clock.Now()}
		if err := db.CreateUser(ctx, ana, ""); err != nil {
			t.Fatal(err)
		}
		cookie, err := sessions.Start(ctx, db, httptest.NewRequest(http.MethodGet, "/login", nil), ana.ID, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		authenticateAs := func(method string) (auth.Viewer, bool, store.Counts) {
			t.Helper()
			r := httptest.NewRequest(method, "/", nil)
			r.AddCookie(cookie)
			before := db.Counts()
			v, ok, err := svc.Authenticate(r)
			if err != nil {
				t.Fatal(err)
			}
			after := db.Counts()
			return v, ok, store.Counts{Statements: after.Statements - before.Statements, RoundTrips: after.RoundTrips - before.RoundTrips}
		}
		authenticate := func() (pam.User, bool, store.Counts) {
			t.Helper()
			v, ok, n := authenticateAs(http.MethodGet)
			return v.User, ok, n
		}

		v, ok, n := authenticateAs(http.MethodGet)
		u := v.User
		if !ok || u.ID != ana.ID || u.Email != ana.Email || u.Name != ana.Name || u.TimeZone != "Europe/Paris" || !u.Admin || !u.Active() {
			t.Fatalf("signed in as %+v (%v)", u, ok)
		}
		if n.Statements != 1 || n.RoundTrips != 1 {
			t.Fatalf("a request right after sign-in cost %+v, want one statement", n)
		}
		// The frame came with it: the enrolment setting and the approver and MFA flags, read
		// afresh by every request.
		if want := (auth.Frame{Read: true}); v.Frame != want {
			t.Fatalf("frame %+v, want %+v", v.Frame, want)
		}
		if err := db.SetValue(ctx, auth.RequireMFAEnrolmentKey, "true", clock.Now()); err != nil {
			t.Fatal(err)
		}
		v, ok, n = authenticateAs(http.MethodPost)
		if want := (auth.Frame{Read: true, EnrolmentRequired: true}); !ok || v.Frame != want || n.Statements != 1 {
			t.Fatalf("after the setting: frame %+v (%v) in %+v, want %+v in one statement", v.Frame, ok, n, want)
		}
		clock.Advance(59 * time.Second)
		if _, ok, n = authenticate(); !ok || n.Statements != 1 {
			t.Fatalf("59 s after sign-in: signed in %v, %+v, want one statement and no write", ok, n)
		}
		clock.Advance(2 * time.Second)
		if _, ok, n = authenticate(); !ok || n.Statements != 2 {
			t.Fatalf("61 s after sign-in: signed in %v, %+v, want the read and one write of the idle clock", ok, n)
		}
		if _, ok, n = authenticate(); !ok || n.Statements != 1 {
			t.Fatalf("right after the idle clock moved: signed in %v, %+v, want one statement", ok, n)
		}
		// The idle clock moved at 61 s: 30 minutes from then the session has ended.
		clock.Advance(30*time.Minute - time.Second)
		if _, ok, _ = authenticate(); !ok {
			t.Fatal("the session ended before 30 idle minutes")
		}
		clock.Advance(30 * time.Minute)
		if _, ok, _ = authenticate(); ok {
			t.Fatal("the session outlived 30 idle minutes")
		}

		// A disabled user is cut off at the very next request, and their sessions end.
		cookie, err = sessions.Start(ctx, db, httptest.NewRequest(http.MethodGet, "/login", nil), ana.ID, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ = authenticate(); !ok {
			t.Fatal("a fresh session is not signed in")
		}
		if err := db.DisableUser(ctx, ana.ID, clock.Now()); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ = authenticate(); ok {
			t.Fatal("a disabled user is still signed in")
		}
		if err := db.UpdateUserFlags(ctx, ana, clock.Now()); err != nil { // enabled again
			t.Fatal(err)
		}
		if _, ok, _ = authenticate(); ok {
			t.Fatal("the disabled user's session came back with the account")
		}
	})
}
