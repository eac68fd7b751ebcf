package web

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestMaxBytesErrorIs413: a body cut at the limit while a handler read it is the caller's
// fault, answered 413 with the usual JSON error, never a 500.
func TestMaxBytesErrorIs413(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	req := httptest.NewRequest(http.MethodPost, "/api/v1/requests", strings.NewReader(strings.Repeat("a", maxBody+1)))
	rec := httptest.NewRecorder()
	c := echo.New().NewContext(req, rec)
	c.Set(requestIDKey, "r1")
	_, err := io.ReadAll(http.MaxBytesReader(rec, req.Body, maxBody))
	s.handleError(fmt.Errorf("read form: %w", err), c)
	var out map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != http.StatusRequestEntityTooLarge ||
		out["error"] != tooLargeMessage || out["request_id"] != "r1" {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
}
