package resource

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latchid/latch/tokens"

	"github.com/latchid/latch/tokens/jose"

	"github.com/latchid/latch/tokens/dpop"
)

// Config configures a Guard. Issuer and PublicURL are required; every
// other zero value means the default given.
type Config struct {
	// Issuer is Latch's issuer URL, exactly as its tokens' "iss". Its RFC
	// 8414 metadata names the JWK Set and the introspection endpoint.
	Issuer string
	// Audience is the "aud" required in access tokens: Latch's --audience.
	// Empty means Issuer, which is what Latch issues by default.
	Audience string
	// PublicURL is the API's own base URL as clients call it, for example
	// "https://api.example.com". A proof's htu must be PublicURL followed
	// by the request path; the Host header is never consulted. If a proxy
	// strips a path prefix before the API sees the request, include that
	// prefix here.
	PublicURL string

	// AllowBearer accepts access tokens that are not DPoP-bound, sent with
	// the Bearer scheme. Off by default: a stolen Bearer token is usable
	// by anyone, a DPoP-bound one only with its key.
	AllowBearer bool

	// DPoPNonce demands a server nonce in every proof (RFC 9449 section
	// 9). The nonce is sent in the DPoP-Nonce header of every answer; a
	// proof without a current one is refused with use_dpop_nonce.
	DPoPNonce bool
	// DPoPMaxAge is how old a proof's iat may be; default 60 s.
	DPoPMaxAge time.Duration
	// DPoPAlgs are the accepted proof algorithms; default ES256 and EdDSA.
	DPoPAlgs []string
	// ReplayCacheSize caps the remembered proof jtis (default 1<<20) and
	// ReplayPerKey those of one proof key under pressure (default an
	// eighth); see dpop.DPoPConfig.
	ReplayCacheSize, ReplayPerKey int

	// TokenCacheSize bounds the verified-token cache (default 100000;
	// negative disables it, so every request verifies the token's
	// signature).
	TokenCacheSize int

	// JWKSRefresh is how old the installed JWK Set may grow before it is
	// fetched again in the background; default 5 minutes, what Latch's
	// Cache-Control allows.
	JWKSRefresh time.Duration
	// JWKSMinInterval is the least time between two fetches of the JWK
	// Set, whatever causes them: a flood of tokens with unknown kids
	// causes at most one fetch per interval. Default 10 s.
	JWKSMinInterval time.Duration
	// FetchTimeout bounds each request to the issuer; default 10 s.
	FetchTimeout time.Duration
	// HTTPClient makes the requests to the issuer; default a client with
	// no redirects followed.
	HTTPClient *http.Client

	// Introspection, when set, asks Latch about each token at most once
	// per MaxStale, so a revoked token is refused within that bound.
	Introspection *Introspection

	// Realm is the realm of Bearer challenges; default "latch", as Latch
	// sends.
	Realm string
	// ResourceMetadataURL is sent as resource_metadata in every challenge
	// (RFC 9728 section 5.1). Default: the well-known location for
	// PublicURL, where MetadataHandler is meant to be served. "-" sends
	// none.
	ResourceMetadataURL string

	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives failures to reach the issuer; default discards.
	Logger *slog.Logger
}

// Defaults for Config.
const (
	defaultJWKSRefresh     = 5 * time.Minute
	defaultJWKSMinInterval = 10 * time.Second
	defaultFetchTimeout    = 10 * time.Second
	defaultRealm           = "latch"
)

// Guard verifies the access tokens and DPoP proofs of requests to an API.
// It is safe for concurrent use.
type Guard struct {
	cfg      Config
	base     string // PublicURL without a trailing slash
	keys     *keySet
	access   *tokens.AccessTokens
	dpop     *dpop.DPoP
	intro    *introspector
	algs     string // the algs challenge parameter
	metadata []byte
}

