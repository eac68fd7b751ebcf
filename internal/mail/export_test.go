package mail

// SetBeforeCommit makes w call f inside each recording transaction, just before it commits.
func SetBeforeCommit(w *Worker, f func()) { w.beforeCommit = f }
