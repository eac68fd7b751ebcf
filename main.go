// Command elevate is a just-in-time privileged access portal: people ask for a privileged task,
// role or role group for a while, approvers decide, the grant ends by itself, and every step
// lands on a tamper-evident audit trail.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/url"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
	_ "time/tzdata" // time zones work on machines without a zoneinfo database

	"github.com/elevate-pam/elevate/internal/access"
	"github.com/elevate-pam/elevate/internal/admin"
	"github.com/elevate-pam/elevate/internal/auth"
	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/demo"
	"github.com/elevate-pam/elevate/internal/jobs"
	"github.com/elevate-pam/elevate/internal/mail"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/elevate-pam/elevate/internal/store"
	"github.com/elevate-pam/elevate/internal/webhook"
	"github.com/elevate-pam/elevate/web"
	"golang.org/x/term"
)

const usage = `Usage: elevate [command]

Commands:
  serve [--demo]            run the portal (the default); --demo first loads a demo
                            organisation into an empty database
  demo                      load the demo organisation into an empty database and exit
  migrate                   apply database migrations and exit
  setup-link                print a fresh one-time link for creating the first
                            administrator (the earlier link stops working); refused
                            once Elevate is set up
  user create --email E --name N [--admin] [--auditor]
                            add a user; the password is read from standard input
  user list                 list users
  user auditor --email E [--off]
                            give (or take) read-only access to the audit trail
  user disable --email E    disable a user and end their sessions
  token create-check --name SYSTEM
                            make a check token for a target system and print it
                            once on standard output (audited; shown on
                            /admin/check-tokens, revocable there)
  check --user U --task T [--url URL] [--token TOKEN] [--timeout 5s]
                            ask Elevate whether U may run T now (ELEVATE_URL,
                            ELEVATE_CHECK_TOKEN): exit 0 allowed, 1 denied, 2 error
  run --task T [--user U] -- COMMAND ARGS...
                            run COMMAND only when Elevate allows the invoking user
                            (SUDO_USER, else --user, else USER; a name without @ gets
                            @ELEVATE_USER_DOMAIN); its exit status is passed through
  audit verify [--checkpoint SEQ:HASH]
                            check the audit chain end to end (and that it still
                            holds a head saved earlier)
  audit export --format csv|jsonl [--since T] [--until T]
                            write audit events to standard output, oldest first

Configuration comes from ELEVATE_* environment variables; see README.md.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is the process's outside world, passed in so commands can be tested.
type env struct {
	cfg    config.Config
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	// textLog is set when logs are text for a person to read rather than JSON for a collector.
	textLog bool
}

// run executes one command and returns the process exit code: 0 success, 1 failure,
// 2 bad usage or configuration.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "elevate: configuration: %v\n", err)
		return 2
	}
	e := &env{cfg: cfg, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	e.log, e.textLog = newLogger(cfg, stderr)

	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		err = e.serve(ctx, args)
	case "migrate":
		err = e.migrate(ctx)
	case "demo":
		err = e.demo(ctx, args)
	case "user":
		err = e.user(ctx, args)
	case "audit":
		err = e.audit(ctx, args)
	case "setup-link":
		err = e.setupLink(ctx, args)
	case "token":
		err = e.token(ctx, args)
	case "check":
		err = e.checkCmd(ctx, args)
	case "run":
		err = e.runCmd(ctx, args)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "elevate: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ue usageError
	var es exitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &es):
		if es.msg != "" {
			fmt.Fprintf(stderr, "elevate: %s\n", es.msg)
		}
		return es.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "elevate: %v\n", err)
		return 2
	case errors.Is(err, errFailed):
		return 1
	default:
		// Every problem with the input on its own line, naming what it is about, so one run
		// tells them all.
		var pe *pam.Error
		if !errors.As(err, &pe) || len(pe.Also) == 0 {
			fmt.Fprintf(stderr, "elevate: %v\n", err)
			return 1
		}
		for _, one := range pe.All() {
			if in := inputNames[one.Field]; in != "" {
				fmt.Fprintf(stderr, "elevate: %s: %s\n", in, one.Message)
			} else {
				fmt.Fprintf(stderr, "elevate: %s\n", one.Message)
			}
		}
		return 1
	}
}

// inputNames are the shell's names of the form fields a command's input fills.
var inputNames = map[string]string{"email": "--email", "name": "--name", "password": "password (standard input)"}

// newLogger builds the process's logger on w at ELEVATE_LOG_LEVEL: text (time, level, message,
// key=value) when ELEVATE_LOG_FORMAT says so or, with it unset, when w is a terminal; JSON
// otherwise. It reports whether it chose text.
func newLogger(cfg config.Config, w io.Writer) (*slog.Logger, bool) {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.LogLevel]
	opts := &slog.HandlerOptions{Level: level}
	text := cfg.LogFormat == config.LogText || (cfg.LogFormat == "" && isTerminal(w))
	if text {
		return slog.New(slog.NewTextHandler(w, opts)), true
	}
	return slog.New(slog.NewJSONHandler(w, opts)), false
}

// isTerminal reports whether w is a terminal (a person watching), not a file or a pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// errFailed means the command already said what failed; exit 1 quietly.
var errFailed = errors.New("failed")

// open is openStore for a shell command: the base URL it links to is the server's when its own
// environment names none (adoptBaseURL).
func (e *env) open(ctx context.Context) (*store.Store, error) {
	db, err := e.openStore(ctx)
	if err != nil {
		return nil, err
	}
	if err := e.adoptBaseURL(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// openStore connects to the database and applies migrations.
func (e *env) openStore(ctx context.Context) (*store.Store, error) {
	db, err := store.Open(e.cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if n := e.cfg.DatabaseMaxConns; n > 0 {
		if err := db.SetMaxConnections(n); err != nil {
			db.Close()
			return nil, err
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("database unreachable (ELEVATE_DATABASE_URL): %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// A command ends right after its change: it waits for its events' seal, so nothing it did
	// waits for a server's sweep. serve turns this off.
	db.SetSealWait(commandSealWait)
	return db, nil
}

// commandSealWait is how long a shell command waits for its audit events to be sealed.
const commandSealWait = 5 * time.Second

// serverBaseURLKey is the system value where serve records the ELEVATE_BASE_URL it was started
// with. A shell command that sets none of its own uses it (adoptBaseURL), so the links in the
// mail and webhook payloads it queues, and the setup link it prints, point where the server
// answers rather than at this shell's loopback.
const serverBaseURLKey = "server_base_url"

// recordBaseURL stores serve's ELEVATE_BASE_URL for the shell's commands when it differs from
// the one stored, and clears the record when serve was started without one: a default made from
// the server's own listening address (perhaps port 0, or 0.0.0.0) names no address to link to.
// It is how the process was started, not a change anyone made, so it has no audit event.
func (e *env) recordBaseURL(ctx context.Context, db *store.Store) error {
	u := ""
	if e.cfg.BaseURLSet {
		u = e.cfg.BaseURL.String()
	}
	v, err := db.Value(ctx, serverBaseURLKey)
	if err != nil || v == u {
		return err
	}
	return db.SetValue(ctx, serverBaseURLKey, u, time.Now().UTC())
}

// adoptBaseURL makes the base URL a server recorded (recordBaseURL) this command's, unless
// ELEVATE_BASE_URL is set in the command's own environment. With no server recorded yet, the
// default stays.
func (e *env) adoptBaseURL(ctx context.Context, db *store.Store) error {
	if e.cfg.BaseURLSet {
		return nil
	}
	v, err := db.Value(ctx, serverBaseURLKey)
	if err != nil || v == "" {
		return err
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("the base URL a server recorded (%s) is not an http(s) URL: %q; set ELEVATE_BASE_URL", serverBaseURLKey, v)
	}
	e.cfg.BaseURL = u
	return nil
}

func (e *env) migrate(ctx context.Context) error {
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintln(e.stdout, "migrations applied")
	return nil
}

// secret returns ELEVATE_SECRET_KEY, or the key generated on first run and kept in the
// database so every replica signs cookies alike.
func (e *env) secret(ctx context.Context, db *store.Store) ([]byte, error) {
	if e.cfg.SecretKey != nil {
		return e.cfg.SecretKey, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	v, err := db.SetValueIfAbsent(ctx, "secret_key", hex.EncodeToString(b), time.Now())
	if err != nil {
		return nil, fmt.Errorf("load secret key: %w", err)
	}
	return []byte(v), nil
}

func (e *env) services(ctx context.Context, db *store.Store) (*auth.Service, []byte, error) {
	secret, err := e.secret(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	now := func() time.Time { return time.Now().UTC() }
	sessions := auth.NewSessionStore(db, secret, e.cfg.SessionIdle, e.cfg.SessionLifetime, e.cfg.Secure(), now)
	return auth.NewService(db, sessions, now), secret, nil
}

func (e *env) serve(ctx context.Context, args []string) error {
	withDemo := false
	for _, a := range args {
		switch a {
		case "--demo", "-demo":
			withDemo = true
		default:
			return usageError{fmt.Sprintf("serve: unknown argument %q", a)}
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// A soft limit: the collector works harder as the heap nears it, so the process keeps
		// well under 150 MB resident through bursts (sign-ins hash with 46 MiB each). At 100 MiB
		// a short benchmark under load reached 154 MB; at 80 MiB the same run stays near 100.
		debug.SetMemoryLimit(80 << 20)
	}
	if os.Getenv("GOGC") == "" {
		// The live heap is small (about 10 MB under load), so the default, a collection each
		// time it doubles, ran four collections a second under the check API. Growing to three
		// times its live size took 5-7 % off the server's CPU per check and per submit +
		// approve (make bench, side by side) and left the peak resident size where it was;
		// five times took 13 % but raised SQLite's peak from 119 to 135 MB.
		debug.SetGCPercent(200)
	}
	db, err := e.openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := e.recordBaseURL(ctx, db); err != nil {
		return err
	}
	// A request never waits for its change's audit event to be sealed: the event is committed
	// with the change, and the sealer seals it moments later.
	db.SetSealWait(0)
	authSvc, secret, err := e.services(ctx, db)
	if err != nil {
		return err
	}
	adminSvc := admin.New(db, func() time.Time { return time.Now().UTC() })
	// Mail: queued by the services inside their transactions, delivered by the worker below.
	outbox := mail.NewOutbox(db, e.cfg, func() time.Time { return time.Now().UTC() })
	adminSvc.SetMailer(outbox)
	adminSvc.SetReviewMailer(outbox)
	adminSvc.SetChainMailer(outbox)
	// Webhooks: queued by the same changes as mail, in the same transaction.
	hooks := webhook.New(db, secret, e.cfg.BaseURL.String(), func() time.Time { return time.Now().UTC() })
	accessSvc := access.New(db, func() time.Time { return time.Now().UTC() }, access.Notifiers(outbox, hooks))
	adminSvc.SetCampaignNotifier(hooks)
	adminSvc.SetChainNotifier(hooks)
	// Policy, group, user and settings changes reach the requests under them.
	adminSvc.SetRequestRules(accessSvc)
	// Access reviews leave the members of groups the identity provider manages to it.
	adminSvc.SetProviderManaged(store.ProviderManaged)
	if withDemo {
		if err := e.loadDemo(ctx, db); err != nil {
			return err
		}
	}
	if err := e.announceSetup(ctx, authSvc); err != nil {
		return err
	}

	now := func() time.Time { return time.Now().UTC() }
	mfa := authSvc.NewMFA(secret, "Elevate")
	sweepTiming := &jobs.Timing{}
	srv := web.New(web.Deps{Config: e.cfg, Auth: authSvc, Admin: adminSvc, Access: accessSvc, Ping: db.Ping, Logger: e.log, Secret: secret, Audit: db, Stats: db,
		IsApprover: db.IsApprover, Outbox: outbox, Webhooks: hooks, Catalog: db, Directory: db, Policies: db,
		Now: now, MFA: mfa, MFARequired: mfa.EnrolmentRequired, Limiter: authSvc.NewLimiter(), SSO: e.sso(authSvc, adminSvc, secret),
		DBCounts: func() (uint64, uint64) { c := db.Counts(); return c.Statements, c.RoundTrips },
		DBPool:   db.PoolStats, Operations: db, SweepTiming: sweepTiming.Last})
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", e.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (ELEVATE_ADDR): %w", e.cfg.Addr, err)
	}
	e.log.Info("elevate listening", "addr", ln.Addr().String(), "base_url", e.cfg.BaseURL.String(), "database", db.Dialect())
	if e.cfg.DebugAddr != "" {
		stop, err := serveDebug(e.cfg.DebugAddr, e.log)
		if err != nil {
			return err
		}
		defer stop()
	}

	bg, stopBG := context.WithCancel(ctx)
	defer stopBG()
	adminSvc.SetBackground(bg) // walks of the chain asked for on pages stop with the server
	jobsDone := e.startJobs(bg, db, accessSvc, adminSvc, outbox, hooks, now, sweepTiming)

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	e.log.Info("shutting down: finishing requests in flight (10 s at most)")
	stopBG()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	select { // let work in progress (mail being sent) finish and be recorded
	case <-jobsDone:
	case <-sctx.Done():
	}
	walksDone := make(chan struct{})
	go func() { adminSvc.WaitWalks(); close(walksDone) }()
	select { // a walk of the chain cut short by stopBG records nothing; wait until it has let go
	case <-walksDone:
	case <-sctx.Done():
	}
	// Seal what the last requests stored, so a stopped server leaves no event waiting.
	if _, err := db.SealWaiting(sctx); err != nil {
		e.log.Warn("sealing the last audit events at shutdown", "error", err.Error())
	}
	e.log.Info("stopped")
	return nil
}

// setupLinkLine starts the line that carries the setup URL on a first run.
const setupLinkLine = "First run: open this link once to create the first administrator: "

// announceSetup issues the one-time setup token on an empty database. Only the process that
// created it prints the URL: once, on stderr, outside the logger, so no log store keeps the
// secret. Any other process (starting at the same moment, or on a later start) only logs that a
// link exists and how to get a fresh one, so it never prints a link that does not work.
func (e *env) announceSetup(ctx context.Context, authSvc *auth.Service) error {
	tok, state, err := authSvc.IssueSetupToken(ctx)
	if err != nil {
		return err
	}
	switch state {
	case auth.SetupIssued:
		e.printLink(setupLinkLine, e.setupURL(tok))
	case auth.SetupPending:
		e.log.Warn("first run: no administrator yet; the setup link was printed by another elevate process, " +
			"now or on an earlier start. Use that link, or run `elevate setup-link` for a fresh one (the earlier link then stops working)")
	}
	return nil
}

// printLink prints a secret link on stderr, outside the logger, after the sentence that says
// what it is for. Among text logs the link stands on its own line with a blank line around it,
// so a person sees it between the log lines; beside JSON logs it ends one plain line, as
// scripts read it.
func (e *env) printLink(sentence, link string) {
	if e.textLog {
		fmt.Fprintf(e.stderr, "\n%s\n\n    %s\n\n", strings.TrimRight(sentence, ": ")+":", link)
		return
	}
	fmt.Fprintln(e.stderr, sentence+link)
}

// setupURL is the page where the first administrator is created with tok.
func (e *env) setupURL(tok string) string {
	return e.cfg.BaseURL.String() + "/setup?token=" + tok
}

// sso is OpenID Connect sign-in when an issuer is configured (ELEVATE_OIDC_ISSUER), else nil.
// Each sign-in sets the person's memberships of the groups the provider manages (adminSvc).
func (e *env) sso(authSvc *auth.Service, adminSvc *admin.Service, secret []byte) *auth.SSO {
	if e.cfg.OIDCIssuer == "" {
		return nil
	}
	sso := authSvc.NewSSO(auth.SSOConfig{
		Issuer: e.cfg.OIDCIssuer, ClientID: e.cfg.OIDCClientID, ClientSecret: e.cfg.OIDCSecret,
		RedirectURL: e.cfg.BaseURL.String() + "/auth/sso/callback", AutoCreate: e.cfg.OIDCAutoCreate,
		Secure: e.cfg.Secure(), GroupsClaim: e.cfg.OIDCGroupsClaim,
	}, secret)
	sso.SetGroupSync(adminSvc)
	return sso
}

// startJobs runs the periodic work until ctx ends: the request, access review and identity
// provider group sweeps (every ELEVATE_SWEEP_INTERVAL), the session and rate-limit sweeps, the
// prune of sent mail and webhook deliveries, mail (expiry notices and delivery) and webhook delivery. The request sweep's runs are timed into sweepTiming for
// /metrics. The returned channel closes once every job has stopped.
func (e *env) startJobs(ctx context.Context, db *store.Store, acc *access.Service, adm *admin.Service, outbox *mail.Outbox, hooks *webhook.Service, now func() time.Time, sweepTiming *jobs.Timing) <-chan struct{} {
	worker := mail.NewWorker(db, e.mailSender(), now, e.log)
	wait := jobs.Start(ctx, e.log, jobs.RealTicker,
		jobs.Timed(jobs.SweepRequests(acc, e.cfg.SweepInterval, e.log), sweepTiming, time.Now),
		jobs.SweepReviews(adm, e.cfg.SweepInterval, e.log),
		jobs.SweepProviderGroups(adm, e.cfg.OIDCGroupMaxAge, e.cfg.SweepInterval, e.log),
		jobs.SweepSessions(db, e.cfg.SessionIdle, jobs.SessionSweepEvery, now, e.log),
		jobs.SweepRateLimits(db, jobs.SessionSweepEvery, now),
		jobs.PruneSent(db, jobs.SentKeep, jobs.SessionSweepEvery, now, e.log),
		jobs.SealAudit(db, jobs.SealEvery, e.log),
		jobs.VerifyChain(adm, e.cfg.AuditVerifyEvery, jobs.VerifyChainLooks, e.log),
		jobs.Mail(outbox, worker, jobs.MailEvery),
		jobs.Webhooks(webhook.NewWorker(hooks, now, e.log), jobs.WebhookEvery),
	)
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	return done
}

// mailSender is the SMTP server from ELEVATE_SMTP_URL, or nil (mail then waits in the outbox).
func (e *env) mailSender() mail.Sender {
	if e.cfg.SMTP == nil {
		e.log.Warn("no SMTP server configured (ELEVATE_SMTP_URL): mail waits in the outbox at /admin/outbox")
		return nil
	}
	e.log.Info("mail delivery on", "smtp", e.cfg.SMTP.String(), "from", e.cfg.MailFrom)
	return mail.NewSMTP(*e.cfg.SMTP, e.cfg.MailFrom)
}

func (e *env) demo(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usageError{"demo takes no arguments"}
	}
	db, err := e.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	return e.loadDemo(ctx, db)
}

// loadDemo fills an empty database with the demo organisation and prints its sign-ins. Their
// password is a secret like the setup link, so they go the same way: once, on stderr, outside
// the logger (standard output stays for what a script captures); among text logs with a blank
// line around them, so a person sees them between the log lines.
func (e *env) loadDemo(ctx context.Context, db *store.Store) error {
	res, err := demo.Load(ctx, db, func() time.Time { return time.Now().UTC() })
	if err != nil {
		return userFacing(err)
	}
	var b strings.Builder
	if e.textLog {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Demo organisation loaded. Sign in at %s/login with any of these (password %s):\n", e.cfg.BaseURL, res.Password)
	for _, l := range res.Logins {
		fmt.Fprintf(&b, "  %-22s %-16s %s\n", l.Email, l.Name, l.Role)
	}
	if e.textLog {
		b.WriteString("\n")
	}
	_, err = io.WriteString(e.stderr, b.String())
	return err
}

// serveDebug serves Go's profiler on addr (a loopback address, checked by config) for whoever
// measures a running server, and returns a function that stops it.
func serveDebug(addr string, log *slog.Logger) (func(), error) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (ELEVATE_DEBUG_ADDR): %w", addr, err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("profiler listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
