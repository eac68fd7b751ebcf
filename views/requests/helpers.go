// Package requests holds the pages where people ask for access and approvers decide.
package requests

import "fmt"

// waitingLine says how many requests wait: "1 request waits for you", "25 requests wait for you".
func waitingLine(n int) string {
	if n == 1 {
		return "1 request waits for you."
	}
	return fmt.Sprintf("%d requests wait for you.", n)
}

func dotClass(kind string) string {
	switch kind {
	case "approved", "started":
		return "bg-emerald-500"
	case "denied", "revoked":
		return "bg-rose-500"
	case "timed_out":
		return "bg-orange-500"
	case "ended":
		return "bg-sky-600"
	case "withdrawn", "expired", "cancelled":
		return "bg-slate-400"
	}
	return "bg-indigo-500"
}

func pillClass(active bool) string {
	if active {
		return "inline-block rounded-full bg-indigo-700 px-3 py-1 text-sm font-medium text-white"
	}
	return "inline-block rounded-full bg-white px-3 py-1 text-sm font-medium text-slate-700 ring-1 ring-inset ring-slate-300 hover:bg-slate-50"
}

func scopeClass(selected bool) string {
	if selected {
		return "block rounded-md bg-indigo-50 px-3 py-2 ring-1 ring-indigo-300"
	}
	return "block rounded-md px-3 py-2 hover:bg-slate-50"
}
