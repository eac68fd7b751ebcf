package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/elevate-pam/elevate/internal/config"
	"github.com/elevate-pam/elevate/internal/pam"
	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"
)

// Sender opens sessions with a mail server.
type Sender interface {
	// Session returns a session that connects on its first Send.
	Session() Session
}

// Session delivers batches of messages over one connection, which it keeps from batch to batch
// (and replaces when it was lost) until Close.
type Session interface {
	// Send delivers msgs in order and returns one result per message, in order: nil for
	// delivered, a *DeliveryError otherwise. It starts no message once ctx is done.
	Send(ctx context.Context, msgs []pam.OutboxMessage) []error
	// Close ends the connection.
	Close()
}

// DeliveryError is why a message was not delivered. Permanent errors (an SMTP 5xx answer) are
// not retried; everything else (4xx, refused connections, timeouts, TLS trouble) is.
type DeliveryError struct {
	Permanent bool
	Text      string
}

func (e *DeliveryError) Error() string { return e.Text }

// SMTP sends mail through one SMTP server with go-mail.
type SMTP struct {
	cfg     config.SMTP
	from    string
	timeout time.Duration
	roots   *x509.CertPool
}

// SMTPOption adjusts an SMTP sender.
type SMTPOption func(*SMTP)

// WithRootCAs makes the sender trust these certificate authorities instead of the system's
// (tests trust their own CA this way; nothing global changes).
func WithRootCAs(pool *x509.CertPool) SMTPOption { return func(s *SMTP) { s.roots = pool } }

// WithSMTPTimeout bounds each network step: connecting, the check of a kept connection, and
// the commands of each message; the default is 30 s.
func WithSMTPTimeout(d time.Duration) SMTPOption { return func(s *SMTP) { s.timeout = d } }

// NewSMTP returns a sender for the server cfg describes, sending from the address from.
func NewSMTP(cfg config.SMTP, from string, opts ...SMTPOption) *SMTP {
	s := &SMTP{cfg: cfg, from: from, timeout: 30 * time.Second}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *SMTP) client() (*gomail.Client, error) {
	tlsCfg := &tls.Config{ServerName: s.cfg.Host, MinVersion: tls.VersionTLS12, RootCAs: s.roots}
	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(tlsCfg),
		// Every batch on a kept connection starts with a NOOP of the session's own; one per
		// message would be a round trip each.
		gomail.WithoutNoop(),
	}
	if s.cfg.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		policy := map[string]gomail.TLSPolicy{
			config.StartTLSRequired: gomail.TLSMandatory, config.StartTLSOpportunistic: gomail.TLSOpportunistic, config.StartTLSNone: gomail.NoTLS,
		}[s.cfg.StartTLS]
		opts = append(opts, gomail.WithTLSPolicy(policy))
	}
	if s.cfg.Username != "" {
		// Autodiscovery never offers PLAIN or LOGIN on an unencrypted connection.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.cfg.Password))
	}
	return gomail.NewClient(s.cfg.Host, opts...)
}

// Send delivers msgs over one connection of its own: a session for one batch.
func (s *SMTP) Send(ctx context.Context, msgs []pam.OutboxMessage) []error {
	ss := s.Session()
	defer ss.Close()
	return ss.Send(ctx, msgs)
}

// Session returns a session with the server; it connects on its first Send.
func (s *SMTP) Session() Session { return &smtpSession{s: s} }

// smtpSession is one connection to the server, opened when first needed and kept between
// batches.
type smtpSession struct {
	s    *SMTP
	c    *gomail.Client
	conn *smtp.Client
}

// connect makes sure the session has a connection that answers: a kept one is asked for a NOOP
// first, and replaced when it does not answer (the server may have closed it meanwhile).
func (ss *smtpSession) connect(ctx context.Context) error {
	if ss.conn != nil {
		if ss.conn.UpdateDeadline(ss.s.timeout) == nil && ss.conn.Noop() == nil {
			return nil
		}
		ss.Close()
	}
	c, err := ss.s.client()
	if err != nil {
		return &DeliveryError{Text: "SMTP client: " + err.Error()}
	}
	conn, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return &DeliveryError{Text: "connect to " + ss.s.cfg.String() + ": " + err.Error()}
	}
	ss.c, ss.conn = c, conn
	return nil
}