// New validates cfg, fills in its defaults and returns a Guard. It does
// not contact the issuer; the first request (or Refresh) does.
func New(cfg Config) (*Guard, error) {
	cfg.Issuer = strings.TrimRight(cfg.Issuer, "/")
	if err := absoluteHTTP(cfg.Issuer, "Issuer"); err != nil {
		return nil, err
	}
	base := strings.TrimRight(cfg.PublicURL, "/")
	if err := absoluteHTTP(base, "PublicURL"); err != nil {
		return nil, err
	}
	if _, err := dpop.NormalizeHTU(base + "/"); err != nil {
		return nil, fmt.Errorf("resource: PublicURL: %w", err)
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	if cfg.JWKSRefresh <= 0 {
		cfg.JWKSRefresh = defaultJWKSRefresh
	}
	if cfg.JWKSMinInterval <= 0 {
		cfg.JWKSMinInterval = defaultJWKSMinInterval
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = defaultFetchTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{
			Timeout: cfg.FetchTimeout,
			// The metadata and key set are fetched from configured URLs;
			// a redirect elsewhere is not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.Realm == "" {
		cfg.Realm = defaultRealm
	}
	if strings.ContainsAny(cfg.Realm, "\"\\\r\n") {
		return nil, errors.New("resource: Realm may not contain quotes, backslashes or line breaks")
	}
	switch cfg.ResourceMetadataURL {
	case "":
		cfg.ResourceMetadataURL = wellKnownMetadataURL(base)
	case "-":
		cfg.ResourceMetadataURL = ""
	default:
		if err := absoluteHTTP(cfg.ResourceMetadataURL, "ResourceMetadataURL"); err != nil {
			return nil, err
		}
		if strings.ContainsAny(cfg.ResourceMetadataURL, "\"\\") {
			return nil, errors.New("resource: ResourceMetadataURL may not contain quotes or backslashes")
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g := &Guard{cfg: cfg, base: base}
	g.keys = &keySet{cfg: &g.cfg, client: cfg.HTTPClient, keys: &jose.Keyring{}}
	g.access = tokens.NewAccessTokens(tokens.AccessConfig{
		Issuer: cfg.Issuer, Audience: cfg.Audience, Keys: g.keys.keys, Now: cfg.Now, CacheSize: cfg.TokenCacheSize,
	})
	g.dpop = dpop.NewDPoP(dpop.DPoPConfig{
		MaxAge: cfg.DPoPMaxAge, Algs: cfg.DPoPAlgs, Nonces: cfg.DPoPNonce, Now: cfg.Now,
		ReplayCacheSize: cfg.ReplayCacheSize, ReplayPerKey: cfg.ReplayPerKey,
	})
	g.algs = strings.Join(g.dpop.Algs(), " ")
	if cfg.Introspection != nil {
		intro, err := newIntrospector(*cfg.Introspection, g)
		if err != nil {
			return nil, err
		}
		g.intro = intro
	}
	md, err := g.renderMetadata()
	if err != nil {
		return nil, err
	}
	g.metadata = md
	return g, nil
}

func absoluteHTTP(raw, field string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("resource: %s must be an absolute http(s) URL without query or fragment, got %q", field, raw)
	}
	return nil
}

// wellKnownMetadataURL is RFC 9728 section 3.1's location: the well-known
// path inserted between the host and the resource's path.
func wellKnownMetadataURL(base string) string {
	u, _ := url.Parse(base)
	path := strings.TrimRight(u.EscapedPath(), "/")
	return u.Scheme + "://" + u.Host + MetadataPath + path
}

// MetadataPath is the well-known path of RFC 9728 protected-resource
// metadata for a resource at the root of its host.
const MetadataPath = "/.well-known/oauth-protected-resource"

// Refresh fetches the issuer's metadata and JWK Set now, within the rate
// limit, for an API that wants to know at start-up that the issuer is
// reachable. Requests fetch them on their own otherwise.
func (g *Guard) Refresh(ctx context.Context) error {
	if g.keys.loaded.Load() {
		g.keys.refetch(ctx, g.keys.gen.Load())
		return nil
	}
	return g.keys.ensure(ctx)
}

// Keys resolves a published signing key of the issuer by kid, fetching the
// JWK Set again (rate-limited) for a kid it does not hold. Its signature
// fits StatusListConfig.Keys, so one key set serves both.
func (g *Guard) Keys(ctx context.Context, kid string) (crypto.PublicKey, string, error) {
	return g.keys.lookup(ctx, kid)
}

// Nonce returns the current DPoP server nonce, or "" when nonces are off.
// The adapters send it in the DPoP-Nonce header of every answer.
func (g *Guard) Nonce() string {
	if !g.cfg.DPoPNonce {
		return ""
	}
	return g.dpop.Nonce()
}

// Principal is the verified caller of a request: the access token's claims
// and, for a bound token, the key its proof was made with.
type Principal struct {
	// Subject is the account (claim sub).
	Subject string `json:"sub"`
	// ClientID is the application the token was issued to.
	ClientID string `json:"client_id"`
	// Scope is the space-separated granted scope.
	Scope string `json:"scope,omitempty"`
	// Groups are the account's groups, when the token carries them.
	Groups []string `json:"groups,omitempty"`
	// JKT is the RFC 7638 thumbprint of the DPoP key (claim cnf.jkt); ""
	// for a Bearer token.
	JKT string `json:"jkt,omitempty"`
	// TokenID is the token's jti, ExpiresAt its exp.
	TokenID   string    `json:"jti"`
	ExpiresAt time.Time `json:"exp"`
	// AuthTime is when the person signed in, AMR how (RFC 8176).
	AuthTime time.Time `json:"auth_time,omitzero"`
	AMR      []string  `json:"amr,omitempty"`
}

// HasScope reports whether the token was granted scope s.
func (p *Principal) HasScope(s string) bool {
	return slices.Contains(strings.Fields(p.Scope), s)
}

// Request is what Authenticate reads from an HTTP request. The adapters
// fill it in; the header slices hold every value the request carried, so
// duplicates are caught.
type Request struct {
	// Method is the request method, compared with the proof's htm.
	Method string
	// Path is the request path as it was sent (escaped, without query);
	// the proof's htu must be the configured PublicURL followed by it.
	Path string
	// Authorization and DPoP hold the values of those headers.
	Authorization []string
	DPoP          []string
}

// Authenticate verifies a request's access token and, for a bound token,
// its DPoP proof, and returns the caller. Every failure is an *Error that
// says what to answer: status, JSON body and challenge headers. A proof's
// jti is recorded only when every check has passed, so a refused request
// does not spend its proof.
func (g *Guard) Authenticate(ctx context.Context, r Request) (*Principal, error) {
	switch len(r.Authorization) {
	case 0:
		return nil, g.noCredentials()
	case 1:
	default:
		return nil, &Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Description: "more than one Authorization header"}
	}
	dpopScheme, token, err := parseAuthorization(r.Authorization[0])
	if err != nil {
		return nil, g.invalidToken(r.Authorization[0], err.Error())
	}
	if err := g.keys.ensure(ctx); err != nil {
		return nil, unavailable("the issuer's signing keys cannot be fetched right now; try again shortly")
	}
	gen := g.keys.gen.Load()
	claims, err := g.access.Verify(token)
	if tokens.IsUnknownKey(err) && g.keys.refetch(ctx, gen) {
		claims, err = g.access.Verify(token)
	}
	if err != nil {
		return nil, g.invalidToken(r.Authorization[0], tokenErrorText(err, "invalid access token"))
	}
	var proof *dpop.Proof
	switch {
	case claims.JKT != "" && !dpopScheme:
		return nil, g.invalidToken(r.Authorization[0], "a DPoP-bound token must be sent with the DPoP scheme")
	case claims.JKT == "" && dpopScheme:
		return nil, g.invalidToken(r.Authorization[0], "the access token is not DPoP-bound")
	case claims.JKT == "" && !g.cfg.AllowBearer:
		return nil, g.invalidToken(r.Authorization[0], "this API accepts only DPoP-bound access tokens")
	case claims.JKT != "":
		path := r.Path
		if path == "" {
			path = "/"
		}
		proof, err = g.dpop.CheckOnly(dpop.ProofCheck{
			Headers: r.DPoP, Method: r.Method, URL: g.base + path, AccessToken: token,
		})
		if err != nil {
			return nil, g.proofError(err)
		}
		if proof.JKT != claims.JKT {
			return nil, g.proofError(&jose.TokenError{Code: jose.CodeInvalidDPoPProof, Description: "the proof key does not match the token's key"})
		}
	}
	if g.intro != nil {
		active, err := g.intro.active(ctx, token)
		if err != nil {
			return nil, unavailable("the token's status cannot be checked right now; try again shortly")
		}
		if !active {
			return nil, g.invalidToken(r.Authorization[0], "the access token has been revoked")
		}
	}
	if proof != nil {
		if err := g.dpop.Record(proof); err != nil {
			return nil, g.proofError(err)
		}
	}
	return &Principal{
		Subject: claims.Subject, ClientID: claims.ClientID, Scope: claims.Scope,
		Groups: claims.Groups, JKT: claims.JKT, TokenID: claims.ID, ExpiresAt: claims.ExpiresAt,
		AuthTime: claims.AuthTime, AMR: claims.AMR,
	}, nil
}

// tokenErrorText returns a TokenError's fixed, client-safe description.
func tokenErrorText(err error, fallback string) string {
	var te *jose.TokenError
	if errors.As(err, &te) && te.Description != "" {
		return te.Description
	}
	return fallback
}

// maxAuthorization bounds the header before any work is done on it, as
// Latch does.
const maxAuthorization = 8 << 10

// parseAuthorization splits an Authorization value into its scheme (DPoP
// or Bearer, case-insensitive) and token68 credentials (RFC 9110 section
// 11.6.2, RFC 6750 section 2.1, RFC 9449 section 7.1). The error text is
// client-safe.
func parseAuthorization(value string) (dpop bool, token string, err error) {
	if len(value) > maxAuthorization {
		return false, "", errors.New("malformed Authorization header")
	}
	scheme, token, ok := strings.Cut(value, " ")
	if !ok || token == "" || !isToken68(token) {
		return false, "", errors.New("malformed Authorization header")
	}
	switch {
	case strings.EqualFold(scheme, "DPoP"):
		return true, token, nil
	case strings.EqualFold(scheme, "Bearer"):
		return false, token, nil
	}
	return false, "", errors.New("unsupported authorization scheme")
}

// isToken68 reports whether s is token68: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for i < len(s) && token68Chars[s[i]] {
		i++
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

var token68Chars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
	}
	return t
}()
