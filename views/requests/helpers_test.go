package requests

import "testing"

// The inbox's counts stop at their cap, and the lines say so rather than print the cap.
func TestCountLinesPastTheCap(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{waitingLine(1, 100), "1 request waits for you."},
		{waitingLine(100, 100), "100 requests wait for you."},
		{waitingLine(101, 100), "More than 100 requests wait for you."},
		{waitingLine(101, 0), "101 requests wait for you."},
		{matchLine(3, 25, 100), "3 of 25 waiting requests match."},
		{matchLine(1, 101, 100), "1 of more than 100 waiting requests matches."},
		{matchLine(101, 101, 100), "More than 100 waiting requests match."},
		{waitingCount(101, 100), "the waiting requests"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
