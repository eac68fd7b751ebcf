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

func TestRetry(t *testing.T) {
	r := pam.Retry{Base: 30 * time.Second, Max: time.Hour, For: 24 * time.Hour}
	if got := []time.Duration{r.Backoff(1), r.Backoff(2), r.Backoff(3), r.Backoff(20)}; got[0] != 30*time.Second || got[1] != time.Minute || got[2] != 2*time.Minute || got[3] != time.Hour {
		t.Fatalf("backoff: %v", got)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if s := r.After(0, nil, false, now); s.State != pam.MailRetrying || !s.Next.Equal(now.Add(30*time.Second)) || !s.GiveUp.Equal(now.Add(24*time.Hour)) {
		t.Fatalf("first failure: %+v", s)
	}
	if s := r.After(0, nil, true, now); s.State != pam.MailFailed || !s.Permanent {
		t.Fatalf("permanent: %+v", s)
	}
	last := now.Add(time.Minute)
	if s := r.After(3, &last, false, now); s.State != pam.MailFailed || s.Permanent {
		t.Fatalf("past its last chance: %+v", s)
	}
	if got := pam.CutBytes("héllo", 2); got != "h" {
		t.Fatalf("cut: %q", got)
	}
}
