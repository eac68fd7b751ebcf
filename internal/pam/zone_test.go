package pam

import "testing"

// A zone is loaded once and then shared; a name that does not load stays an error.
func TestZoneLoadsEachNameOnce(t *testing.T) {
	a, err := Zone("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Zone("Europe/Paris")
	if err != nil || a != b || a.String() != "Europe/Paris" {
		t.Fatalf("second load: %v %v (same %v)", b, err, a == b)
	}
	for range 2 {
		if _, err := Zone("Mars/Olympus_Mons"); err == nil {
			t.Fatal("an unknown zone loaded")
		}
	}
}

// Times show in UTC for a person with no zone or one that does not load.
func TestZoneOrUTC(t *testing.T) {
	for name, want := range map[string]string{"": "UTC", "Mars/Olympus_Mons": "UTC", "Europe/Paris": "Europe/Paris"} {
		if got := ZoneOrUTC(name).String(); got != want {
			t.Errorf("ZoneOrUTC(%q) = %s, want %s", name, got, want)
		}
	}
}
