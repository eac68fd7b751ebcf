package pam

import (
	"sync"
	"time"
)

// zones caches time.LoadLocation, which reads and parses the zone's file on every call (only
// UTC and Local are kept by the time package), by name; a name that does not load is not kept.
// Every page and mail that shows a time asks for its reader's zone, so reading the file each
// time cost every signed-in request a file read. People share a few dozen zones at most.
var zones sync.Map

// Zone returns the time zone named name (an IANA name such as Europe/Paris, or UTC), as
// time.LoadLocation does, loading each name once.
func Zone(name string) (*time.Location, error) {
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// ZoneOrUTC is a person's time zone for showing times: the zone named name, or UTC when the
// name is empty or does not load.
func ZoneOrUTC(name string) *time.Location {
	if loc, err := Zone(name); err == nil && name != "" {
		return loc
	}
	return time.UTC
}
