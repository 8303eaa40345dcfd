package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/latchid/latch/frontend"
	"github.com/latchid/latch/store"
)

func (s *Server) routes(app *fiber.App) {
	app.Use(s.recoverPanics, s.securityHeaders, s.cors, s.observe, rejectEncodedBodies)

	app.Get("/healthz", func(c *fiber.Ctx) error { return c.JSON(fiber.Map{"status": "ok"}) })
	app.Get("/readyz", s.handleReady)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})))

	app.Get("/.well-known/oauth-authorization-server", s.handleMetadata)
	app.Get("/.well-known/openid-configuration", s.handleMetadata)
	app.Get("/.well-known/oauth-protected-resource", s.handleResourceMetadata)
	app.Get("/.well-known/jwks.json", s.handleJWKS)
	s.wellKnownRoutes(app)
	app.Get("/passkey-providers/:aaguid/:file", s.handleProviderIcon)

	lim := newLimits(s.cfg, s.now)
	s.metrics.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "latch_rate_limit_evictions_total",
		Help: "Per-address rate-limit buckets dropped to make room in a full table: a flood from many addresses.",
	}, lim.evictions))
	// Every change to how the account is signed in to, and deleting it,
	// needs a recent sign-in (requireStepUp). Adding a passkey checks at
	// begin, so no ceremony starts on an old sign-in, and again at finish,
	// where the credential is written: a token fresh at begin may not be
	// by then. A sign-up carries no token and passes.
	addPasskey := s.requireStepUp("adding a passkey")
	app.Post("/webauthn/register/begin", lim.begin.limit, s.optionalAuth, addPasskey, s.handleRegisterBegin)
	app.Post("/webauthn/register/finish", lim.register.limit, s.optionalAuth, addPasskey, s.handleRegisterFinish)
	app.Post("/webauthn/login/begin", lim.begin.limit, s.handleLoginBegin)
	app.Post("/webauthn/login/finish", lim.login.limit, s.handleLoginFinish)

	// Account recovery (recovery.go): a recovery session's only power is
	// to register a new passkey, so it has endpoints of its own rather
	// than a token the other routes would accept.
	app.Post("/recovery/start", lim.recovery.limit, s.handleRecoveryStart)
	app.Post("/recovery/register/begin", lim.begin.limit, s.handleRecoveryRegisterBegin)
	app.Post("/recovery/register/finish", lim.register.limit, s.handleRecoveryRegisterFinish)

	app.Post("/token", lim.token.limit, s.handleToken)
	app.Post("/revoke", lim.revoke.limit, s.handleRevoke)
	app.Post("/introspect", lim.introspect.failures, s.handleIntrospect)

	app.Get(pathAuthorize, lim.authorize.limit, s.handleAuthorize)
	app.Post(pathAuthorize, lim.authorize.limit, s.handleAuthorize)
	app.Get(pathAuthorize+"/resume", lim.authorize.limit, s.handleAuthorizeResume)
	app.Post(pathAuthorize+"/session", lim.authorize.limit, s.requireAuth, s.handleAuthorizeSession)
	app.Post(pathAuthorize+"/consent", lim.authorize.limit, s.handleAuthorizeConsent)
	app.Post(pathPAR, lim.par.limit, s.handlePAR)
	app.Get(pathEndSession, lim.authorize.limit, s.handleEndSessionRequest)
	app.Post(pathEndSession, lim.authorize.limit, s.handleEndSessionRequest)

	app.Post("/totp/enroll", s.requireAuth, s.requireStepUp("setting up two-step verification"), s.handleTOTPEnroll)
	app.Post("/totp/confirm", s.requireAuth, s.requireStepUp("turning on two-step verification"), s.handleTOTPConfirm)
	app.Post("/totp/verify", lim.totp.limit, s.handleTOTPVerify)
	app.Delete("/totp", s.requireAuth, s.requireStepUp("turning off two-step verification"), s.handleTOTPDelete)

	app.Get("/userinfo", s.requireAppAuth, s.handleUserinfo)
	app.Post("/userinfo", s.requireAppAuth, s.handleUserinfo)
	app.Get("/me/credentials", s.requireAuth, s.handleListCredentials)
	app.Patch("/me/credentials/:id", s.requireAuth, s.handleRenameCredential)
	app.Delete("/me/credentials/:id", s.requireAuth, s.requireStepUp("deleting a passkey"), s.handleDeleteCredential)
	app.Get("/me/recovery-codes", s.requireAuth, s.handleRecoveryCodesStatus)
	app.Post("/me/recovery-codes", s.requireAuth, s.requireStepUp("making new recovery codes"), s.handleNewRecoveryCodes)
	app.Get("/me/sessions", s.requireAuth, s.handleListSessions)
	app.Delete("/me/sessions/:id", s.requireAuth, s.handleEndSession)
	app.Delete("/me/sessions", s.requireAuth, s.handleEndOtherSessions)
	app.Post("/logout", s.requireAuth, s.handleLogout)
	app.Get("/me/apps", s.requireAuth, s.handleListApps)
	app.Delete("/me/apps/:client", s.requireAuth, s.handleRevokeApp)
	app.Delete("/me", s.requireAuth, s.requireStepUp("deleting the account"), s.handleDeleteAccount)

	app.Post("/credentials/sd-jwt", s.requireAuth, s.handleIssueSDJWT)
	app.Post("/credentials/verify", lim.verify.limit, s.handleVerifySDJWT)
	app.Post("/qr", s.requireAuth, s.handleQR)
	app.Get(statusPathPrefix+":id", s.handleStatusList)

	s.staticRoutes(app)
	app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
}