// Close ends the connection, if there is one.
func (ss *smtpSession) Close() {
	if ss.conn != nil {
		_ = ss.c.CloseWithSMTPClient(ss.conn)
		ss.c, ss.conn = nil, nil
	}
}

// Send delivers msgs over the session's connection, one after the other; each message has the
// sender's timeout for its commands. A refusal of one message (an SMTP 4xx or 5xx answer) does
// not stop the next. When the connection is lost, the message being sent is reported
// undelivered (it may be retried; it keeps its Message-ID) and the rest go over a new
// connection; a batch reconnects once, and a second loss reports the rest undelivered.
func (ss *smtpSession) Send(ctx context.Context, msgs []pam.OutboxMessage) []error {
	errs := make([]error, len(msgs))
	fail := func(from int, err error) []error {
		for i := from; i < len(errs); i++ {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	built := make([]*gomail.Msg, len(msgs))
	some := false
	for i, m := range msgs {
		gm, err := ss.s.build(m)
		if err != nil {
			errs[i] = &DeliveryError{Permanent: true, Text: "cannot build the message: " + err.Error()}
			continue
		}
		built[i], some = gm, true
	}
	if !some {
		return errs
	}
	if err := ss.connect(ctx); err != nil {
		return fail(0, err)
	}
	lost := &DeliveryError{Text: "not delivered (connection lost)"}
	reconnected := false
	for i, gm := range built {
		if gm == nil {
			continue
		}
		if ctx.Err() != nil {
			return fail(i, &DeliveryError{Text: "not sent: " + ctx.Err().Error()})
		}
		if ss.conn == nil { // lost while sending the message before
			if reconnected {
				return fail(i, lost)
			}
			reconnected = true
			if err := ss.connect(ctx); err != nil {
				return fail(i, err)
			}
		}
		_ = ss.c.SendWithSMTPClient(ss.conn, gm)
		switch {
		case gm.IsDelivered():
			continue
		case gm.HasSendError():
			errs[i] = classify(gm.SendError())
			if answered(gm.SendError()) {
				continue
			}
		default:
			errs[i] = lost
		}
		ss.Close()
	}
	return errs
}

// answered reports whether err is the server's answer to a command (so the connection still
// serves the next message), not a failure of the connection itself.
func answered(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.ErrorCode() >= 400 && se.ErrorCode() < 600
}

// classify keeps the server's answer and decides whether to try again: only a 5xx answer is
// permanent.
func classify(err error) error {
	var se *gomail.SendError
	text := strings.TrimSpace(err.Error())
	if errors.As(err, &se) {
		code := se.ErrorCode()
		return &DeliveryError{Permanent: code >= 500 && code < 600, Text: text}
	}
	return &DeliveryError{Text: text}
}

// messageID is the stable Message-ID of an outbox message: its id at the sender's domain, so a
// retried message keeps its identity and receivers can recognise a repeat.
func messageID(id, from string) string {
	domain := "elevate.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i+1 < len(from) {
		domain = from[i+1:]
	}
	return id + "@" + domain
}

// build turns an outbox message into a MIME message. Every header is set through the library
// from validated values; nothing a user typed is ever concatenated into a header.
func (s *SMTP) build(m pam.OutboxMessage) (*gomail.Msg, error) {
	to, err := mail.ParseAddress(m.Recipient)
	if err != nil || to.Address != m.Recipient {
		return nil, fmt.Errorf("recipient %q is not one address", m.Recipient)
	}
	gm := gomail.NewMsg()
	if err := gm.FromFormat("Elevate", s.from); err != nil {
		return nil, err
	}
	if err := gm.AddToFormat(cleanHeader(m.RecipientName), m.Recipient); err != nil {
		return nil, err
	}
	gm.Subject(cleanHeader(m.Subject))
	gm.SetMessageIDWithValue(messageID(m.ID, s.from))
	gm.SetDateWithValue(m.CreatedAt)
	gm.SetGenHeader(gomail.HeaderXAutoResponseSuppress, "All")
	gm.SetGenHeader("Auto-Submitted", "auto-generated")
	gm.SetBodyString(gomail.TypeTextPlain, m.Text)
	gm.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return gm, nil
}
