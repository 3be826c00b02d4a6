package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/gomr/gomr/primary/access"
)

// TokenChecker finds what a client token grants (the primary's replicated
// tokens; see package access).
type TokenChecker interface {
	CheckToken(ctx context.Context, token string) (access.Grant, error)
}

// tokenCookie holds a browser's token once it signed in.
const tokenCookie = "gomr_token"

// tokenFrom returns the token of a request: its bearer token, else its
// cookie.
func tokenFrom(r *http.Request) string {
	if t, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	if c, err := r.Cookie(tokenCookie); err == nil {
		return c.Value
	}
	return ""
}

// requireToken lets through requests with a valid token of role read or
// above: a browser without one is sent to the sign-in page, a scraper of
// /metrics gets 401. Denials are logged with the address and path, never
// the token.
func (p *pages) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			next.ServeHTTP(w, r)
			return
		}
		_, err := p.check(r.Context(), tokenFrom(r))
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		p.cfg.Logger.Warn("status page request denied", "peer", r.RemoteAddr, "path", r.URL.Path, "err", err)
		if r.URL.Path == "/metrics" || r.Header.Get("Authorization") != "" { // a program, not a browser
			w.Header().Set("WWW-Authenticate", `Bearer realm="gomr"`)
			http.Error(w, "a token of role read or above is needed (Authorization: Bearer TOKEN)", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
}

// check returns the grant of a token good enough for the pages.
func (p *pages) check(ctx context.Context, token string) (access.Grant, error) {
	if token == "" {
		return access.Grant{}, errors.New("no token")
	}
	g, err := p.cfg.Tokens.CheckToken(ctx, token)
	if err == nil && !g.Role.Allows(access.RoleRead) {
		err = fmt.Errorf("%s may not read", g)
	}
	return g, err
}

var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>gomr: sign in</title></head>
<body>
<h1>gomr</h1>
<p>This cluster asks for a token (role read or above). gomr local keeps its admin token in the file it names at start; an admin makes others with <code>gomr token create</code>.</p>
{{if .}}<p id="error" style="color:#b00">{{.}}</p>{{end}}
<form method="post" action="/login">
<label>Token <input type="password" name="token" id="token" autocomplete="off" size="90"></label>
<button type="submit" id="sign-in">Sign in</button>
</form>
</body></html>
`))

// login shows the sign-in form (GET) or checks the token it posts and
// keeps it in an HTTP-only cookie (POST).
func (p *pages) login(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		loginPage.Execute(w, "")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	g, err := p.check(r.Context(), token)
	if err != nil {
		p.cfg.Logger.Warn("status page sign-in refused", "peer", r.RemoteAddr, "err", err)
		w.WriteHeader(http.StatusUnauthorized)
		loginPage.Execute(w, "That token is not valid here: "+err.Error())
		return
	}
	c := &http.Cookie{Name: tokenCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode}
	if g.ExpiresAt != 0 {
		c.Expires = time.Unix(0, g.ExpiresAt)
	}
	http.SetCookie(w, c)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
