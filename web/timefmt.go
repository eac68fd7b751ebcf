package web

import (
	"time"

	"github.com/elevate-pam/elevate/internal/pam"
)

// userLocation is the viewer's time zone, UTC when unknown.
func userLocation(u pam.User) *time.Location {
	if loc, err := time.LoadLocation(u.TimeZone); err == nil && u.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// formatTime shows a time in the viewer's zone, with the zone's name.
func formatTime(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("2 Jan 2006 15:04 MST")
}
