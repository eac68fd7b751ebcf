package store

// m0022 leaves unsealed events out of the search indexes. A change stores its event unsealed
// (seq NULL) and the sealer sets seq once; seq is in every search index, so the sealing update
// can never be heap-only and wrote each index a second time. Indexed only WHERE seq IS NOT NULL,
// an unsealed insert touches the primary key and audit_events_unsealed_idx alone, and each search
// index gets the event once, at its seal. Every read of these indexes names seq with a strict
// comparison (a keyset range, seq = ?) or IS NOT NULL, which implies the predicate on both
// databases. The indexes keep their names.
var m0022 = func() []string {
	idx := []struct{ name, cols string }{
		{"audit_events_subject_seq_idx", "subject_id, seq"},
		{"audit_events_at_seq_idx", "at, seq"},
		{"audit_events_actor_id_seq_idx", "actor_id, seq"},
		{"audit_events_actor_name_seq_idx", "actor_name, seq"},
		{"audit_events_action_seq_idx", "action, seq"},
		{"audit_events_target_seq_idx", "target_type, target_id, seq"},
		{"audit_events_target_type_seq_idx", "target_type, seq"},
		{"audit_events_target_id_seq_idx", "target_id, seq"},
		{"audit_events_request_seq_idx", "request_id, seq"},
		{"audit_events_outcome_seq_idx", "outcome, seq"},
	}
	stmts := []string{
		`DROP INDEX audit_events_seq_idx`,
		`CREATE UNIQUE INDEX audit_events_seq_idx ON audit_events (seq) WHERE seq IS NOT NULL`,
	}
	for _, i := range idx {
		stmts = append(stmts, `DROP INDEX `+i.name,
			`CREATE INDEX `+i.name+` ON audit_events (`+i.cols+`) WHERE seq IS NOT NULL`)
	}
	return stmts
}()
