package auth

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
)

// The provider's pages: sign-in, consent, form_post and messages. They are
// rendered on the server with html/template (every value escaped), run no
// inline script (the CSP allows only the service's own files), and may
// not be framed (frame-ancestors 'none', X-Frame-Options DENY), which is
// what stops clickjacking of "Allow".

var pageTemplates = template.Must(template.New("page").Parse(`{{define "head"}}<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{{.Title}} – Latch</title>
  <link rel="stylesheet" href="/style.css">
  {{if .Script}}<script type="module" src="{{.Script}}"></script>{{end}}
</head>
<body data-page="{{.Page}}">
  <header>
    <h1>Latch</h1>
  </header>
  <main{{if .Request}} data-request="{{.Request}}"{{end}}{{if .Create}} data-create="1"{{end}}{{if .Fresh}} data-fresh="1"{{end}}{{if .LoginHint}} data-login-hint="{{.LoginHint}}"{{end}}>
{{end}}
{{define "foot"}}  </main>
</body>
</html>
{{end}}
{{define "signin"}}{{template "head" .}}    <p id="status" data-testid="status" role="status" aria-live="polite"></p>
    <p class="tagline"><strong>{{.Client}}</strong> asks you to sign in with Latch.</p>
    <div id="view-signed-out" data-testid="view-signed-out">
      <section aria-labelledby="signin-title" class="card">
        <h2 id="signin-title">Sign in</h2>
        <form id="signin-form" data-testid="signin-form">
          <label for="signin-username">Username <span class="hint">(optional)</span></label>
          <input id="signin-username" name="username" autocomplete="username webauthn" autocapitalize="none" spellcheck="false" maxlength="64" value="{{.LoginHint}}">
          <button type="submit" id="signin-submit" data-testid="signin-submit">Sign in with a passkey</button>
          <div id="signin-error" class="field-error" data-testid="signin-error" role="alert"></div>
        </form>
      </section>
      <section aria-labelledby="signup-title" class="card">
        <h2 id="signup-title">Create an account</h2>
        <form id="signup-form" data-testid="signup-form" novalidate>
          <label for="signup-username">Username</label>
          <input id="signup-username" name="username" required maxlength="64" autocomplete="username" autocapitalize="none" spellcheck="false" aria-describedby="signup-username-hint">
          <p id="signup-username-hint" class="hint" data-testid="signup-username-hint">3 to 64 characters: letters, digits and . _ - @, no spaces. Capital and small letters count as the same.</p>
          <label for="signup-display-name">Display name</label>
          <input id="signup-display-name" name="display_name" required maxlength="128" autocomplete="name">
          <button type="submit" class="secondary" id="signup-submit" data-testid="signup-submit">Create account with a passkey</button>
          <div id="signup-error" class="field-error" data-testid="signup-error" role="alert"></div>
        </form>
      </section>
    </div>
    <div id="view-mfa" data-testid="view-mfa" hidden>
      <section aria-labelledby="mfa-title" class="card">
        <h2 id="mfa-title">Two-step verification</h2>
        <p>Enter the 6-digit code from your authenticator app.</p>
        <form id="mfa-form" data-testid="mfa-form">
          <label for="mfa-code">Authentication code</label>
          <input id="mfa-code" name="code" required inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code">
          <button type="submit" id="mfa-submit" data-testid="mfa-submit">Verify</button>
        </form>
        <details>
          <summary>Use a recovery code instead</summary>
          <form id="recovery-form" data-testid="recovery-form">
            <label for="recovery-code">Recovery code</label>
            <input id="recovery-code" name="recovery_code" required maxlength="64" autocomplete="off" autocapitalize="none" spellcheck="false">
            <button type="submit" class="secondary" id="recovery-submit" data-testid="recovery-submit">Use recovery code</button>
          </form>
        </details>
      </section>
    </div>
{{template "foot" .}}{{end}}
{{define "consent"}}{{template "head" .}}    <section aria-labelledby="consent-title" class="card">
      <h2 id="consent-title">Allow {{.Client}}?</h2>
      <p>Signed in as <strong>{{.Username}}</strong>. <strong>{{.Client}}</strong> asks to:</p>
      <ul data-testid="consent-scopes">{{range .Scopes}}
        <li>{{.}}</li>{{end}}
      </ul>
      <form method="post" action="/authorize/consent" data-testid="consent-form">
        <input type="hidden" name="request" value="{{.Request}}">
        <input type="hidden" name="csrf" value="{{.CSRF}}">
        <button type="submit" name="decision" value="allow" data-testid="consent-allow">Allow</button>
        <button type="submit" name="decision" value="deny" class="link" data-testid="consent-deny">Deny</button>
      </form>
    </section>
{{template "foot" .}}{{end}}
{{define "formpost"}}{{template "head" .}}    <form method="post" action="{{.Action}}" id="form-post" data-testid="form-post">{{range $k, $v := .Fields}}
      <input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
      <p>Returning to the application…</p>
      <button type="submit">Continue</button>
    </form>
{{template "foot" .}}{{end}}
{{define "message"}}{{template "head" .}}    <section class="card" role="alert">
      <h2>{{.Title}}</h2>
      <p data-testid="message">{{.Message}}</p>
      {{if .Action}}<form method="post" action="{{.Action}}">{{range $k, $v := .Fields}}
        <input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
        <button type="submit" data-testid="confirm">{{.Button}}</button>
      </form>{{end}}
    </section>
{{template "foot" .}}{{end}}`))

