package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/latchid/latch/store"
)

// Config is the whole configuration of a Latch server. The zero value of any
// field means "use the default"; call Defaults to fill them in and Validate to
// check the result before starting.
type Config struct {
	Addr    string // listen address, default 127.0.0.1:8080
	DataDir string // directory of latch.db and master.key, default ./latch-data
	// Issuer is the public base URL: the iss of every token, the base of the
	// DPoP htu and the default WebAuthn origin. Never taken from request headers.
	Issuer   string
	RPID     string   // WebAuthn relying party ID, default localhost
	RPName   string   // shown by authenticators, default Latch
	Origins  []string // allowed WebAuthn origins, default the issuer's origin
	Audience string   // aud of access tokens, default the issuer
	// RelatedOrigins are other sites allowed to use this RP ID's passkeys
	// (WebAuthn related origins), listed at /.well-known/webauthn.
	RelatedOrigins []string
	// AndroidApps and AppleApps are native apps allowed to use them; Latch
	// serves assetlinks.json and apple-app-site-association for them and
	// accepts the Android apps' origins.
	AndroidApps []AndroidApp
	AppleApps   []string
	// WebOrigins are the origins of web apps allowed to call the API and
	// load latch.js from their own pages (CORS, cors.go); none by default.
	WebOrigins []string

	AccessTTL     time.Duration // default 10m
	RefreshTTL    time.Duration // default 720h
	CeremonyTTL   time.Duration // WebAuthn ceremonies, default 5m
	MFATokenTTL   time.Duration // default 5m
	CredentialTTL time.Duration // SD-JWT credentials, default 24h
	KBMaxAge      time.Duration // SD-JWT key-binding JWT freshness, default 5m
	// StatusListTTL is the ttl of the served Token Status Lists and their
	// Cache-Control max-age: a revocation shows within it. Default 5m.
	StatusListTTL time.Duration
	// StatusListSize is the number of entries of each new status list,
	// a multiple of 8; default 131072 (2^17, 16 KiB uncompressed).
	StatusListSize int

	DPoPNonce   bool          // demand server nonces in DPoP proofs
	DPoPMaxAge  time.Duration // default 60s
	RequireDPoP bool          // refuse to issue unbound tokens
	// RequirePAR makes pushed authorization requests (RFC 9126) the only
	// way to start the authorization code flow.
	RequirePAR bool

	TrustedProxies []string // proxies whose X-Forwarded-* headers are believed
	// PlaceHeaders name request headers in which a trusted proxy tells
	// where a client is (e.g. "CF-IPCity", "CF-IPCountry"): joined, they
	// are a session's approximate place of sign-in. Read only from a
	// trusted proxy's requests.
	PlaceHeaders []string

	// Brand is how the pages name and show the service (--brand-name,
	// --brand-logo, --brand-color); the zero value is Latch's own look.
	Brand Brand

	KeyAlg      string        // signing algorithm of new keys: ES256 (default) or EdDSA
	KeyRotation time.Duration // automatic key rotation period; 0 = manual only

	// BeginRate limits ceremony begins per client address (requests per
	// second, with a burst of four seconds' worth); default 10. Negative
	// lifts every per-address limit, PostRate's too (load tests from one
	// address).
	BeginRate float64
	// PostRate limits, per client address and per endpoint, the other
	// unauthenticated POSTs: both finishes, /token, /totp/verify,
	// /credentials/verify, /revoke, and failed client authentications at
	// /introspect (requests per second, burst four seconds' worth); default
	// 20, negative turns these off. Per-account failure limits stay on.
	PostRate float64

	BodyLimit     int           // default 64 KiB
	SweepInterval time.Duration // default 1m

	// MasterKey overrides the key-encryption key otherwise read from
	// LATCH_MASTER_KEY or <DataDir>/master.key.
	MasterKey []byte

	// Store, when set, is the store to serve from instead of the bbolt
	// file in DataDir: a PostgreSQL database several nodes share
	// (store/postgres), opened by the caller with MasterKey, which is then
	// required. The server owns it from New on and closes it. DataDir
	// still holds the admin socket.
	Store store.Store

	Now    func() time.Time
	Logger *slog.Logger
}

