// Package layout holds the page frame every Elevate screen is drawn in.
package layout

// Meta is what the frame needs from every page: title, viewer, CSRF token, flash, navigation.
type Meta struct {
	Title     string
	CSRF      string
	User      *User
	Flash     *Flash
	Nav       []NavItem
	RequestID string
	// MailQueued says no SMTP server is set up: mail waits in the outbox, so pages must not
	// say anyone was mailed.
	MailQueued bool
}

// User is the signed-in viewer as the frame shows them.
type User struct {
	Name     string
	Email    string
	TimeZone string
}

// Flash is a one-time message shown after a redirect. Kind is success, error or info.
type Flash struct {
	Kind string
	Text string
}

// NavItem is one entry of the sidebar; the web layer decides which ones a viewer sees.
type NavItem struct {
	Label  string
	Href   string
	Active bool
	Badge  int
	TestID string
	// CountID names the item's count (ApprovalsCountID), which stays on the page at zero so
	// that an inline decision can update it; empty for an item whose count never changes in place.
	CountID string
}

// ApprovalsCountID is the id stem of the navigation's approvals count.
const ApprovalsCountID = "count"
