package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"
)

// exitStatus ends a command with a given status and, when msg is set, says why on stderr.
type exitStatus struct {
	code int
	msg  string
}

func (e exitStatus) Error() string { return e.msg }

// Exit statuses of check and run: allowed, denied, and anything else (which denies too).
const (
	exitAllowed = 0
	exitDenied  = 1
	exitError   = 2
)

// checkFlags are the flags check and run share.
type checkFlags struct {
	url, token, user, task string
	timeout                time.Duration
}

func (e *env) checkFlagSet(name string, f *checkFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&f.url, "url", e.getenv("ELEVATE_URL"), "Elevate's address (ELEVATE_URL)")
	fs.StringVar(&f.token, "token", e.getenv("ELEVATE_CHECK_TOKEN"), "a check token (ELEVATE_CHECK_TOKEN)")
	fs.StringVar(&f.user, "user", "", "the person, by email or id")
	fs.StringVar(&f.task, "task", "", "the task, like exchange/Set-Mailbox")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long to wait for an answer")
	return fs
}

// checkCmd asks Elevate whether a user may run a task now: exit 0 allowed, 1 denied (the reason
// on stderr), 2 on any error. It fails closed: no answer, a bad token or a server error is 2.
func (e *env) checkCmd(ctx context.Context, args []string) error {
	var f checkFlags
	fs := e.checkFlagSet("check", &f)
	if err := fs.Parse(args); err != nil {
		return exitStatus{exitError, ""}
	}
	if f.user == "" || f.task == "" || fs.NArg() > 0 {
		return exitStatus{exitError, "check needs --user and --task, and nothing else"}
	}
	reason, err := askElevate(ctx, f)
	if err != nil {
		return exitStatus{exitError, err.Error()}
	}
	if reason != "" {
		return exitStatus{exitDenied, fmt.Sprintf("denied: %s may not run %s: %s", f.user, f.task, reason)}
	}
	return nil
}

// runCmd runs a command only when Elevate allows the invoking user the task, passing the
// command's exit status through; for sudo and SSH ForceCommand wrappers. Under sudo the user is
// SUDO_USER (and --user is refused, so the caller cannot name someone else); otherwise --user,
// else $USER. A name without "@" gets "@" + ELEVATE_USER_DOMAIN.
func (e *env) runCmd(ctx context.Context, args []string) error {
	var f checkFlags
	fs := e.checkFlagSet("run", &f)
	if err := fs.Parse(args); err != nil {
		return exitStatus{exitError, ""}
	}
	cmd := fs.Args()
	if f.task == "" || len(cmd) == 0 {
		return exitStatus{exitError, "run needs --task and a command after --"}
	}
	switch sudo := e.getenv("SUDO_USER"); {
	case sudo != "" && f.user != "":
		return exitStatus{exitError, "run under sudo checks SUDO_USER; --user is not allowed there"}
	case sudo != "":
		f.user = sudo
	case f.user == "":
		f.user = e.getenv("USER")
	}
	if f.user == "" {
		return exitStatus{exitError, "run cannot tell who is asking: give --user or set USER"}
	}
	if !strings.Contains(f.user, "@") {
		domain := e.getenv("ELEVATE_USER_DOMAIN")
		if domain == "" {
			return exitStatus{exitError, fmt.Sprintf("the user %q has no domain; set ELEVATE_USER_DOMAIN (for example example.com)", f.user)}
		}
		f.user += "@" + domain
	}
	reason, err := askElevate(ctx, f)
	if err != nil {
		return exitStatus{exitError, err.Error()}
	}
	if reason != "" {
		return exitStatus{exitDenied, fmt.Sprintf("denied: %s may not run %s: %s. Ask for access in Elevate first.", f.user, f.task, reason)}
	}
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdin, c.Stdout, c.Stderr = e.stdin, e.stdout, e.stderr
	err = c.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee):
		return exitStatus{ee.ExitCode(), ""}
	default:
		return exitStatus{exitError, err.Error()}
	}
}

// askElevate calls the check API; it returns "" when allowed, the reason when denied, and an
// error for every other outcome.
func askElevate(ctx context.Context, f checkFlags) (string, error) {
	if f.url == "" || f.token == "" {
		return "", errors.New("set ELEVATE_URL and ELEVATE_CHECK_TOKEN (or --url and --token)")
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"user": f.user, "task": f.task})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(f.url, "/")+"/api/v1/check", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("ELEVATE_URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.token)
	req.Header.Set("User-Agent", "elevate-check")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("no answer from Elevate: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Allowed *bool  `json:"allowed"`
		Reason  string `json:"reason"`
		Error   string `json:"error"`
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, 64<<10))
	if err := dec.Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Allowed == nil {
		msg := out.Error
		if msg == "" {
			msg = out.Reason
		}
		//lint:ignore ST1005 the message is shown to the person as is and starts with the product's name
		return "", fmt.Errorf("Elevate answered %s: %s", resp.Status, msg)
	}
	if !*out.Allowed {
		if out.Reason == "" {
			out.Reason = "not allowed"
		}
		return out.Reason, nil
	}
	return "", nil
}
