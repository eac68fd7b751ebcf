package main

import (
	"context"
	"fmt"

	"github.com/elevate-pam/elevate/internal/audit"
)

func (e *env) audit(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "verify" {
		return usageError{"audit needs a subcommand: verify"}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	var v audit.Verifier
	for ev, err := range db.AllAuditEvents(ctx) {
		if err != nil {
			return err
		}
		if err := v.Next(ev); err != nil {
			fmt.Fprintf(e.stderr, "audit chain broken: %v\n", err)
			return errFailed
		}
	}
	head, err := db.AuditHead(ctx)
	if err != nil {
		return err
	}
	if head != v.Head() && !(head.Seq == 0 && v.Count == 0) {
		fmt.Fprintf(e.stderr, "audit chain broken: the head says event %d but the chain ends at event %d (events were removed from the end)\n", head.Seq, v.Head().Seq)
		return errFailed
	}
	fmt.Fprintf(e.stdout, "audit chain ok: %d events, head %d %s\n", v.Count, v.Head().Seq, v.Head().Hash)
	return nil
}
