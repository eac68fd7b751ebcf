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
