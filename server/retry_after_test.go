package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestRetryAfterOnRetryableProblems: every problem with a status clients retry (408, 409, 425,
// 429, 502, 503, 504) carries a Retry-After in whole seconds, one the problem names kept; other
// statuses get none.
func TestRetryAfterOnRetryableProblems(t *testing.T) {
	e := echo.New()
	handle := errorHandler(slog.New(slog.DiscardHandler))
	for status, want := range map[int]string{408: "1", 409: "1", 425: "1", 429: "1", 502: "1", 503: "1", 504: "1", 400: "", 404: "", 500: ""} {
		rec := httptest.NewRecorder()
		handle(&Problem{Status: status, Detail: "x"}, e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec))
		if got := rec.Header().Get("Retry-After"); got != want || rec.Code != status {
			t.Errorf("%d: Retry-After %q, want %q", status, got, want)
		}
	}
	rec := httptest.NewRecorder()
	handle(&Problem{Status: 429, Header: http.Header{"Retry-After": []string{"7"}}}, e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec))
	if s, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || s != 7 {
		t.Errorf("the problem's own Retry-After was replaced: %q", rec.Header().Get("Retry-After"))
	}
}
