package auth

import (
	"io/fs"
	"math"
	"net/http"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchid/latch/frontend"
)

func (s *Server) routes(app *fiber.App) {
	app.Use(s.recoverPanics, s.securityHeaders, s.observe, rejectEncodedBodies)

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", s.handleReady)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})))

	app.Get("/.well-known/oauth-authorization-server", s.handleMetadata)
	app.Get("/.well-known/oauth-protected-resource", s.handleResourceMetadata)
	app.Get("/.well-known/jwks.json", s.handleJWKS)

	limit := func(c *fiber.Ctx) error { return c.Next() }
	if s.cfg.BeginRate > 0 {
		limit = newRateLimiter(s.cfg.BeginRate, int(math.Ceil(4*s.cfg.BeginRate)), trustedPrefixes(s.cfg.TrustedProxies), s.now).limit
	}
	// Every change to how the account is signed in to, and deleting it,
	// needs a recent sign-in (requireStepUp). Adding a passkey checks at
	// begin, so no ceremony starts on an old sign-in, and again at finish,
	// where the credential is written: a token fresh at begin may not be
	// by then. A sign-up carries no token and passes.
	addPasskey := s.requireStepUp("adding a passkey")
	app.Post("/webauthn/register/begin", limit, s.optionalAuth, addPasskey, s.handleRegisterBegin)
	app.Post("/webauthn/register/finish", s.optionalAuth, addPasskey, s.handleRegisterFinish)
	app.Post("/webauthn/login/begin", limit, s.handleLoginBegin)
	app.Post("/webauthn/login/finish", s.handleLoginFinish)

	app.Post("/token", s.handleToken)
	app.Post("/revoke", s.handleRevoke)
	app.Post("/introspect", s.handleIntrospect)

	app.Post("/totp/enroll", s.requireAuth, s.requireStepUp("setting up two-step verification"), s.handleTOTPEnroll)
	app.Post("/totp/confirm", s.requireAuth, s.requireStepUp("turning on two-step verification"), s.handleTOTPConfirm)
	app.Post("/totp/verify", s.handleTOTPVerify)
	app.Delete("/totp", s.requireAuth, s.requireStepUp("turning off two-step verification"), s.handleTOTPDelete)

	app.Get("/userinfo", s.requireAuth, s.handleUserinfo)
	app.Post("/userinfo", s.requireAuth, s.handleUserinfo)
	app.Get("/me/credentials", s.requireAuth, s.handleListCredentials)
	app.Patch("/me/credentials/:id", s.requireAuth, s.handleRenameCredential)
	app.Delete("/me/credentials/:id", s.requireAuth, s.requireStepUp("deleting a passkey"), s.handleDeleteCredential)
	app.Get("/me/sessions", s.requireAuth, s.handleListSessions)
	app.Delete("/me/sessions/:id", s.requireAuth, s.handleEndSession)
	app.Post("/logout", s.requireAuth, s.handleLogout)
	app.Delete("/me", s.requireAuth, s.requireStepUp("deleting the account"), s.handleDeleteAccount)

	app.Post("/credentials/sd-jwt", s.requireAuth, s.handleIssueSDJWT)
	app.Post("/credentials/verify", s.handleVerifySDJWT)

	s.staticRoutes(app)
	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}

// staticRoutes serves the embedded pages and the JS client. Each file is
// read once at start-up; they are small and immutable for a given binary.
func (s *Server) staticRoutes(app *fiber.App) {
	assets := frontend.Assets()
	_ = fs.WalkDir(assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		ctype := contentType(p)
		serve := func(c *fiber.Ctx) error {
			c.Set(fiber.HeaderContentType, ctype)
			c.Set(fiber.HeaderCacheControl, "no-cache")
			return c.Status(http.StatusOK).Send(body)
		}
		route := "/" + p
		app.Get(route, serve)
		switch p {
		case "index.html":
			app.Get("/", serve)
		case "account.html":
			app.Get("/account", serve)
		}
		return nil
	})
}

func contentType(p string) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

func (s *Server) handleReady(c *fiber.Ctx) error {
	if s.keys == nil || s.keys.Active() == nil {
		return Errorf(http.StatusServiceUnavailable, CodeServerError, "not ready")
	}
	return c.JSON(fiber.Map{"status": "ready"})
}
