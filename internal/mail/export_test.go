package mail

// SetBeforeCommit makes w call f inside each recording transaction, just before it commits.
func SetBeforeCommit(w *Worker, f func()) { w.beforeCommit = f }

// SetAfterClaim makes w call f after each claim that took messages, with the claim's number.
func SetAfterClaim(w *Worker, f func(n int)) { w.afterClaim = f }
