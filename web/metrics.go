package web

import (
	"context"
	"database/sql"
	"log/slog"
	"strconv"
	"time"

	"github.com/elevate-pam/elevate/internal/audit"
	"github.com/elevate-pam/elevate/internal/pam"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	checks   *prometheus.CounterVec
}

// Operations is what /metrics reads of the organisation's work at each scrape; store.Store is
// one.
type Operations interface {
	// Operations reads the waiting and in-force figures at now, each from an index.
	Operations(ctx context.Context, now time.Time) (pam.Operations, error)
	// CommittedEvents counts the committed audit events with action since the process started.
	CommittedEvents(action string) uint64
}

// Check results, the values of elevate_checks_total's result label.
const (
	checkAllowed     = "allowed"      // 200, allowed
	checkDenied      = "denied"       // 200, denied
	checkInvalid     = "invalid"      // 400 or 413: denied for its input
	checkRefused     = "refused"      // 401 or 403: no live check token
	checkRateLimited = "rate_limited" // 429
	checkError       = "error"        // 503: denied because Elevate could not decide
)

// decisionOutcomes maps the actions that decide a pending request to their outcome label.
var decisionOutcomes = []struct {
	outcome string
	action  audit.Action
}{
	{"approved", audit.RequestApproved}, {"denied", audit.RequestDenied}, {"timed_out", audit.RequestTimedOut},
	{"emergency", audit.RequestEmergencyGranted},
}

// newMetrics registers the HTTP, Go and process metrics on reg, the database's statement and
// round-trip counters when dbCounts is set, and its connection pool's figures when pool is.
func newMetrics(reg *prometheus.Registry, dbCounts func() (statements, roundTrips uint64), pool func() sql.DBStats) *metrics {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elevate_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "elevate_http_request_duration_seconds", Help: "HTTP request durations by route and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route", "method"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "elevate_checks_total", Help: "Check API answers by result: allowed, denied, invalid, refused, rate_limited, error.",
		}, []string{"result"}),
	}
	for _, r := range []string{checkAllowed, checkDenied, checkInvalid, checkRefused, checkRateLimited, checkError} {
		m.checks.WithLabelValues(r) // every result's series exists from the start, at 0
	}
	reg.MustRegister(m.requests, m.duration, m.checks, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if dbCounts != nil {
		reg.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "elevate_db_statements_total", Help: "SQL statements sent to the database by this process.",
			}, func() float64 { n, _ := dbCounts(); return float64(n) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "elevate_db_round_trips_total", Help: "Database round trips: statements plus each transaction's BEGIN and COMMIT or ROLLBACK.",
			}, func() float64 { _, n := dbCounts(); return float64(n) }),
		)
	}
	if pool != nil {
		reg.MustRegister(poolCollector(pool))
	}
	return m
}

var (
	descPoolMax      = prometheus.NewDesc("elevate_db_connections_max", "The most database connections this process opens (ELEVATE_DATABASE_MAX_CONNS).", nil, nil)
	descPoolConns    = prometheus.NewDesc("elevate_db_connections", "Open database connections of this process, by state: in_use, idle.", []string{"state"}, nil)
	descPoolWaits    = prometheus.NewDesc("elevate_db_connection_waits_total", "Times a statement of this process waited for a free database connection.", nil, nil)
	descPoolWaitTime = prometheus.NewDesc("elevate_db_connection_wait_seconds_total", "Time statements of this process spent waiting for a free database connection.", nil, nil)
)

// poolCollector exports the connection pool's figures, read once per scrape.
type poolCollector func() sql.DBStats

// Describe sends every metric the collector exports.
func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPoolMax, descPoolConns, descPoolWaits, descPoolWaitTime} {
		ch <- d
	}
}

// Collect reads the pool's figures and sends them.
func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	st := p()
	ch <- prometheus.MustNewConstMetric(descPoolMax, prometheus.GaugeValue, float64(st.MaxOpenConnections))
	ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(st.InUse), "in_use")
	ch <- prometheus.MustNewConstMetric(descPoolConns, prometheus.GaugeValue, float64(st.Idle), "idle")
	ch <- prometheus.MustNewConstMetric(descPoolWaits, prometheus.CounterValue, float64(st.WaitCount))
	ch <- prometheus.MustNewConstMetric(descPoolWaitTime, prometheus.CounterValue, st.WaitDuration.Seconds())
}

func (m *metrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route, method).Observe(d.Seconds())
}

// checked counts one answer of the check API.
func (m *metrics) checked(result string) { m.checks.WithLabelValues(result).Inc() }

