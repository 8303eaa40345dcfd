package auth

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
)

// CORS (the Fetch standard's HTTP extensions) for web apps on other origins
// that use latch.js: they call the token, ceremony and account endpoints
// and import the client module itself from Latch. Only registered web
// origins get an answer, each its own origin echoed back (never "*"), and
// no credentials mode: tokens travel in headers, never in cookies, so a
// page on another origin gains nothing from the user's cookies here.

// corsMaxAge is how long a browser may cache a preflight answer, in
// seconds. Chromium caps it at 7200; a longer value would only mislead.
const corsMaxAge = "7200"

const (
	corsAllowMethods  = "GET, POST, PATCH, DELETE"
	corsAllowHeaders  = "Authorization, DPoP, Content-Type"
	corsExposeHeaders = "DPoP-Nonce, WWW-Authenticate, Retry-After"
)

// corsPath reports whether a path is one that web apps on other origins
// call: the JSON APIs latch.js uses, the metadata and key documents, and
// the client module at both its paths. The pages, the admin-facing
// endpoints (/introspect takes a client secret, a thing no browser holds)
// and the probes stay same-origin.
func corsPath(p string) bool {
	switch p {
	case "/token", "/revoke", "/userinfo", "/logout", "/me", "/totp":
		return true
	}
	for _, prefix := range []string{"/.well-known/", "/webauthn/", "/totp/", "/me/", "/credentials/", "/latch/"} {
		if strings.HasPrefix(p, prefix) {
			return true
		}
	}
	// The client module and its parts at their unversioned paths.
	return strings.HasPrefix(p, "/latch") && strings.HasSuffix(p, ".js") && !strings.Contains(p[1:], "/")
}

// clientCORSPath reports whether a path is one an OpenID Connect client's
// own pages call (a SPA): the token, revocation and UserInfo endpoints and
// the metadata and key documents. The account, ceremony and credential
// APIs stay for --web-origin apps, which run Latch's own client.
func clientCORSPath(p string) bool {
	switch p {
	case "/token", "/revoke", "/userinfo":
		return true
	}
	return strings.HasPrefix(p, "/.well-known/")
}

// originAllowed reports whether a web app on origin may call path from its
// pages: a --web-origin app every CORS path, an OpenID Connect client's
// origin (registered with --web-origin, or of one of its https or
// loopback redirect URIs) the client paths. Every CORS decision goes
// through this one function.
func (s *Server) originAllowed(origin, path string) bool {
	if _, ok := s.webOrigins[origin]; ok {
		return true
	}
	if !clientCORSPath(path) {
		return false
	}
	_, ok := (*s.clientOrigins.Load())[origin]
	return ok
}

// clientOriginsOf lists the origins a client's pages may call from.
func clientOriginsOf(c *store.Client) []string {
	out := append([]string(nil), c.WebOrigins...)
	for _, uri := range c.RedirectURIs {
		u, err := url.Parse(uri)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			continue // a native app's private-use scheme: no browser origin
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out
}

// loadClientOrigins reads every client's origins from the store into the
// set originAllowed consults; the admin socket calls it after each change
// to the clients, and a change made with the server stopped is read at
// the next start.
func (s *Server) loadClientOrigins(ctx context.Context) error {
	set := map[string]struct{}{}
	err := s.db.View(ctx, func(tx store.Tx) error {
		clients, err := tx.Clients()
		for i := range clients {
			for _, o := range clientOriginsOf(&clients[i]) {
				set[o] = struct{}{}
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	s.clientOrigins.Store(&set)
	return nil
}

// cors adds the CORS response headers for an allowed origin and answers
// its preflights. Requests from any other origin, and same-origin ones,
// pass through untouched: without Access-Control-Allow-Origin the browser
// keeps the response from the calling page.
func (s *Server) cors(c *fiber.Ctx) error {
	if !corsPath(c.Path()) {
		return c.Next()
	}
	h := &c.Response().Header
	// Caches must not serve one origin's answer to another (or a
	// same-origin answer, which has no CORS headers, to a cross-origin call).
	h.Add(fiber.HeaderVary, fiber.HeaderOrigin)
	origin := c.Request().Header.Peek(fiber.HeaderOrigin)
	if len(origin) == 0 || !s.originAllowed(string(origin), c.Path()) {
		return c.Next()
	}
	h.Set(fiber.HeaderAccessControlAllowOrigin, string(origin))
	preflight := c.Method() == fiber.MethodOptions && len(c.Request().Header.Peek(fiber.HeaderAccessControlRequestMethod)) > 0
	if !preflight {
		h.Set(fiber.HeaderAccessControlExposeHeaders, corsExposeHeaders)
		return c.Next()
	}
	h.Add(fiber.HeaderVary, fiber.HeaderAccessControlRequestMethod)
	h.Add(fiber.HeaderVary, fiber.HeaderAccessControlRequestHeaders)
	h.Set(fiber.HeaderAccessControlAllowMethods, corsAllowMethods)
	h.Set(fiber.HeaderAccessControlAllowHeaders, corsAllowHeaders)
	h.Set(fiber.HeaderAccessControlMaxAge, corsMaxAge)
	return c.SendStatus(http.StatusNoContent)
}

// webOriginSet indexes the --web-origin list (validated at start).
func webOriginSet(list []string) map[string]struct{} {
	set := make(map[string]struct{}, len(list))
	for _, o := range list {
		set[o] = struct{}{}
	}
	return set
}

// validateWebOrigin checks one --web-origin value: exactly an origin as a
// browser sends it in the Origin header (scheme://host[:port], lower case,
// no path, no default port), https except on loopback hosts.
func validateWebOrigin(o string) error {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "/") {
		return fmt.Errorf("config: --web-origin %q must be scheme://host[:port], with no path or trailing slash", o)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())) {
		return fmt.Errorf("config: --web-origin %q must use https (plain http only on localhost)", o)
	}
	if o != strings.ToLower(o) {
		return fmt.Errorf("config: --web-origin %q must be lower case, as browsers send it", o)
	}
	if port := u.Port(); port == "" && strings.HasSuffix(u.Host, ":") ||
		u.Scheme == "https" && port == "443" || u.Scheme == "http" && port == "80" {
		return fmt.Errorf("config: --web-origin %q: leave out the scheme's default port, as browsers do", o)
	}
	return nil
}
