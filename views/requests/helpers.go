// Package requests holds the pages where people ask for access and approvers decide.
package requests

import (
	"fmt"
	"strconv"
)

// waitingLine says how many requests wait: "1 request waits for you", "25 requests wait for
// you", or "More than 100 requests wait for you." past a count's cap (0: none).
func waitingLine(n, countCap int) string {
	switch {
	case over(n, countCap):
		return fmt.Sprintf("More than %d requests wait for you.", countCap)
	case n == 1:
		return "1 request waits for you."
	}
	return fmt.Sprintf("%d requests wait for you.", n)
}

// noMatchLine is what a narrowed inbox says when its filter keeps none of the waiting requests.
const noMatchLine = "No waiting request matches these filters."

// noneWaitLine is what the inbox says when nothing waits for the viewer: a mail tells them of
// the next one, or, with no mail server set up, the inbox shows it as it comes.
func noneWaitLine(mailQueued bool) string {
	if mailQueued {
		return "No requests wait for you. New ones show here as they come."
	}
	return "No requests wait for you. You will get a mail when one does."
}

// waitingCount is "1 waiting request", "25 waiting requests" or "the waiting requests" past
// a count's cap.
func waitingCount(n, countCap int) string {
	switch {
	case over(n, countCap):
		return "the waiting requests"
	case n == 1:
		return "1 waiting request"
	}
	return fmt.Sprintf("%d waiting requests", n)
}

// matchLine says how many waiting requests a filter keeps: "3 of 25 waiting requests match.",
// "3 of more than 100 waiting requests match." or "More than 100 waiting requests match.".
func matchLine(matched, total, countCap int) string {
	of := waitingCount(total, countCap)
	if over(total, countCap) {
		of = fmt.Sprintf("more than %d waiting requests", countCap)
	}
	switch {
	case over(matched, countCap):
		return fmt.Sprintf("More than %d waiting requests match.", countCap)
	case matched == 1:
		return fmt.Sprintf("1 of %s matches.", of)
	}
	return fmt.Sprintf("%d of %s match.", matched, of)
}

// over reports whether a count read up to countCap+1 went past countCap (0: no cap).
func over(n, countCap int) bool { return countCap > 0 && n > countCap }

// rowKey is an id unique on the page for row i's cell: "q3".
func rowKey(prefix string, i int) string { return prefix + strconv.Itoa(i) }

// rowCell is the out-of-band target of the n-th cell of request id's inbox line: "outerHTML:"
// and a selector htmx looks up in the page. The line carries the id only once its card was
// opened (static/js/app.js names it then), which keeps the inbox's first page small.
func rowCell(id string, n int) string {
	return `outerHTML:#line-` + id + ` > :nth-child(` + strconv.Itoa(n) + `)`
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

// bulkLine says what a bulk decision will do: "You approve these 12 requests, each on its own…".
func bulkLine(decision string, n int) string {
	var what string
	if n == 1 {
		what = "this request"
	} else {
		what = fmt.Sprintf("these %d requests", n)
	}
	verb := "approve"
	if decision == "deny" {
		verb = "deny"
	}
	if n == 1 {
		return fmt.Sprintf("You %s %s, with its own audit event and mail to its requester; if someone else decided it meanwhile, it is left as it is.", verb, what)
	}
	return fmt.Sprintf("You %s %s. Each is decided on its own, with its own audit event and mail to its requester; one decided meanwhile by someone else is left as it is.", verb, what)
}

func bulkHelp(decision string, n int) string {
	who := "every requester sees it."
	if n == 1 {
		who = "the requester sees it."
	}
	if decision == "deny" {
		return "Needed when denying: " + who
	}
	return "Optional; " + who
}

// bulkComment labels the comment field: one comment for one request, or for all of them.
func bulkComment(n int) string {
	if n == 1 {
		return "Comment"
	}
	return "Comment for all of them"
}

func bulkButton(decision string) string {
	if decision == "deny" {
		return "btn-danger sm:flex-1"
	}
	return "btn-primary bg-emerald-700 hover:bg-emerald-800 sm:flex-1"
}

// reviewLabel names an approve or deny button after the request it decides ("Approve Rhea
// Requester's request for Mailbox admin"), so a screen reader tells one card's buttons from
// another's.
func reviewLabel(verb string, vm CardVM) string {
	return verb + " " + vm.Requester + "'s request for " + vm.Scope
}

// tasksShown is how many of a card's tasks show before the rest fold under "Show N more".
const tasksShown = 3

// firstTasks is what a card's Covers shows unfolded.
func firstTasks(tasks []string) []string {
	if len(tasks) > tasksShown {
		return tasks[:tasksShown]
	}
	return tasks
}

// moreTasksLabel opens the folded rest of a card's tasks: "Show 5 more tasks".
func moreTasksLabel(vm CardVM) string {
	n := len(vm.Tasks) - tasksShown
	more := "more tasks"
	if n == 1 {
		more = "more task"
	}
	if vm.MoreTasks > 0 {
		return "Show " + strconv.Itoa(n) + " " + more + " and the rest"
	}
	return "Show " + strconv.Itoa(n) + " " + more
}

// onBehalf is what an inbox row adds to its scope's kind when the viewer decides it for an
// approver by delegation: " · on behalf of Olivia"; "" otherwise.
func onBehalf(name string) string {
	if name == "" {
		return ""
	}
	return " · on behalf of " + name
}

// emergencyValue is what the emergency review's reason field of one form (misuse or confirm)
// shows again: the typed text goes back to the form it came from.
func emergencyValue(vm CardVM, misuse bool) string {
	if vm.EmergencyMisuse != misuse {
		return ""
	}
	return vm.EmergencyReason
}

// emergencyError is the error beside the reason field of the form it came from.
func emergencyError(vm CardVM, misuse bool) string {
	if vm.EmergencyMisuse != misuse {
		return ""
	}
	return vm.EmergencyReasonError
}
