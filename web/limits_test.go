package web_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const overLimit = 64<<10 + 1

// unsized hides a body's length, so the client sends it chunked, without a Content-Length.
func unsized(s string) io.Reader { return io.MultiReader(strings.NewReader(s)) }

const multipartBody = "--b\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\nx\r\n--b--\r\n"

// TestPageBodyLimits: a page form over 64 KiB answers 413 whether or not it declares its length,
// a multipart form 415, each on the error page with a message; a normal form still signs in.
func TestPageBodyLimits(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("ana@example.com", "Ana", goodPassword, false)
	c := a.client()
	c.get("/login")
	form := url.Values{"_csrf": {c.csrf}, "email": {"ana@example.com"}, "password": {goodPassword}}

	big := form.Encode() + "&pad=" + strings.Repeat("a", overLimit)
	for _, tc := range []struct {
		name, ctype string
		body        io.Reader
		status      int
		message     string
	}{
		{"declared length", "application/x-www-form-urlencoded", strings.NewReader(big), http.StatusRequestEntityTooLarge, "64 KiB"},
		{"chunked", "application/x-www-form-urlencoded", unsized(big), http.StatusRequestEntityTooLarge, "64 KiB"},
		{"multipart", "multipart/form-data; boundary=b", strings.NewReader(multipartBody), http.StatusUnsupportedMediaType, "multipart"},
		{"multipart, odd case", " Multipart/Form-Data ; boundary=b", unsized(multipartBody), http.StatusUnsupportedMediaType, "multipart"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/login", tc.body)
			req.Header.Set("Content-Type", tc.ctype)
			p := c.do(req)
			if p.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", p.StatusCode, tc.status)
			}
			if msg := p.find("error-page").Text(); !strings.Contains(msg, tc.message) || p.find("request-id").Text() == "" {
				t.Fatalf("error page %q", msg)
			}
		})
	}
	if c.signedIn() {
		t.Fatal("a refused body signed in")
	}

	// A normal form, even one close to the limit, still works.
	form.Set("pad", strings.Repeat("a", 60<<10))
	req, _ := http.NewRequest(http.MethodPost, a.srv.URL+"/login", unsized(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p := c.do(req); p.StatusCode != http.StatusSeeOther || p.Header.Get("Location") != "/" {
		t.Fatalf("sign in with a 60 KiB form: %d %q", p.StatusCode, p.Header.Get("Location"))
	}
	if !c.signedIn() {
		t.Fatal("not signed in after a normal form")
	}
}

// TestAPIBodyLimits: an API body over 64 KiB answers 413 whether or not it declares its length,
// a multipart body 415, both as JSON errors with the request id; a normal body still works.
func TestAPIBodyLimits(t *testing.T) {
	a := newApp(t, "sqlite")
	a.mustUser("root@example.com", "Root", goodPassword, true)
	rc := a.client()
	rc.signIn("root@example.com", goodPassword)
	api := rc.makeToken("automation", "api")
	check := rc.makeToken("runspace", "check")

	bigJSON := `{"justification":"` + strings.Repeat("a", overLimit) + `"}`
	for _, tc := range []struct {
		name, path, token, ctype string
		body                     io.Reader
		status                   int
	}{
		{"declared length, no token", "/api/v1/requests", "", "application/json", strings.NewReader(bigJSON), http.StatusRequestEntityTooLarge},
		{"chunked", "/api/v1/requests", api, "application/json", unsized(bigJSON), http.StatusRequestEntityTooLarge},
		{"chunked check", "/api/v1/check", check, "application/json", unsized(bigJSON), http.StatusRequestEntityTooLarge},
		{"chunked form", "/api/v1/requests", api, "application/x-www-form-urlencoded", unsized("a=" + strings.Repeat("a", overLimit)), http.StatusRequestEntityTooLarge},
		{"multipart", "/api/v1/requests", api, "multipart/form-data; boundary=b", strings.NewReader(multipartBody), http.StatusUnsupportedMediaType},
		{"multipart, no token", "/api/v1/requests", "", "multipart/form-data; boundary=b", unsized(multipartBody), http.StatusUnsupportedMediaType},
		// The check API authenticates first and then reads at most the limit itself, so that
		// every call with a valid check token is refused on the audit trail.
		{"multipart check", "/api/v1/check", check, "multipart/form-data; boundary=b", unsized(multipartBody), http.StatusBadRequest},
		{"multipart check, no token", "/api/v1/check", "", "multipart/form-data; boundary=b", unsized(multipartBody), http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, a.srv.URL+tc.path, tc.body)
			req.Header.Set("Content-Type", tc.ctype)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
			}
			msg, _ := out["error"].(string)
			if resp.StatusCode != tc.status || msg == "" || out["request_id"] == "" || out["request_id"] == nil {
				t.Fatalf("status %d, want %d: %v", resp.StatusCode, tc.status, out)
			}
		})
	}
	// A normal body gets past the limit to the handler (which answers 400 for the missing duration).
	if code, out := a.apiCall(http.MethodPost, "/api/v1/requests", api, map[string]any{"justification": strings.Repeat("a", 60<<10)}); code != http.StatusBadRequest || out["field"] != "duration_min" {
		t.Fatalf("normal body: %d %v", code, out)
	}
}
