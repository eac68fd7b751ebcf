// Package mailtest is a real SMTP server for tests: it listens on loopback, offers STARTTLS (or
// implicit TLS) with its own certificate authority, requires AUTH PLAIN, keeps every message it
// accepts, and can be told to answer with temporary or permanent errors.
package mailtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/config"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLS modes.
const (
	StartTLS = "starttls"
	Implicit = "implicit"
	NoTLS    = "none"
)

// Options shape a server. The zero value is STARTTLS with user "elevate", password "secret".
type Options struct {
	TLS      string
	Username string
	Password string
	// Addr is the address to listen on; empty picks a free loopback port.
	Addr string
}

// Message is one accepted message, parsed.
type Message struct {
	From      string   // envelope sender
	To        []string // envelope recipients
	Raw       []byte
	Header    mail.Header
	Subject   string
	MessageID string
	Text      string
	HTML      string
}

// Server is a running SMTP server.
type Server struct {
	t    testing.TB
	opts Options
	srv  *smtp.Server
	ln   net.Listener
	// Addr is host:port the server listens on.
	Addr string
	// Roots trusts the server's certificate.
	Roots *x509.CertPool

	mu      sync.Mutex
	msgs    []Message
	conns   int
	reject  func(rcpt string) error
	arrived chan struct{}
}

// ErrHangup, returned by a Reject function, makes the server close the connection instead of
// answering, as a server that crashes or a network that fails would.
var ErrHangup = errors.New("mailtest: hang up")

// Start starts a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.TLS == "" {
		opts.TLS = StartTLS
	}
	if opts.Username == "" {
		opts.Username, opts.Password = "elevate", "secret"
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	cert, roots := testCert(t)
	s := &Server{t: t, opts: opts, Roots: roots, arrived: make(chan struct{}, 1)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, conn: c}, nil }))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	srv.MaxRecipients = 50
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // a port just freed may take a moment to be free again
		if ln, err = net.Listen("tcp", opts.Addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("mailtest: listen on %s: %v", opts.Addr, err)
	}
	switch opts.TLS {
	case StartTLS:
		srv.TLSConfig = tlsCfg
	case Implicit:
		ln = tls.NewListener(ln, tlsCfg)
	case NoTLS:
		srv.AllowInsecureAuth = true
	}
	ln = countingListener{Listener: ln, s: s}
	s.srv, s.ln, s.Addr = srv, ln, ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(s.Close)
	return s
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	s *Server
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.mu.Lock()
		l.s.conns++
		l.s.mu.Unlock()
	}
	return c, err
}

// Close stops the server; connections are then refused.
func (s *Server) Close() { s.srv.Close() }

// SMTP is the configuration that reaches this server (with its credentials).
func (s *Server) SMTP() config.SMTP {
	host, port, _ := net.SplitHostPort(s.Addr)
	var p int
	fmt.Sscan(port, &p)
	c := config.SMTP{Host: host, Port: p, Username: s.opts.Username, Password: s.opts.Password, StartTLS: config.StartTLSRequired}
	switch s.opts.TLS {
	case Implicit:
		c.ImplicitTLS = true
	case NoTLS:
		c.StartTLS = config.StartTLSNone
	}
	return c
}

// URL is ELEVATE_SMTP_URL for this server.
func (s *Server) URL() string {
	c := s.SMTP()
	u := url.URL{Scheme: "smtp", User: url.UserPassword(c.Username, c.Password), Host: s.Addr}
	if c.ImplicitTLS {
		u.Scheme = "smtps"
	} else {
		u.RawQuery = "starttls=" + c.StartTLS
	}
	return u.String()
}

// Reject makes the server answer RCPT TO with fn's error for each recipient (nil accepts). Use
// &smtp.SMTPError{Code: 451, …} for a temporary failure, Code 550 for a permanent one, and
// ErrHangup to drop the connection.
func (s *Server) Reject(fn func(rcpt string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = fn
}

// Connections returns how many connections the server has accepted so far.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

// Messages returns every accepted message so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// To returns the accepted messages with this envelope recipient.
func (s *Server) To(rcpt string) []Message {
	var out []Message
	for _, m := range s.Messages() {
		for _, r := range m.To {
			if strings.EqualFold(r, rcpt) {
				out = append(out, m)
			}
		}
	}
	return out
}

// WaitFor waits until at least n messages were accepted, or fails the test after timeout.
func (s *Server) WaitFor(n int, timeout time.Duration) []Message {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-s.arrived:
		case <-deadline:
			s.t.Fatalf("mailtest: waited %s for %d messages, have %d", timeout, n, len(s.Messages()))
		}
	}
}

type session struct {
	s      *Server
	conn   *smtp.Conn
	authed bool
	from   string
	to     []string
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != x.s.opts.Username || password != x.s.opts.Password {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	if !x.authed {
		return smtp.ErrAuthRequired
	}
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.s.mu.Lock()
	reject := x.s.reject
	x.s.mu.Unlock()
	if reject != nil {
		if err := reject(to); err != nil {
			if errors.Is(err, ErrHangup) {
				x.conn.Close()
			}
			return err
		}
	}
	x.to = append(x.to, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: "mailtest: cannot parse message: " + err.Error()}
	}
	m.From, m.To = x.from, append([]string(nil), x.to...)
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, m)
	x.s.mu.Unlock()
	select {
	case x.s.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

// parse reads a message and its plain-text and HTML parts.
func parse(raw []byte) (Message, error) {
	pm, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Message{}, err
	}
	m := Message{Raw: raw, Header: pm.Header, MessageID: pm.Header.Get("Message-Id")}
	dec := new(mime.WordDecoder)
	if m.Subject, err = dec.DecodeHeader(pm.Header.Get("Subject")); err != nil {
		return m, err
	}
	err = readPart(&m, pm.Header.Get("Content-Type"), pm.Header.Get("Content-Transfer-Encoding"), pm.Body)
	return m, err
}

func readPart(m *Message, ctype, cte string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := readPart(m, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p); err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch mt {
	case "text/plain":
		m.Text = string(b)
	case "text/html":
		m.HTML = string(b)
	}
	return nil
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	roots    *x509.CertPool
	certErr  error
)

// testCert is one self-signed certificate for 127.0.0.1 shared by every server of the test
// binary, so a server restarted on the same address is trusted like the one before.
func testCert(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	certOnce.Do(func() { cert, roots, certErr = selfSigned() })
	if certErr != nil {
		t.Fatalf("mailtest: certificate: %v", certErr)
	}
	return cert, roots
}

func selfSigned() (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "mailtest"},
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool, nil
}

// CertPEM is the servers' certificate in PEM form, for a process that trusts it through
// SSL_CERT_FILE.
func (s *Server) CertPEM() []byte {
	cert, _ := testCert(s.t)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
}