// staticRoutes serves the embedded pages and the JS client. Each file is
// read once at start-up; they are small and immutable for a given binary.
// The client's modules are also served under /latch/v{version}/, where
// they never change, so apps on other origins may cache them for good;
// their relative imports resolve under either path.
func (s *Server) staticRoutes(app *fiber.App) {
	assets := frontend.Assets()
	versioned := "/latch/v" + frontend.Version() + "/"
	_ = fs.WalkDir(assets, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		ctype := contentType(p)
		sum := sha256.Sum256(body)
		etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
		serveWith := func(cacheControl string) fiber.Handler {
			return func(c *fiber.Ctx) error {
				c.Set(fiber.HeaderCacheControl, cacheControl)
				c.Set(fiber.HeaderETag, etag)
				if etagMatches(c.Get(fiber.HeaderIfNoneMatch), etag) {
					return c.SendStatus(http.StatusNotModified)
				}
				c.Set(fiber.HeaderContentType, ctype)
				return c.Status(http.StatusOK).Send(body)
			}
		}
		serve := serveWith("no-cache")
		if path.Ext(p) == ".html" {
			// Pages come in each language the pages speak.
			variants := s.pages.page(p, body)
			serve = func(c *fiber.Ctx) error {
				lang := s.pages.choose(c, "")
				v := variants[lang]
				pageHeaders(c, lang)
				c.Set(fiber.HeaderCacheControl, "no-cache")
				c.Set(fiber.HeaderETag, v.etag)
				if etagMatches(c.Get(fiber.HeaderIfNoneMatch), v.etag) {
					return c.SendStatus(http.StatusNotModified)
				}
				c.Set(fiber.HeaderContentType, ctype)
				return c.Status(http.StatusOK).Send(v.body)
			}
		}
		route := "/" + p
		app.Get(route, serve)
		switch {
		case p == "index.html":
			app.Get("/", serve)
			app.Get("/recover", serve) // the recovery view of the same page
		case p == "account.html":
			app.Get("/account", serve)
		case p == "share.html":
			app.Get("/share", serve)
		case p == "favicon.svg":
			app.Get("/favicon.ico", serve) // asked for by browsers and tools that read no <link rel="icon">
		case strings.HasPrefix(p, "latch") && path.Ext(p) == ".js" && !strings.Contains(p, "/"):
			app.Get(versioned+p, serveWith("public, max-age=31536000, immutable"))
		}
		return nil
	})
	s.brandRoutes(app)
}

