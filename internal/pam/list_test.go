package pam_test

import (
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
)

func TestCursorRoundTripsAndRefusesForeignText(t *testing.T) {
	at := time.Date(2026, 3, 2, 14, 30, 0, 123456000, time.FixedZone("CET", 3600))
	c := pam.CursorAt(at, "0b7f2c3e-1111-2222-3333-444455556666")
	got, err := pam.ParseCursor(c.String())
	if err != nil || got == nil || !got.At.Equal(at) || got.ID != c.ID || got.At.Location() != time.UTC {
		t.Fatalf("round trip of %q: %+v %v", c.String(), got, err)
	}
	if got, err := pam.ParseCursor(""); got != nil || err != nil {
		t.Fatalf("empty cursor: %+v %v", got, err)
	}
	for _, bad := range []string{"nonsense", "2026-03-02T14:30:00Z", "2026-03-02T14:30:00Z|", "yesterday|abc",
		"1700000000000000000.abc", "2026-03-02T14:30:00Z|" + string(make([]byte, 65))} {
		got, err := pam.ParseCursor(bad)
		if got != nil || err != pam.ErrBadCursor || pam.ErrorCode(err) != pam.EINVALID {
			t.Errorf("ParseCursor(%q) = %+v, %v; want ErrBadCursor", bad, got, err)
		}
	}
}
