package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/webhook"
)

func (e *env) audit(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"audit needs a subcommand: verify or export"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("audit "+sub, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var (
		checkpoint, format, since, until string
		cp                               *audit.Head
		f                                audit.Filter
	)
	switch sub {
	case "verify":
		fs.StringVar(&checkpoint, "checkpoint", "", "a head saved earlier, SEQ:HASH, that the chain must still contain")
	case "export":
		fs.StringVar(&format, "format", "", "csv or jsonl")
		fs.StringVar(&since, "since", "", "only events at or after this time (RFC 3339 or 2006-01-02[T15:04], UTC)")
		fs.StringVar(&until, "until", "", "only events before this time")
	default:
		return usageError{fmt.Sprintf("unknown audit subcommand %q: use verify or export", sub)}
	}
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("audit %s takes no arguments, got %q", sub, fs.Arg(0))}
	}
	if checkpoint != "" {
		h, err := audit.ParseCheckpoint(checkpoint)
		if err != nil {
			return usageError{err.Error()}
		}
		cp = &h
	}
	if sub == "export" {
		if format != audit.FormatCSV && format != audit.FormatJSONL {
			return usageError{"audit export needs --format csv or --format jsonl"}
		}
		var err error
		if f.Since, err = audit.ParseTime(since, time.UTC); err != nil {
			return usageError{"--since: " + err.Error()}
		}
		if f.Until, err = audit.ParseTime(until, time.UTC); err != nil {
			return usageError{"--until: " + err.Error()}
		}
	}

	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()

	if sub == "export" {
		w := bufio.NewWriterSize(e.stdout, 64<<10)
		x, err := audit.NewExporter(w, format)
		if err != nil {
			return err
		}
		for ev, err := range db.ExportAuditEvents(ctx, f) {
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := x.Write(ev); err != nil {
				return fmt.Errorf("export: %w", err)
			}
		}
		if err := x.Close(); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return w.Flush()
	}

	// The walk is recorded in the trail (audit.verified), sent to the webhook endpoints that ask
	// for it, and a broken chain is mailed, as the scheduled walk does.
	now := func() time.Time { return time.Now().UTC() }
	secret, err := e.secret(ctx, db)
	if err != nil {
		return err
	}
	svc := admin.New(db, now)
	svc.SetChainMailer(mail.NewOutbox(db, e.cfg, now))
	svc.SetChainNotifier(webhook.New(db, secret, e.cfg.BaseURL.String(), now))
	v, err := svc.VerifyChain(ctx, cliActor, cp)
	if err != nil && !errors.Is(err, admin.ErrWalkNotRecorded) {
		return err
	}
	if v.Broken != nil {
		fmt.Fprintf(e.stderr, "audit chain broken at event %d: %s\n", v.Broken.Seq, v.Broken.Reason)
		if err != nil {
			fmt.Fprintf(e.stderr, "%v\n", err)
		}
		return errFailed
	}
	fmt.Fprintf(e.stdout, "audit chain ok: %d events, head %d %s\n", v.Events, v.Head.Seq, v.Head.Hash)
	if v.Waiting > 0 {
		fmt.Fprintf(e.stdout, "%d stored events wait to be sealed\n", v.Waiting)
	}
	if v.Events > 0 {
		fmt.Fprintf(e.stdout, "checkpoint for a later verify: %s\n", v.Head)
	}
	if err != nil {
		return exitStatus{code: 2, msg: err.Error()}
	}
	if m := v.CheckpointMissed; m != nil {
		// The chain holds on its own but is not the one the checkpoint was taken from (or the
		// checkpoint was mistyped): whoever kept it decides which.
		fmt.Fprintf(e.stderr, "checkpoint %d not in this chain: event %d %s\n", cp.Seq, m.Seq, m.Reason)
		return errFailed
	}
	if cp != nil {
		fmt.Fprintf(e.stdout, "checkpoint %d found in the chain\n", cp.Seq)
	}
	return nil
}
