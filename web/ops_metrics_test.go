package web_test

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/elevate-pam/elevate/internal/testenv"
)

// metricValue returns the value of one series (name with its labels, as exposed) on /metrics,
// failing the test when the series is missing.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no series %s on /metrics", series)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

// After a submit, an approval, a denial and checks of every kind, /metrics shows what an
// operator watches: what waits, what is in force, the decisions and checks by outcome, the
// queues and their oldest message, the audit events waiting to be sealed and the last sweep.
func TestOperatorMetrics(t *testing.T) {
	testenv.ForEachDialect(t, func(t *testing.T, dialect string) {
		a := newAppWithMail(t, dialect)
		a.mustUser("root@example.com", "Root Admin", goodPassword, true)
		a.mustUser("rhea@example.com", "Rhea Requester", goodPassword, false)
		olivia := a.mustUser("olivia@example.com", "Olivia Approver", goodPassword, false)
		es := a.mustEstate(1, olivia)
		root := a.client()
		root.signIn("root@example.com", goodPassword)
		ctok := a.checkToken(root, "runspace")
		rtok, otok := a.apiToken("rhea@example.com"), a.apiToken("olivia@example.com")

		scrape := func() string {
			t.Helper()
			m := a.client().get("/metrics")
			if m.StatusCode != http.StatusOK {
				t.Fatalf("metrics: %d", m.StatusCode)
			}
			return m.body
		}
		before := scrape()
		for _, s := range []string{`elevate_decisions_total{outcome="approved"}`, `elevate_checks_total{result="allowed"}`, `elevate_checks_total{result="refused"}`} {
			if v := metricValue(t, before, s); v != 0 {
				t.Fatalf("%s = %v before anything happened", s, v)
			}
		}
		submit := func() string {
			t.Helper()
			code, out := a.apiCall("POST", "/api/v1/requests", rtok, map[string]any{"policy_id": es.policy.ID, "duration_min": 60, "justification": "INC-9"})
			if code != http.StatusCreated && code != http.StatusOK {
				t.Fatalf("submit: %d %v", code, out)
			}
			return out["id"].(string)
		}
		check := func(token string, body any, want int) {
			t.Helper()
			if code, out := a.apiCall("POST", "/api/v1/check", token, body); code != want {
				t.Fatalf("check: %d %v, want %d", code, out, want)
			}
		}
		approved, denied, waiting := submit(), submit(), submit()
		_ = waiting
		if body := scrape(); metricValue(t, body, "elevate_requests_pending") != 3 || metricValue(t, body, "elevate_grants_in_force") != 0 {
			t.Fatalf("after three submits:\n%s", body)
		}
		call := map[string]string{"user": "rhea@example.com", "task": es.task.Key}
		check(ctok, call, http.StatusOK) // denied: nothing approved yet
		for id, verb := range map[string]string{approved: "approve", denied: "deny"} {
			if code, out := a.apiCall("POST", "/api/v1/requests/"+id+"/"+verb, otok, map[string]string{"comment": "ok"}); code != http.StatusOK {
				t.Fatalf("%s: %d %v", verb, code, out)
			}
		}
		check(ctok, call, http.StatusOK) // allowed
		check(ctok, call, http.StatusOK)
		check("elvc_not-a-live-token", call, http.StatusUnauthorized)
		check(ctok, map[string]string{"user": "rhea@example.com"}, http.StatusBadRequest)
		a.clock.Advance(90 * time.Second)

		body := scrape()
		for series, want := range map[string]float64{
			"elevate_requests_pending":                     1,
			"elevate_grants_in_force":                      1,
			`elevate_decisions_total{outcome="approved"}`:  1,
			`elevate_decisions_total{outcome="denied"}`:    1,
			`elevate_decisions_total{outcome="timed_out"}`: 0,
			`elevate_decisions_total{outcome="emergency"}`: 0,
			`elevate_checks_total{result="allowed"}`:       2,
			`elevate_checks_total{result="denied"}`:        1,
			`elevate_checks_total{result="refused"}`:       1,
			`elevate_checks_total{result="invalid"}`:       1,
			`elevate_checks_total{result="rate_limited"}`:  0,
			`elevate_checks_total{result="error"}`:         0,
			`elevate_webhook_queue_depth{state="queued"}`:  0,
			"elevate_webhook_oldest_waiting_seconds":       0,
			"elevate_sweep_duration_seconds":               0.25,
		} {
			if got := metricValue(t, body, series); got != want {
				t.Errorf("%s = %v, want %v", series, got, want)
			}
		}
		// Mail waits in the outbox (no worker runs here): the approvers' and the requester's.
		if n := metricValue(t, body, `elevate_mail_queue_depth{state="queued"}`); n < 3 {
			t.Errorf("mail queued %v, want at least 3", n)
		}
		if metricValue(t, body, `elevate_mail_queue_depth{state="retrying"}`) != 0 {
			t.Errorf("mail retrying")
		}
		if age := metricValue(t, body, "elevate_mail_oldest_waiting_seconds"); age < 90 {
			t.Errorf("oldest mail waits %v s, want at least 90", age)
		}
		if metricValue(t, body, "elevate_audit_unsealed_events") < 0 || metricValue(t, body, "elevate_audit_oldest_unsealed_seconds") < 0 {
			t.Errorf("audit waiting")
		}
		if at := metricValue(t, body, "elevate_sweep_last_run_timestamp_seconds"); at != float64(a.clock.Now().UnixNano())/1e9 {
			t.Errorf("sweep last run %v", at)
		}

		// The connection pool: its size as set for the process, what is open, and the waits
		// for a connection, from which an operator sizes ELEVATE_DATABASE_MAX_CONNS.
		if err := a.db.SetMaxConnections(3); err != nil {
			t.Fatal(err)
		}
		body = scrape()
		inUse, idle := metricValue(t, body, `elevate_db_connections{state="in_use"}`), metricValue(t, body, `elevate_db_connections{state="idle"}`)
		if got := metricValue(t, body, "elevate_db_connections_max"); got != 3 || inUse+idle < 1 || inUse+idle > 3 {
			t.Errorf("pool: at most %v, %v in use, %v idle", got, inUse, idle)
		}
		if metricValue(t, body, "elevate_db_connection_waits_total") < 0 || metricValue(t, body, "elevate_db_connection_wait_seconds_total") < 0 {
			t.Errorf("pool waits")
		}
	})
}
