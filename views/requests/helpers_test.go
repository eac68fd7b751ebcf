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

// A bulk decision on one request speaks of that one request, not of "each" and "all of them".
func TestBulkWordsForOneRequest(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{bulkLine("deny", 1), "You deny this request, with its own audit event and mail to its requester; if someone else decided it meanwhile, it is left as it is."},
		{bulkLine("approve", 3), "You approve these 3 requests. Each is decided on its own, with its own audit event and mail to its requester; one decided meanwhile by someone else is left as it is."},
		{bulkComment(1), "Comment"},
		{bulkComment(2), "Comment for all of them"},
		{bulkHelp("deny", 1), "Needed when denying: the requester sees it."},
		{bulkHelp("approve", 2), "Optional; every requester sees it."},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