// maxAccessTTL caps access-token lifetimes; offline tools that must outlast
// any access token a server may have issued rely on it.
const maxAccessTTL = 24 * time.Hour

// minAccessTTL is the shortest access-token lifetime: test suites check
// expiry and refresh with tokens that live seconds.
const minAccessTTL = time.Second

// warn logs the settings that are valid but unwise outside tests.
func (c Config) warn() {
	if c.AccessTTL < time.Minute {
		c.Logger.Warn("config: access tokens live less than a minute: every client refreshes that often; meant for test suites",
			"access_ttl", c.AccessTTL.String())
	}
	if len(c.AndroidApps)+len(c.AppleApps) > 0 {
		if u, err := url.Parse(c.Issuer); err == nil && u.Hostname() != c.RPID {
			c.Logger.Warn("config: apps look for assetlinks.json and apple-app-site-association on the RP ID's host, not on the issuer's; host the documents Latch serves there",
				"rp_id", c.RPID, "issuer", c.Issuer)
		}
	}
	if len(c.RelatedOrigins) > maxRelatedLabels {
		c.Logger.Warn("config: browsers need only honour related origins from five distinct sites; more may be ignored",
			"related_origins", len(c.RelatedOrigins))
	}
}

// maxRelatedLabels is the number of sites (registrable-domain labels) in
// /.well-known/webauthn that WebAuthn Level 3 §5.11 obliges browsers to
// honour.
const maxRelatedLabels = 5

