// Package auth is the Latch service: the HTTP API on Fiber, the middleware
// that authenticates requests, and the rules of accounts, sessions and
// factors. It composes the webauthn, token (tokens and its jose, dpop and
// sdjwt subpackages) and store packages.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/store"
	"github.com/latchid/latch/tokens"
	"github.com/latchid/latch/webauthn"

	"github.com/latchid/latch/tokens/jose"

	"github.com/latchid/latch/tokens/dpop"
)

// Server is a running (or ready to run) Latch service. It owns the store,
// the signing keys and the HTTP application; cmd/latch never sees Fiber.
type Server struct {
	cfg Config
	// pages are the pages in every language they speak.
	pages *pageLanguages
	log   *slog.Logger
	now   func() time.Time

	db store.Store
	// cluster keeps this node in step with others on a shared store.
	cluster cluster
	rp      *webauthn.RP
	keys    *jose.Keyring
	// proxies are the trusted proxies (Config.TrustedProxies).
	proxies []netip.Prefix
	access  *tokens.AccessTokens
	dpop    *dpop.DPoP
	revoked *revocationList
	users   userCache
	// webOrigins are the --web-origin values, consulted by originAllowed.
	webOrigins map[string]struct{}
	// clientOrigins are the origins of the OpenID Connect clients' pages
	// (loadClientOrigins), replaced whole when a client changes.
	clientOrigins atomic.Pointer[map[string]struct{}]
	metrics       *metrics
	// writeProbe paces readiness's own write probes.
	writeProbe writeProbeGate
	// failures budgets the audit events of failed sign-ins (audit.go).
	failures failureAudit
	// statusLists holds the signed Token Status Lists (statuslist.go).
	statusLists statusLists

	// recoveryKey keys the hashes of recovery codes.
	recoveryKey []byte
	// recoveryFailures counts wrong recovery codes per username, known or
	// not (recovery.go). Unlike the per-address limits, it is never lifted.
	recoveryFailures *rateLimiter
	// refreshKey keys the MAC by which a refresh token names its session
	// (tokens.NewSessionRefresh).
	refreshKey []byte
	// wellKnown holds the related-origins and app-association documents.
	wellKnown wellKnownDocs
	// dpopNonceKey keys the DPoP server nonces, alike on every node.
	dpopNonceKey []byte
	// providerKey keys the provider session cookie's MAC and the consent
	// and logout forms' CSRF tokens.
	providerKey []byte
	// clientKeys caches the JWK Sets fetched from clients' jwks_uri.
	clientKeys clientKeyCache
	// backchannel delivers logout tokens (backchannel.go).
	backchannel *backchannel

	app      *fiber.App
	ln       net.Listener
	adminSrv *http.Server // the admin socket's, once Open
	cancel   context.CancelFunc
	bg       sync.WaitGroup
	keyMu    sync.Mutex // serialises key rotation
	closed   sync.Once
	closeErr error
}

