package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gomr/gomr/primary/access"
	"github.com/gomr/gomr/primary/state"
	"github.com/gomr/gomr/primary/web"
)

// tokens is a fixed token table standing in for the replicated one.
type tokens map[string]access.Grant

func (tt tokens) CheckToken(_ context.Context, token string) (access.Grant, error) {
	if g, ok := tt[token]; ok {
		return g, nil
	}
	return access.Grant{}, errors.New("token is unknown or revoked")
}

// TestPagesNeedAToken: with a token checker (a cluster with TLS) every
// page and /metrics refuse a request without a valid token; a bearer
// token or the cookie of the sign-in page opens them; the token never
// appears in a page.
func TestPagesNeedAToken(t *testing.T) {
	good, _, _ := access.NewToken()
	h, err := web.NewHandler(web.Config{NodeID: "primary-1", Source: cluster(), View: state.New().View, Raft: leaderRaft(),
		Now: func() time.Time { return time.Unix(0, at(100)) }, Tokens: tokens{good: {Accessor: "a1", Name: "ann", Role: access.RoleRead}}})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	for _, path := range []string{"/", "/steps/s-RUN", "/steps/s-RUN/attempts/attempt_s-RUN_m_000000_0/logs", "/nope"} {
		rec := serve(httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" || strings.Contains(rec.Body.String(), "s-RUN") {
			t.Errorf("GET %s without a token: %d to %q, want a redirect to /login and nothing of the cluster", path, rec.Code, rec.Header().Get("Location"))
		}
	}
	for _, auth := range []string{"", "Bearer nope"} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		if rec := serve(r); rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "gomr_steps") {
			t.Errorf("GET /metrics with %q: %d, want 401", auth, rec.Code)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	r.Header.Set("Authorization", "Bearer "+good)
	if rec := serve(r); rec.Code != http.StatusOK {
		t.Errorf("GET /metrics with a read token: %d", rec.Code)
	}
	post := func(token string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return serve(r)
	}
	if rec := post("gomr_wrong"); rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "not valid") || len(rec.Result().Cookies()) != 0 {
		t.Errorf("sign-in with a bad token: %d, cookies %v", rec.Code, rec.Result().Cookies())
	}
	rec := post(good)
	cookies := rec.Result().Cookies()
	if rec.Code != http.StatusSeeOther || len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in: %d, cookies %v", rec.Code, cookies)
	}
	r = httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(cookies[0])
	page := serve(r)
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), "s-RUN") || strings.Contains(page.Body.String(), good) {
		t.Fatalf("the overview after sign-in: %d (token in page: %v)", page.Code, strings.Contains(page.Body.String(), good))
	}
}
