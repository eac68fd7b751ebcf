package layout

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

func csrfHeader(token string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
	return string(b)
}

func initial(name string) string {
	r, _ := utf8.DecodeRuneInString(strings.TrimSpace(name))
	if r == utf8.RuneError {
		return "?"
	}
	return strings.ToUpper(string(r))
}

func flashClass(kind string) string {
	switch kind {
	case "success":
		return "bg-emerald-50 text-emerald-900 ring-emerald-200"
	case "error":
		return "bg-rose-50 text-rose-900 ring-rose-200"
	default:
		return "bg-sky-50 text-sky-900 ring-sky-200"
	}
}

func navClass(active bool) string {
	if active {
		return "nav-link nav-link-active"
	}
	return "nav-link"
}

// badgeText is a navigation count as shown: the count, or "99+" from 100 on (where the
// count stops counting).
func badgeText(n int) string {
	if n >= 100 {
		return "99+"
	}
	return strconv.Itoa(n)
}

// approvalsCount is the count the navigation's approvals item carries, for the phone's closed
// menu button (so an approver sees that something waits without opening the menu).
func approvalsCount(m Meta) int {
	for _, n := range m.Nav {
		if n.CountID != "" {
			return n.Badge
		}
	}
	return 0
}