// Defaults returns a copy of c with every unset field given its default.
func (c Config) Defaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "./latch-data"
	}
	if c.Issuer == "" {
		c.Issuer = "http://localhost:8080"
	}
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	if c.RPID == "" {
		c.RPID = "localhost"
	}
	if c.RPName == "" {
		c.RPName = "Latch"
	}
	if len(c.Origins) == 0 {
		if u, err := url.Parse(c.Issuer); err == nil {
			c.Origins = []string{u.Scheme + "://" + u.Host}
		}
	}
	if c.Audience == "" {
		c.Audience = c.Issuer
	}
	def(&c.AccessTTL, 10*time.Minute)
	def(&c.RefreshTTL, 720*time.Hour)
	def(&c.CeremonyTTL, 5*time.Minute)
	def(&c.MFATokenTTL, 5*time.Minute)
	def(&c.CredentialTTL, 24*time.Hour)
	def(&c.KBMaxAge, 5*time.Minute)
	def(&c.StatusListTTL, 5*time.Minute)
	if c.StatusListSize == 0 {
		c.StatusListSize = defaultStatusListSize
	}
	def(&c.DPoPMaxAge, 60*time.Second)
	def(&c.SweepInterval, time.Minute)
	if c.KeyAlg == "" {
		c.KeyAlg = "ES256"
	}
	if c.BeginRate == 0 {
		c.BeginRate = 10
	}
	if c.PostRate == 0 {
		c.PostRate = 20
	}
	if c.BodyLimit == 0 {
		c.BodyLimit = 64 << 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Validate reports the first configuration problem in words an operator can
// act on.
func (c Config) Validate() error {
	if err := c.Brand.validate(); err != nil {
		return err
	}
	if c.Store != nil && len(c.MasterKey) != store.KeySize {
		return fmt.Errorf("config: a shared store needs the master key its secrets are sealed under (%s, the same on every node)", store.MasterKeyEnv)
	}
	iss, err := url.Parse(c.Issuer)
	if err != nil || iss.Host == "" || (iss.Scheme != "http" && iss.Scheme != "https") {
		return fmt.Errorf("config: --issuer %q must be an absolute http(s) URL", c.Issuer)
	}
	if iss.RawQuery != "" || iss.Fragment != "" {
		return fmt.Errorf("config: --issuer %q must not have a query or fragment", c.Issuer)
	}
	if iss.Scheme == "http" && !isLoopbackHost(iss.Hostname()) {
		return fmt.Errorf("config: --issuer %q uses plain HTTP; only localhost may (WebAuthn needs a secure context)", c.Issuer)
	}
	if c.RPID == "" || strings.ContainsAny(c.RPID, ":/ ") {
		return fmt.Errorf("config: --rp-id %q must be a bare domain name", c.RPID)
	}
	for _, o := range c.Origins {
		if strings.Contains(o, ":") && !strings.Contains(o, "://") {
			continue // opaque origins such as android:apk-key-hash:...
		}
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" {
			return fmt.Errorf("config: origin %q must be scheme://host[:port]", o)
		}
		host := u.Hostname()
		if host != c.RPID && !strings.HasSuffix(host, "."+c.RPID) {
			return fmt.Errorf("config: origin %q does not match --rp-id %q (its host must be the RP ID or a subdomain of it)", o, c.RPID)
		}
		if u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(host)) {
			return fmt.Errorf("config: origin %q must use https (plain http only on localhost)", o)
		}
	}
	if err := validateRelatedOrigins(c.RelatedOrigins); err != nil {
		return err
	}
	if err := validateAppleApps(c.AppleApps); err != nil {
		return err
	}
	for _, o := range c.WebOrigins {
		if err := validateWebOrigin(o); err != nil {
			return err
		}
	}
	if c.AccessTTL < minAccessTTL || c.AccessTTL > maxAccessTTL {
		return errors.New("config: --access-ttl must be between 1s and 24h")
	}
	if c.CredentialTTL < time.Minute || c.CredentialTTL > 30*24*time.Hour {
		return errors.New("config: --credential-ttl must be between 1m and 720h")
	}
	if c.StatusListTTL < 10*time.Second || c.StatusListTTL > time.Hour {
		return errors.New("config: --status-list-ttl must be between 10s and 1h")
	}
	if c.StatusListSize < 8 || c.StatusListSize > 1<<23 || c.StatusListSize%8 != 0 {
		return errors.New("config: the status list size must be a multiple of 8 between 8 and 8388608")
	}
	if c.RefreshTTL < c.AccessTTL {
		return errors.New("config: --refresh-ttl must not be shorter than --access-ttl")
	}
	if c.DPoPMaxAge < 5*time.Second || c.DPoPMaxAge > 10*time.Minute {
		return errors.New("config: --dpop-max-age must be between 5s and 10m")
	}
	if c.KeyAlg != "ES256" && c.KeyAlg != "EdDSA" {
		return fmt.Errorf("config: key algorithm %q is not supported (ES256 or EdDSA)", c.KeyAlg)
	}
	if c.KeyRotation != 0 && c.KeyRotation < c.AccessTTL {
		return errors.New("config: --key-rotation must be longer than --access-ttl")
	}
	for _, p := range c.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return fmt.Errorf("config: trusted proxy %q is not an IP address or CIDR range", p)
			}
		}
	}
	if math.IsNaN(c.BeginRate) || math.IsInf(c.BeginRate, 0) || c.BeginRate > 1e6 {
		return errors.New("config: --begin-rate must be a number of requests per second (0 = no limit)")
	}
	if math.IsNaN(c.PostRate) || math.IsInf(c.PostRate, 0) || c.PostRate > 1e6 {
		return errors.New("config: --post-rate must be a number of requests per second (0 = no limit)")
	}
	if c.BodyLimit < 1<<10 {
		return errors.New("config: body limit must be at least 1 KiB")
	}
	return nil
}

// trustedPrefixes parses --trusted-proxies (validated at start) as prefixes.
func trustedPrefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range list {
		if pfx, err := netip.ParsePrefix(p); err == nil {
			out = append(out, pfx.Masked())
		} else if a, err := netip.ParseAddr(p); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out
}

func isLoopbackHost(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(h), ".") // DNS names: any case, maybe fully qualified
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
