package pam

import (
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Webhook formats: the body a delivery carries.
const (
	WebhookGeneric = "generic" // documented JSON, signed
	WebhookSlack   = "slack"   // a Slack incoming-webhook message
	WebhookTeams   = "teams"   // a Microsoft Teams message with an Adaptive Card
)

// WebhookFormats lists the formats in display order.
var WebhookFormats = []string{WebhookGeneric, WebhookSlack, WebhookTeams}

// Webhook is an outbound endpoint: where Elevate posts the events it wants, and how.
type Webhook struct {
	ID     string
	Name   string
	URL    string // decrypted; it can hold the receiver's own secret (Slack and Teams put one in the path)
	Host   string // the URL's host, shown in lists
	Format string
	Events []string // event types (see internal/webhook)
	// Internal allows plain http and loopback, link-local and private destinations.
	Internal bool
	Enabled  bool
	// HasSecret tells whether deliveries are signed (generic endpoints).
	HasSecret bool
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int
}

// Wants reports whether the endpoint is enabled and subscribed to event type t.
func (w Webhook) Wants(t string) bool {
	if !w.Enabled {
		return false
	}
	for _, e := range w.Events {
		if e == t {
			return true
		}
	}
	return false
}

// WebhookDelivery is one event on its way to one endpoint, delivered through an outbox like
// mail: queued with the change, retried with backoff, failed after a limit.
type WebhookDelivery struct {
	ID            string
	WebhookID     string
	WebhookName   string
	EventID       string // stable per event: the same on every attempt and resend
	EventType     string
	RequestID     string
	Body          string
	State         string // the mail states: queued, retrying, sent, failed
	Attempts      int
	LastStatus    int // the receiver's last HTTP status; 0 when it never answered
	LastError     string
	NextAttemptAt time.Time
	GiveUpAt      *time.Time
	CreatedAt     time.Time
	SentAt        *time.Time
}

// DeliveryFilter selects deliveries, newest first, one keyset page at a time.
type DeliveryFilter struct {
	WebhookID string
	State     string
	Before    *Cursor
	Limit     int
}

// ParseWebhookURL checks an endpoint URL as an admin typed it: absolute, https unless the
// endpoint is internal, no user name or password in it, and, unless internal, not a loopback,
// link-local, private or unspecified address. Names are checked again at each delivery, once
// resolved, so DNS cannot point a public name at a private address.
func ParseWebhookURL(raw string, internal bool) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	bad := func(msg string) error { return FieldError("url", "%s", msg) }
	if raw == "" {
		return nil, bad("Enter the receiver's URL.")
	}
	if len(raw) > 2000 {
		return nil, bad("Use a URL of at most 2,000 characters.")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, bad("Enter a full URL such as https://hooks.example.com/elevate.")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !internal {
			return nil, bad("Use https, or tick “Internal receiver” for an http receiver on your own network.")
		}
	default:
		return nil, bad("Use an https URL.")
	}
	if u.User != nil {
		return nil, bad("Leave the user name and password out of the URL; generic endpoints are signed with their secret instead.")
	}
	if u.Fragment != "" {
		return nil, bad("Leave the #fragment out of the URL.")
	}
	host := u.Hostname()
	if host == "" {
		return nil, bad("Enter a full URL such as https://hooks.example.com/elevate.")
	}
	if !internal {
		if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil && !PublicAddr(ip) {
			return nil, bad("That address is loopback, link-local or private; tick “Internal receiver” if it is meant to be.")
		}
		if h := strings.ToLower(strings.TrimSuffix(host, ".")); h == "localhost" || strings.HasSuffix(h, ".localhost") {
			return nil, bad("That address is loopback; tick “Internal receiver” if it is meant to be.")
		}
	}
	return u, nil
}

// PublicAddr reports whether ip may be reached by an endpoint that is not internal: not
// loopback, link-local, private (RFC 1918, unique-local), shared (100.64/10), unspecified,
// multicast or broadcast.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsPrivate() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	if ip.Is4() {
		b := ip.As4()
		if b[0] == 100 && b[1]&0xc0 == 64 || b[0] == 0 || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return false
		}
	}
	return true
}

// HostOf is the host of a URL for display (no path, which may hold a receiver's secret).
func HostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if _, port, _ := net.SplitHostPort(u.Host); port != "" {
		return u.Host
	}
	return u.Hostname()
}
