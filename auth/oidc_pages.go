package auth

import (
	"bytes"
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

// The templates are frontend/templates/provider.html, translated into
// each language the pages speak (see pageLanguages) before they are parsed.

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
	// Hint tells a person what to do about Message, which may be a
	// technical description meant for the application's developers.
	Hint   string
	Fields map[string]string
	// UILocales is the authorization request's ui_locales, which choose
	// the page's language before Accept-Language does.
	UILocales string
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
	lang := s.pages.choose(c, d.UILocales)
	// The Go code's texts (titles, buttons, messages, scopes) in the
	// page's language; a technical description with no translation stays
	// as it is.
	d.Title = strings.ReplaceAll(s.pages.T(lang, d.Title), "{client}", d.Client)
	d.Message, d.Button = strings.ReplaceAll(s.pages.T(lang, d.Message), "{user}", d.Username), s.pages.T(lang, d.Button)
	d.Hint = s.pages.T(lang, d.Hint)
	scopes := make([]string, len(d.Scopes))
	for i, sc := range d.Scopes {
		scopes[i] = s.pages.T(lang, sc)
	}
	d.Scopes = scopes
	var buf bytes.Buffer
	if err := s.pages.provider[lang].ExecuteTemplate(&buf, name, d); err != nil {
		return err
	}
	pageHeaders(c, lang)
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
		UILocales: req.UILocales,
	}, req.RedirectURI)
}

func (s *Server) consentPage(c *fiber.Ctx, client *store.Client, id string, req *authzRequest, ps *providerSession) error {
	var scopes []string
	for _, sc := range req.Scope {
		scopes = append(scopes, scopeWords[sc])
	}
	return s.renderPage(c, http.StatusOK, "consent", pageData{
		Title: "Allow {client}", Page: "consent", Request: id, Client: client.ID, Username: ps.user.Username,
		Scopes: scopes, CSRF: s.consentToken(ps.session.ID, id), UILocales: req.UILocales,
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
