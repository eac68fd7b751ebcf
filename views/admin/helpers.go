// Package admin holds the administrators' pages.
package admin

func tabClass(active bool) string {
	if active {
		return "inline-block border-b-2 border-indigo-700 px-2.5 py-2 text-sm font-semibold text-indigo-800"
	}
	return "inline-block border-b-2 border-transparent px-2.5 py-2 text-sm font-medium text-slate-600 hover:border-slate-300 hover:text-slate-900"
}

func actionClass(danger bool) string {
	if danger {
		return "card max-w-2xl border-l-4 border-rose-600 p-6"
	}
	return "card max-w-2xl p-6"
}

func buttonClass(danger bool) string {
	if danger {
		return "btn-danger"
	}
	return "btn-secondary"
}

// submitClass is a form's submit button: red when the form takes something away.
func submitClass(danger bool) string {
	if danger {
		return "btn-danger"
	}
	return "btn-primary"
}

func stateClass(active bool) string {
	if active {
		return "inline-flex items-center gap-1 rounded-full bg-indigo-700 px-3 py-1 text-sm font-medium text-white focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2"
	}
	return "inline-flex items-center gap-1 rounded-full bg-white px-3 py-1 text-sm font-medium text-slate-700 ring-1 ring-inset ring-slate-300 hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500"
}
