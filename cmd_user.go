package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/webhook"
	"golang.org/x/term"
)

// cliActor is who shell commands act as on the audit trail.
var cliActor = audit.CLI

func (e *env) user(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError{"user needs a subcommand: create, list, disable or auditor"}
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	email := fs.String("email", "", "email address")
	name := fs.String("name", "", "full name")
	isAdmin := fs.Bool("admin", false, "make the user an administrator")
	auditor := fs.Bool("auditor", false, "let the user read the audit trail (create)")
	off := fs.Bool("off", false, "take the auditor flag away (auditor)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	switch sub {
	case "create":
		if *email == "" || *name == "" {
			return usageError{"user create needs --email and --name"}
		}
	case "disable", "auditor":
		if *email == "" {
			return usageError{"user " + sub + " needs --email"}
		}
	case "list":
	default:
		return usageError{fmt.Sprintf("unknown user subcommand %q", sub)}
	}

	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	// The shell changes users through the same use cases as /admin/users: the same guards
	// (the last enabled administrator stays) and the same audit actions.
	now := func() time.Time { return time.Now().UTC() }
	svc := admin.New(db, now)
	// Disabling a user ends what they had open (pending requests, grants), mailed and sent to
	// the webhook endpoints that ask for it, as on the pages.
	if sub == "disable" {
		secret, err := e.secret(ctx, db)
		if err != nil {
			return err
		}
		hooks := webhook.New(db, secret, e.cfg.BaseURL.String(), now)
		svc.SetRequestRules(access.New(db, now, access.Notifiers(mail.NewOutbox(db, e.cfg, now), hooks)))
	}
	switch sub {
	case "create":
		pw, err := e.readPassword()
		if err != nil {
			return err
		}
		u, err := svc.CreateUserWithPassword(ctx, cliActor, *email, *name, pw, *isAdmin)
		if err != nil {
			return userFacing(err)
		}
		fmt.Fprintf(e.stdout, "created %s (%s)%s\n", u.Email, u.ID, map[bool]string{true: " as administrator"}[u.Admin])
		if *auditor {
			if _, err := svc.ChangeUser(ctx, cliActor, u.ID, admin.MakeAuditor); err != nil {
				return userFacing(err)
			}
			fmt.Fprintf(e.stdout, "%s is an auditor\n", u.Email)
		}
	case "auditor":
		change := admin.MakeAuditor
		if *off {
			change = admin.RemoveAuditor
		}
		u, err := svc.ChangeUserByEmail(ctx, cliActor, *email, change)
		if err != nil {
			return userFacing(err)
		}
		if u.Auditor {
			fmt.Fprintf(e.stdout, "%s is an auditor\n", u.Email)
		} else {
			fmt.Fprintf(e.stdout, "%s is no longer an auditor\n", u.Email)
		}
	case "disable":
		u, err := svc.ChangeUserByEmail(ctx, cliActor, *email, admin.Disable)
		if err != nil {
			return userFacing(err)
		}
		fmt.Fprintf(e.stdout, "disabled %s; their sessions have ended\n", u.Email)
	case "list":
		return e.listUsers(ctx, db)
	}
	return nil
}

// userFacing turns a domain error into its readable message for the shell, without the
// wrapping's prefixes; its other problems stay with it (see run).
func userFacing(err error) error {
	var pe *pam.Error
	if errors.As(err, &pe) && pe.Code != pam.EINTERNAL {
		return pe
	}
	return err
}

func (e *env) listUsers(ctx context.Context, db *store.Store) error {
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EMAIL\tNAME\tROLES\tSTATUS")
	after := ""
	for {
		users, err := db.Users(ctx, store.UserFilter{After: after, Limit: 200})
		if err != nil {
			return err
		}
		for _, u := range users {
			var roles []string
			if u.Admin {
				roles = append(roles, "admin")
			}
			if u.Auditor {
				roles = append(roles, "auditor")
			}
			status := "active"
			if !u.Active() {
				status = "disabled"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Email, u.Name, strings.Join(roles, ","), status)
		}
		if len(users) < 200 {
			break
		}
		after = users[len(users)-1].Email
	}
	return w.Flush()
}

// readPassword reads the password from standard input: hidden and typed twice on a terminal,
// the first line otherwise (for scripts: printf '%s\n' "$PW" | elevate user create …).
func (e *env) readPassword() (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "Password (at least 12 characters): ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(e.stderr, "Password again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", fmt.Errorf("the two passwords differ")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(e.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{"no password on standard input"}
	}
	return line, nil
}
