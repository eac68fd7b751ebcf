package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// check and run fail closed: every answer but an explicit allow is exit 1 (denied) or 2 (error),
// and run never starts the command then.
func TestCheckAndRunFailClosed(t *testing.T) {
	answer := func(status int, body string, delay time.Duration) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/check" || r.Header.Get("Authorization") != "Bearer elvc_test" {
				http.Error(w, `{"error":"wrong call"}`, http.StatusTeapot)
				return
			}
			time.Sleep(delay)
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	marker := filepath.Join(t.TempDir(), "ran")
	cmd := []string{"--", "sh", "-c", "touch " + marker + "; exit 7"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want int
		says string
	}{
		{"allowed", nil, nil, 0, ""},
		{"denied", map[string]string{"body": `{"allowed":false,"reason":"no grant in force"}`}, nil, 1, "no grant in force"},
		{"server error", map[string]string{"status": "503", "body": `{"allowed":false,"reason":"unavailable"}`}, nil, 2, "503"},
		{"allowed with an error status", map[string]string{"status": "500", "body": `{"allowed":true}`}, nil, 2, "500"},
		{"bad token", map[string]string{"status": "401", "body": `{"error":"The check token is missing"}`}, nil, 2, "401"},
		{"rate limited", map[string]string{"status": "429", "body": `{"allowed":false}`}, nil, 2, "429"},
		{"not JSON", map[string]string{"body": `allowed`}, nil, 2, "200"},
		{"no allowed field", map[string]string{"body": `{"reason":"x"}`}, nil, 2, ""},
		{"timeout", map[string]string{"delay": "1"}, []string{"--timeout", "100ms"}, 2, "no answer"},
		{"unreachable", map[string]string{"url": "http://127.0.0.1:1"}, nil, 2, "no answer"},
		{"no token", map[string]string{"token": "-"}, nil, 2, "ELEVATE_CHECK_TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, delay := http.StatusOK, `{"allowed":true,"reason":"grant in force"}`, time.Duration(0)
			if v := tc.env["status"]; v != "" {
				status = map[string]int{"503": 503, "500": 500, "401": 401, "429": 429}[v]
			}
			if v := tc.env["body"]; v != "" {
				body = v
			}
			if tc.env["delay"] != "" {
				delay = time.Second
			}
			env := map[string]string{"ELEVATE_URL": answer(status, body, delay), "ELEVATE_CHECK_TOKEN": "elvc_test"}
			if v := tc.env["url"]; v != "" {
				env["ELEVATE_URL"] = v
			}
			if tc.env["token"] == "-" {
				delete(env, "ELEVATE_CHECK_TOKEN")
			}
			getenv := func(k string) string { return env[k] }
			var out, errOut strings.Builder
			args := append([]string{"check", "--user", "ana@example.com", "--task", "exchange/Set-Mailbox"}, tc.args...)
			if got := run(context.Background(), args, getenv, strings.NewReader(""), &out, &errOut); got != tc.want || !strings.Contains(errOut.String(), tc.says) {
				t.Fatalf("check: exit %d (want %d), stderr %q (want %q)", got, tc.want, errOut.String(), tc.says)
			}
			os.Remove(marker)
			env["USER"], env["ELEVATE_USER_DOMAIN"] = "ana", "example.com"
			errOut.Reset()
			args = append(append([]string{"run", "--task", "exchange/Set-Mailbox"}, tc.args...), cmd...)
			got := run(context.Background(), args, getenv, strings.NewReader(""), &out, &errOut)
			_, statErr := os.Stat(marker)
			ran := statErr == nil
			if tc.want == 0 && (got != 7 || !ran) {
				t.Fatalf("run when allowed: exit %d, ran %v; want the command's 7", got, ran)
			}
			if tc.want != 0 && (got != tc.want || ran) {
				t.Fatalf("run when not allowed: exit %d (want %d), ran %v; %s", got, tc.want, ran, errOut.String())
			}
		})
	}
}

// run takes the invoking user from SUDO_USER and then refuses --user; a bare name needs a domain.
func TestRunUser(t *testing.T) {
	var seen string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 512)
		n, _ := r.Body.Read(b)
		seen = string(b[:n])
		_, _ = w.Write([]byte(`{"allowed":true}`))
	}))
	defer srv.Close()
	base := map[string]string{"ELEVATE_URL": srv.URL, "ELEVATE_CHECK_TOKEN": "elvc_x", "USER": "root", "ELEVATE_USER_DOMAIN": "example.com"}
	try := func(extra map[string]string, args ...string) int {
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range extra {
			env[k] = v
		}
		seen = ""
		var out, errOut strings.Builder
		return run(context.Background(), append(append([]string{"run", "--task", "x/y"}, args...), "--", "true"), func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	}
	if code := try(map[string]string{"SUDO_USER": "ana"}); code != 0 || !strings.Contains(seen, `"ana@example.com"`) {
		t.Fatalf("under sudo: exit %d, asked %s", code, seen)
	}
	if code := try(map[string]string{"SUDO_USER": "ana"}, "--user", "root@example.com"); code != 2 || seen != "" {
		t.Fatalf("under sudo with --user: exit %d, asked %q", code, seen)
	}
	if code := try(nil, "--user", "olivia@corp.example"); code != 0 || !strings.Contains(seen, `"olivia@corp.example"`) {
		t.Fatalf("--user: exit %d, asked %s", code, seen)
	}
	if code := try(map[string]string{"ELEVATE_USER_DOMAIN": ""}); code != 2 || seen != "" {
		t.Fatalf("a bare name without a domain: exit %d, asked %q", code, seen)
	}
}