// pageData is what the templates read.
type pageData struct {
	Title, Page, Script string
	Request, Client     string
	Create, Fresh       bool
	LoginHint, Username string
	Scopes              []string
	CSRF                string
	Action, Button      string
	Message             string
	Fields              map[string]string
}

// scopeWords says what each scope lets an application have.
var scopeWords = map[string]string{
	scopeOpenID:        "know who you are (your Latch account id)",
	scopeProfile:       "see your username and display name",
	scopeOfflineAccess: "stay signed in while you are away (a refresh token)",
	scopeGroups:        "see the groups you are in",
}

// renderPage writes a provider page. formTarget, when set, is a redirect
// URI a form on the page (or a redirect after it) may go to; the CSP's
// form-action admits its origin (Chrome applies form-action to the
// redirects after a form too).
func (s *Server) renderPage(c *fiber.Ctx, status int, name string, d pageData, formTarget string) error {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, d); err != nil {
		return err
	}
	formAction := "'self'"
	if src := cspSource(formTarget); src != "" {
		formAction += " " + src
	}
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action "+formAction)
	c.Set(fiber.HeaderContentType, "text/html; charset=utf-8")
	noStore(c)
	return c.Status(status).Send(buf.Bytes())
}

// cspSource is the CSP source expression of a redirect URI's origin (or
// scheme, for a private-use scheme), or "" if none can be made safely.
func cspSource(uri string) string {
	if uri == "" {
		return ""
	}
	u, err := url.Parse(uri)
	if err != nil || strings.ContainsAny(u.Host, " ;,'\"") {
		return ""
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		return u.Scheme + "://" + u.Host
	}
	if strings.ContainsAny(u.Scheme, " ;,'\"") {
		return ""
	}
	return u.Scheme + ":"
}

func (s *Server) signInPage(c *fiber.Ctx, client *store.Client, id string, req *authzRequest) error {
	return s.renderPage(c, http.StatusOK, "signin", pageData{
		Title: "Sign in", Page: "authorize", Script: "/authorize.js", Request: id, Client: client.ID,
		Create: req.prompts("create"), Fresh: req.prompts("login") || req.MaxAge >= 0, LoginHint: req.LoginHint,
	}, req.RedirectURI)
}

func (s *Server) consentPage(c *fiber.Ctx, client *store.Client, id string, req *authzRequest, ps *providerSession) error {
	var scopes []string
	for _, sc := range req.Scope {
		scopes = append(scopes, scopeWords[sc])
	}
	return s.renderPage(c, http.StatusOK, "consent", pageData{
		Title: "Allow " + client.ID, Page: "consent", Request: id, Client: client.ID, Username: ps.user.Username,
		Scopes: scopes, CSRF: s.consentToken(ps.session.ID, id),
	}, req.RedirectURI)
}

func (s *Server) formPostPage(c *fiber.Ctx, action string, fields map[string]string) error {
	return s.renderPage(c, http.StatusOK, "formpost", pageData{
		Title: "Returning to the application", Page: "form-post", Script: "/form-post.js", Action: action, Fields: fields,
	}, action)
}

func (s *Server) messagePage(c *fiber.Ctx, status int, title, message string) error {
	return s.renderPage(c, status, "message", pageData{Title: title, Page: "message", Message: message}, "")
}
