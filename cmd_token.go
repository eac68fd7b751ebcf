package main

import (
	"context"
	"flag"
	"fmt"
)

// token manages target systems' check tokens from the shell, for an operator provisioning a
// system before anyone has signed in (or from configuration management).
func (e *env) token(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create-check" {
		return usageError{"token needs a subcommand: create-check --name SYSTEM"}
	}
	fs := flag.NewFlagSet("token create-check", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	name := fs.String("name", "", "the target system that will use the token")
	if err := fs.Parse(args[1:]); err != nil {
		return usageError{err.Error()}
	}
	if *name == "" || fs.NArg() > 0 {
		return usageError{"token create-check needs --name SYSTEM and nothing else"}
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
	t, secret, err := svc.CreateCheckToken(ctx, *name, cliActor)
	if err != nil {
		return userFacing(err)
	}
	// The secret alone on standard output, so a script can capture it; the note on stderr.
	fmt.Fprintf(e.stderr, "Check token for %s created (id %s). It is shown once; store it on the target system as ELEVATE_CHECK_TOKEN.\n", t.Name, t.ID)
	fmt.Fprintln(e.stdout, secret)
	return nil
}
