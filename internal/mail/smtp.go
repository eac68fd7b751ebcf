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
)

// Sender delivers a batch of messages and returns one result per message, in order: nil for
// delivered, a *DeliveryError otherwise.
type Sender interface {
	Send(ctx context.Context, msgs []pam.OutboxMessage) []error
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

// WithSMTPTimeout bounds each network step (connect, each command); the default is 30 s.
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

// Send delivers msgs over one connection.
func (s *SMTP) Send(ctx context.Context, msgs []pam.OutboxMessage) []error {
	errs := make([]error, len(msgs))
	fail := func(err error) []error {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
		return errs
	}
	built := make([]*gomail.Msg, 0, len(msgs))
	index := make([]int, 0, len(msgs))
	for i, m := range msgs {
		gm, err := s.build(m)
		if err != nil {
			errs[i] = &DeliveryError{Permanent: true, Text: "cannot build the message: " + err.Error()}
			continue
		}
		built = append(built, gm)
		index = append(index, i)
	}
	if len(built) == 0 {
		return errs
	}
	c, err := s.client()
	if err != nil {
		return fail(&DeliveryError{Text: "SMTP client: " + err.Error()})
	}
	conn, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return fail(&DeliveryError{Text: "connect to " + s.cfg.String() + ": " + err.Error()})
	}
	defer c.CloseWithSMTPClient(conn)
	_ = c.SendWithSMTPClient(conn, built...)
	for j, gm := range built {
		i := index[j]
		switch {
		case gm.IsDelivered():
		case gm.HasSendError():
			errs[i] = classify(gm.SendError())
		default:
			errs[i] = &DeliveryError{Text: "not delivered (connection lost)"}
		}
	}
	return errs
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
