package web

import (
	"strings"
	"testing"

	"github.com/elevate-pam/elevate/internal/admin"
)

// Closing an access review says what it takes away, with no "0 grants" when it takes none.
func TestCloseWarningWords(t *testing.T) {
	const tail = ". Reviewers can no longer decide, and this cannot be undone."
	for _, c := range []struct {
		in   admin.Closing
		want string
	}{
		{admin.Closing{}, "Closing now removes no membership"},
		{admin.Closing{Memberships: 1}, "Closing now removes 1 membership, which ends no access"},
		{admin.Closing{Memberships: 2, Ended: admin.Ended{Cancelled: 1}}, "Closing now removes 2 memberships: 1 pending request cancelled"},
		{admin.Closing{Memberships: 2, Ended: admin.Ended{Revoked: 1, Cancelled: 2}},
			"Closing now removes 2 memberships: 1 grant in force or scheduled ended at once and 2 pending requests cancelled"},
	} {
		if got := closeWarning(c.in); got != c.want+tail {
			t.Errorf("%+v: %q, want %q", c.in, got, c.want+tail)
		}
	}
}

// What ending memberships took away is told without zeros.
func TestEndedPartsLeaveOutNone(t *testing.T) {
	for _, c := range []struct {
		in   admin.Ended
		want string
	}{
		{admin.Ended{}, ""},
		{admin.Ended{Revoked: 1}, "1 grant revoked"},
		{admin.Ended{Cancelled: 2}, "2 pending requests cancelled"},
		{admin.Ended{Revoked: 2, Cancelled: 1}, "2 grants revoked|1 pending request cancelled"},
	} {
		if got := strings.Join(endedParts(c.in, grantNouns, "revoked"), "|"); got != c.want {
			t.Errorf("%+v: %q, want %q", c.in, got, c.want)
		}
	}
}