// registerOperations registers the operator's gauges and the decision counters, read from ops
// at each scrape, and the sweep's last run from sweep; each only when it is set.
func (m *metrics) registerOperations(ops Operations, sweep func() (time.Duration, time.Time), now func() time.Time, log *slog.Logger) {
	if ops != nil {
		m.reg.MustRegister(&opsCollector{ops: ops, now: now, log: log})
	}
	if sweep != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "elevate_sweep_duration_seconds", Help: "How long this process's last request sweep took.",
			}, func() float64 { d, _ := sweep(); return d.Seconds() }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "elevate_sweep_last_run_timestamp_seconds", Help: "When this process's last request sweep ended (Unix time; 0 before the first).",
			}, func() float64 {
				if _, at := sweep(); !at.IsZero() {
					return float64(at.UnixNano()) / 1e9
				}
				return 0
			}),
		)
	}
}

// opsCollector reads pam.Operations once per scrape and exports it with the decision counters.
// A failed read is logged and leaves the database's gauges out of that scrape (the HTTP
// metrics still answer; /readyz says whether the database does).
type opsCollector struct {
	ops Operations
	now func() time.Time
	log *slog.Logger
}

var (
	descPending        = prometheus.NewDesc("elevate_requests_pending", "Pending requests whose time to be decided has not run out.", nil, nil)
	descGrants         = prometheus.NewDesc("elevate_grants_in_force", "Approved requests in force now (starts_at <= now < ends_at).", nil, nil)
	descDecisions      = prometheus.NewDesc("elevate_decisions_total", "Decisions on requests committed by this process, by outcome: approved, denied, timed_out, emergency.", []string{"outcome"}, nil)
	descMailDepth      = prometheus.NewDesc("elevate_mail_queue_depth", "Mail messages waiting to be sent, by state: queued, retrying.", []string{"state"}, nil)
	descMailOldest     = prometheus.NewDesc("elevate_mail_oldest_waiting_seconds", "Age of the oldest mail message waiting to be sent (0 when none waits).", nil, nil)
	descWebhookDepth   = prometheus.NewDesc("elevate_webhook_queue_depth", "Webhook deliveries waiting to be made, by state: queued, retrying.", []string{"state"}, nil)
	descWebhookOldest  = prometheus.NewDesc("elevate_webhook_oldest_waiting_seconds", "Age of the oldest webhook delivery waiting to be made (0 when none waits).", nil, nil)
	descAuditUnsealed  = prometheus.NewDesc("elevate_audit_unsealed_events", "Stored audit events waiting to be sealed into the chain.", nil, nil)
	descAuditOldest    = prometheus.NewDesc("elevate_audit_oldest_unsealed_seconds", "Age of the oldest audit event waiting to be sealed (0 when none waits).", nil, nil)
	operationsReadTime = 5 * time.Second
)

// Describe sends every metric the collector exports.
func (o *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPending, descGrants, descDecisions, descMailDepth, descMailOldest,
		descWebhookDepth, descWebhookOldest, descAuditUnsealed, descAuditOldest} {
		ch <- d
	}
}

// Collect reads the figures and sends them.
func (o *opsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range decisionOutcomes {
		ch <- prometheus.MustNewConstMetric(descDecisions, prometheus.CounterValue, float64(o.ops.CommittedEvents(d.action.String())), d.outcome)
	}
	ctx, cancel := context.WithTimeout(context.Background(), operationsReadTime)
	defer cancel()
	now := o.now()
	v, err := o.ops.Operations(ctx, now)
	if err != nil {
		o.log.Warn("metrics: reading the operations figures failed; left out of this scrape", "error", err.Error())
		return
	}
	age := func(since time.Time) float64 {
		if since.IsZero() || since.After(now) {
			return 0
		}
		return now.Sub(since).Seconds()
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descPending, float64(v.RequestsPending))
	gauge(descGrants, float64(v.GrantsInForce))
	gauge(descMailDepth, float64(v.Mail.Queued), pam.MailQueued)
	gauge(descMailDepth, float64(v.Mail.Retrying), pam.MailRetrying)
	gauge(descMailOldest, age(v.Mail.Oldest))
	gauge(descWebhookDepth, float64(v.Webhooks.Queued), pam.MailQueued)
	gauge(descWebhookDepth, float64(v.Webhooks.Retrying), pam.MailRetrying)
	gauge(descWebhookOldest, age(v.Webhooks.Oldest))
	gauge(descAuditUnsealed, float64(v.AuditWaiting))
	gauge(descAuditOldest, age(v.AuditOldest))
}

func (s *Server) metricsHandler() echo.HandlerFunc {
	return echo.WrapHandler(promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
}
