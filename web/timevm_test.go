package web

import (
	"math/rand/v2"
	"testing"
	"time"
)

// timeVM cuts its short and ISO forms from the full ones: they must read as formatting them
// would, in every zone and for any year.
func TestTimeVMMatchesFormatting(t *testing.T) {
	zones := []*time.Location{time.UTC, time.FixedZone("", -(3*3600 + 30*60))}
	for _, name := range []string{"Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe"} {
		if loc, err := time.LoadLocation(name); err == nil {
			zones = append(zones, loc)
		}
	}
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	times := []time.Time{now, time.Date(9999, 12, 31, 23, 59, 59, 999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(5, 1, 1, 0, 0, 0, 0, time.UTC), {}}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		times = append(times, time.Unix(r.Int64N(4_000_000_000)-1_000_000_000, r.Int64N(1e9)))
	}
	for _, loc := range zones {
		for _, at := range times {
			got := timeVM(at, now, loc)
			short, iso := at.In(loc).Format("2006-01-02 15:04"), at.UTC().Format(time.RFC3339)
			if got.Short != short || got.ISO != iso {
				t.Fatalf("%v in %v: short %q iso %q, want %q %q", at, loc, got.Short, got.ISO, short, iso)
			}
		}
	}
}

// A time ago or ahead reads in words; only a past moment is "just now", a moment under a minute
// ahead (a delivery's next try) is "in under 1 min".
func TestRelativeReadsInWords(t *testing.T) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		0: "just now", 30 * time.Second: "just now", -20 * time.Second: "in under 1 min", -59 * time.Second: "in under 1 min",
		-time.Minute: "in 1 min", 3 * time.Minute: "3 min ago",
		-3 * time.Minute: "in 3 min", 2*time.Hour + 10*time.Minute: "2 h 10 min ago", 5 * time.Hour: "5 h ago",
		30 * time.Hour: "1 day ago", -30 * time.Hour: "in 1 day", 100 * time.Hour: "4 days ago",
	} {
		if got := relative(now.Add(-d), now); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
	}
}
