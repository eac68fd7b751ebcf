package main

import (
	"context"
	"fmt"
)

// setupLink prints a fresh one-time setup URL for the first administrator on stderr, outside
// the logger, and ends any earlier one. Once Elevate is set up it refuses and changes nothing.
func (e *env) setupLink(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("setup-link takes no arguments, got %q", args[0])}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	svc, _, err := e.services(ctx, db)
	if err != nil {
		return err
	}
	tok, err := svc.ReissueSetupToken(ctx, cliActor)
	if err != nil {
		return userFacing(err)
	}
	e.printLink("Open this link once to create the first administrator (any earlier setup link no longer works): ", e.setupURL(tok))
	return nil
}