// brandRoutes serves the brand's style sheet (empty of rules without
// --brand-color) and logo (404 without --brand-logo).
func (s *Server) brandRoutes(app *fiber.App) {
	css := s.cfg.Brand.css()
	sum := sha256.Sum256(css)
	cssTag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	app.Get("/brand.css", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, cssTag)
		if etagMatches(c.Get(fiber.HeaderIfNoneMatch), cssTag) {
			return c.SendStatus(http.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
		return c.Send(css)
	})
	logo, logoType := s.cfg.Brand.Logo, s.cfg.Brand.LogoType
	if logoType == "" && len(logo) > 0 {
		logoType, _ = BrandLogoType(logo)
	}
	sum = sha256.Sum256(logo)
	logoTag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	app.Get("/brand-logo", func(c *fiber.Ctx) error {
		if len(logo) == 0 {
			return errNotFound("brand logo")
		}
		c.Set(fiber.HeaderCacheControl, "no-cache")
		c.Set(fiber.HeaderETag, logoTag)
		// An SVG is an image here, never a document that runs script.
		c.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
		c.Set("X-Content-Type-Options", "nosniff")
		if etagMatches(c.Get(fiber.HeaderIfNoneMatch), logoTag) {
			return c.SendStatus(http.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, logoType)
		return c.Send(logo)
	})
}

// etagMatches applies If-None-Match (RFC 9110 section 13.1.2, weak
// comparison) to one entity tag.
func etagMatches(header, etag string) bool {
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == etag || tag == "*" {
			return true
		}
	}
	return false
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

// handleReady answers 200 only when the service can sign and write. After
// a failed commit it is not ready until commits succeed again and none has
// failed for writeHoldDown: on a nearly full disk small commits still pass
// while larger ones fail, and readiness must not flap with them. While the
// last commit failed it tries one itself (at most once per probeEvery)
// rather than wait for a client's write, which a balancer that took the
// node out would never send.
func (s *Server) handleReady(c *fiber.Ctx) error {
	if s.keys == nil || s.keys.Active() == nil {
		return Errorf(http.StatusServiceUnavailable, CodeServerError, "not ready")
	}
	if e := s.clusterReady(c.UserContext()); e != nil {
		return e
	}
	now := s.now()
	if s.db.WriteHealth().Failing && s.writeProbe.due(now) {
		if err := s.db.ProbeWrite(c.UserContext(), now); err != nil && !errors.Is(err, store.ErrWriteFailed) {
			return err
		}
	}
	if h := s.db.WriteHealth(); h.Failing || heldDown(h, now) {
		e := errUnavailable()
		e.Description = "the store failed to commit recently; not ready until writes succeed again"
		return e
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// heldDown reports whether the last failed commit is too recent for
// readiness. A database that could not be reached at all is not held
// down: once it answers again (a restart, a network partition healed),
// its writes do not fail by size the way a nearly full disk's do.
func heldDown(h store.WriteHealth, now time.Time) bool {
	if h.LastFailure.IsZero() || errors.Is(h.LastError, store.ErrUnavailable) {
		return false
	}
	return now.Sub(h.LastFailure) < writeHoldDown
}

// writeHoldDown is how long readiness stays 503 after the last failed
// commit, even once commits succeed again.
const writeHoldDown = 10 * time.Second

// probeEvery bounds how often readiness probes make a write of their own.
const probeEvery = time.Second

// writeProbeGate lets one probe write through per probeEvery.
type writeProbeGate struct {
	mu   sync.Mutex
	last time.Time
}

func (g *writeProbeGate) due(now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if now.Sub(g.last) < probeEvery && !now.Before(g.last) {
		return false
	}
	g.last = now
	return true
}