// New opens the store (cfg.Store, or else the one in cfg.DataDir, created on
// first start), loads or creates the signing key and builds the HTTP
// application. It does not
// listen; call Open for that, or Test to drive it in-process.
func New(cfg Config) (*Server, error) {
	cfg = cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.warn()
	db, kek, err := openStore(cfg)
	if err != nil {
		return nil, err
	}
	pages, err := newPageLanguages(cfg.Brand)
	if err != nil {
		db.Close()
		return nil, err
	}
	s := &Server{pages: pages, cfg: cfg, log: cfg.Logger, now: cfg.Now, db: db, recoveryKey: deriveKey(kek, "latch recovery codes"), refreshKey: deriveKey(kek, "latch refresh tokens"), providerKey: deriveKey(kek, "latch provider session"), proxies: trustedPrefixes(cfg.TrustedProxies)}
	s.recoveryFailures = newRateLimiter(recoveryFailureRate, recoveryMaxFailures, nil, s.now)
	s.cluster.shared, _ = db.(store.Shared)
	s.dpopNonceKey = deriveKey(kek, "latch dpop nonces")
	if err := s.init(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) init() error {
	rp, err := webauthn.New(webauthn.Config{
		RPID:           s.cfg.RPID,
		RPDisplayName:  s.cfg.RPName,
		Origins:        s.cfg.webauthnOrigins(),
		RelatedOrigins: s.cfg.RelatedOrigins,
		Timeout:        s.cfg.CeremonyTTL,
	})
	if err != nil {
		return err
	}
	s.rp = rp
	if s.wellKnown, err = buildWellKnown(s.cfg); err != nil {
		return err
	}
	s.webOrigins = webOriginSet(s.cfg.WebOrigins)
	if err := s.loadClientOrigins(context.Background()); err != nil {
		return err
	}
	ctx := context.Background()
	if s.keys, err = loadKeyring(ctx, s.db, s.cfg.KeyAlg, publishWindow(s.cfg), s.now()); err != nil {
		return err
	}
	s.access = tokens.NewAccessTokens(tokens.AccessConfig{
		Issuer: s.cfg.Issuer, Audience: s.cfg.Audience, TTL: s.cfg.AccessTTL, Keys: s.keys, Now: s.now,
	})
	dc := dpop.DPoPConfig{MaxAge: s.cfg.DPoPMaxAge, Nonces: s.cfg.DPoPNonce, Now: s.now, NonceKey: s.dpopNonceKey}
	if s.cluster.shared != nil {
		dc.Spend = s.spendProof
	}
	s.dpop = dpop.NewDPoP(dc)
	if s.revoked, err = loadRevocations(ctx, s.db, s.now()); err != nil {
		return err
	}
	s.metrics = newMetrics(s.db.Stats, s.db.WriteHealth)
	s.app = s.newApp()
	s.backchannel = newBackchannel(s.log, s.now)
	return nil
}

// openStore opens cfg.Store's store or the bbolt file of cfg.DataDir, and
// returns it with the master key its secrets are sealed under.
func openStore(cfg Config) (store.Store, []byte, error) {
	if cfg.Store != nil {
		return cfg.Store, cfg.MasterKey, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("create data directory: %w", err)
	}
	dir, err := store.InspectDir(cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	kek := cfg.MasterKey
	if kek == nil {
		if kek, err = dir.MasterKey(); err != nil {
			return nil, nil, err
		}
	}
	db, err := dir.Open(store.Options{KEK: kek})
	if err != nil {
		return nil, nil, err
	}
	return db, kek, nil
}

// deriveKey derives an independent purpose-bound key from the master key.
func deriveKey(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

func (s *Server) newApp() *fiber.App {
	cfg := fiber.Config{
		AppName:                 "latch",
		BodyLimit:               s.cfg.BodyLimit,
		ReadBufferSize:          16 << 10, // a DPoP proof plus an access token exceed the 4 KiB default
		ReadTimeout:             10 * time.Second,
		WriteTimeout:            10 * time.Second,
		IdleTimeout:             60 * time.Second,
		DisableStartupMessage:   true,
		ErrorHandler:            s.errorHandler,
		EnableTrustedProxyCheck: true,
		TrustedProxies:          s.cfg.TrustedProxies,
	}
	if len(s.cfg.TrustedProxies) > 0 {
		cfg.ProxyHeader = fiber.HeaderXForwardedFor
	}
	app := fiber.New(cfg)
	s.routes(app)
	return app
}

// Open starts listening on the configured address and on the admin socket
// and serves in the background; background sweeps and key rotation start
// with it.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	s.ln = ln
	s.openAdminSocket()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.startBackground(ctx)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		if err := s.app.Listener(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			s.log.Error("serve", "err", err)
		}
	}()
	return nil
}

func (s *Server) startBackground(ctx context.Context) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.db.RunSweeper(ctx, s.cfg.SweepInterval, s.now)
	}()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.revoked.run(ctx, s.cfg.SweepInterval, s.now)
	}()
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.runFailureFlush(ctx)
	}()
	if s.cluster.shared != nil {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.followShared(ctx)
		}()
	}
	if s.cfg.KeyRotation > 0 {
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			s.autoRotate(ctx)
		}()
	}
}

// Addr returns the address the server listens on (useful with port 0).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// shutdownGrace is how long Close waits for requests in flight.
const shutdownGrace = 10 * time.Second

// Close stops accepting requests, waits up to ten seconds for in-flight ones
// (and then up to ten more for an admin command such as a backup),
// stops background work and closes the store.
func (s *Server) Close() error {
	s.closed.Do(func() { s.closeErr = s.shutdown() })
	return s.closeErr
}

func (s *Server) shutdown() error {
	var errs []error
	if s.ln != nil {
		if err := s.app.ShutdownWithTimeout(shutdownGrace); err != nil {
			errs = append(errs, err)
		}
		// Fiber closes only a listener its Serve has taken up; a Close
		// right after Open can come first, and Serve would then run on.
		_ = s.ln.Close()
	}
	if err := s.closeAdminSocket(shutdownGrace); err != nil {
		errs = append(errs, err)
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.bg.Wait()
	if s.backchannel != nil {
		s.backchannel.close()
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Test runs one request through the application in-process, as a client
// would see it. The timeout is disabled so slow machines do not flake.
func (s *Server) Test(req *http.Request) (*http.Response, error) {
	return s.app.Test(req, -1)
}
