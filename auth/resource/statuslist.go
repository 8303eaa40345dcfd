package resource

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/latchid/latch/tokens/sdjwt"
)

// Errors of StatusListVerifier.Check for a credential whose entry is not
// valid.
var (
	ErrStatusListRevoked   = errors.New("resource: credential revoked (status list)")
	ErrStatusListSuspended = errors.New("resource: credential suspended (status list)")
)

// StatusListConfig configures a StatusListVerifier.
type StatusListConfig struct {
	// Keys resolves the status issuer's signing keys by kid: the public
	// key and its JWS alg ("ES256" or "EdDSA"). For Latch these are the
	// keys of its JWKS (/.well-known/jwks.json). Required.
	Keys func(ctx context.Context, kid string) (pub crypto.PublicKey, alg string, err error)
	// Issuer, when set, must be the lists' "iss" (Latch's issuer URL).
	Issuer string
	// Client fetches the lists; the default has a 10 s timeout. Redirects
	// are followed at most three times, each target checked by AllowURI.
	Client *http.Client
	// AllowURI says which list URIs may be fetched, so a credential cannot
	// send the verifier to an arbitrary address. The default allows https
	// URIs, and http on a loopback host.
	AllowURI func(uri string) bool
	// MaxCache caps how long a list is used before it is fetched again,
	// whatever its ttl says (default 1 h); MinCache is the least (default
	// 10 s), so a tiny ttl cannot make every check a fetch. A list without
	// ttl is kept for MaxCache, never past its exp.
	MaxCache, MinCache time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// StatusListVerifier checks credentials' entries in Token Status Lists
// (draft-ietf-oauth-status-list), fetching each list over HTTP, verifying
// it and caching it for its ttl. It is safe for concurrent use.
type StatusListVerifier struct {
	cfg   StatusListConfig
	mu    sync.Mutex
	cache map[string]*cachedStatusList
}

type cachedStatusList struct {
	list       *sdjwt.StatusList
	freshUntil time.Time
}

// statusListCacheMax bounds the lists kept; a full cache drops the stalest.
const statusListCacheMax = 256

// NewStatusListVerifier returns a verifier for cfg.
func NewStatusListVerifier(cfg StatusListConfig) (*StatusListVerifier, error) {
	if cfg.Keys == nil {
		return nil, errors.New("resource: StatusListConfig.Keys is required")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.AllowURI == nil {
		cfg.AllowURI = defaultAllowStatusURI
	}
	if cfg.MaxCache <= 0 {
		cfg.MaxCache = time.Hour
	}
	if cfg.MinCache <= 0 {
		cfg.MinCache = 10 * time.Second
	}
	cfg.MinCache = min(cfg.MinCache, cfg.MaxCache)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &StatusListVerifier{cfg: cfg, cache: map[string]*cachedStatusList{}}, nil
}

func defaultAllowStatusURI(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		return h == "localhost" || ip != nil && ip.IsLoopback()
	}
	return false
}

// Check returns nil when the credential's entry is valid (0),
// ErrStatusListRevoked or ErrStatusListSuspended for those statuses, and
// another error when no statement can be made (the list could not be
// fetched or verified, or the index is outside it), in which case the
// draft says to reject the credential. ref is the verified credential's
// status.status_list claim (sdjwt.SDPresentation.Status); check the
// credential itself first.
func (v *StatusListVerifier) Check(ctx context.Context, ref sdjwt.StatusRef) error {
	status, err := v.Status(ctx, ref)
	if err != nil {
		return err
	}
	switch status {
	case sdjwt.StatusValid:
		return nil
	case sdjwt.StatusInvalid:
		return ErrStatusListRevoked
	case sdjwt.StatusSuspended:
		return ErrStatusListSuspended
	}
	return fmt.Errorf("resource: credential has status 0x%02x on its status list", status)
}

// Status returns the credential's entry, from a cached list while that is
// fresh, else from the list fetched again.
func (v *StatusListVerifier) Status(ctx context.Context, ref sdjwt.StatusRef) (byte, error) {
	list, err := v.list(ctx, ref.URI)
	if err != nil {
		return 0, err
	}
	status, ok := list.Get(ref.Index)
	if !ok {
		return 0, errors.New("resource: status index outside the list")
	}
	return status, nil
}

func (v *StatusListVerifier) list(ctx context.Context, uri string) (*sdjwt.StatusList, error) {
	now := v.cfg.Now()
	v.mu.Lock()
	if c := v.cache[uri]; c != nil && now.Before(c.freshUntil) {
		v.mu.Unlock()
		return c.list, nil
	}
	v.mu.Unlock()

	tok, err := v.fetch(ctx, uri)
	if err != nil {
		return nil, err
	}
	// The draft's recommended caching: from the time of fetching for the
	// ttl, within the verifier's bounds and never past exp.
	keep := v.cfg.MaxCache
	if tok.TTL > 0 {
		keep = min(max(tok.TTL, v.cfg.MinCache), v.cfg.MaxCache)
	}
	fresh := now.Add(keep)
	if !tok.ExpiresAt.IsZero() && tok.ExpiresAt.Before(fresh) {
		fresh = tok.ExpiresAt
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, present := v.cache[uri]; !present && len(v.cache) >= statusListCacheMax {
		stalest := ""
		for k, c := range v.cache {
			if stalest == "" || c.freshUntil.Before(v.cache[stalest].freshUntil) {
				stalest = k
			}
		}
		delete(v.cache, stalest)
	}
	v.cache[uri] = &cachedStatusList{list: tok.List, freshUntil: fresh}
	return tok.List, nil
}

// fetch GETs and verifies the Status List Token at uri.
func (v *StatusListVerifier) fetch(ctx context.Context, uri string) (*sdjwt.StatusListToken, error) {
	if !v.cfg.AllowURI(uri) {
		return nil, errors.New("resource: status list uri not allowed")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("resource: status list request: %w", err)
	}
	req.Header.Set("Accept", "application/"+sdjwt.StatusListTyp)
	client := *v.cfg.Client
	client.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if len(via) > 3 {
			return errors.New("resource: too many redirects fetching a status list")
		}
		if !v.cfg.AllowURI(r.URL.String()) {
			return errors.New("resource: status list redirect target not allowed")
		}
		return nil
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("resource: fetch status list: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("resource: fetch status list: HTTP %d", res.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type")); err != nil || mt != "application/"+sdjwt.StatusListTyp {
		return nil, errors.New("resource: status list response is not application/statuslist+jwt")
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, sdjwt.StatusListMaxToken+1))
	if err != nil {
		return nil, fmt.Errorf("resource: read status list: %w", err)
	}
	if len(body) > sdjwt.StatusListMaxToken {
		return nil, errors.New("resource: status list too large")
	}
	return sdjwt.VerifyStatusListToken(sdjwt.StatusListVerifyRequest{
		// A trailing newline some servers add is not part of the JWT.
		Token: string(bytes.TrimRight(body, "\r\n")), Subject: uri, Issuer: v.cfg.Issuer, Now: v.cfg.Now(),
		Keys: func(kid string) (crypto.PublicKey, string, bool) {
			pub, alg, err := v.cfg.Keys(ctx, kid)
			return pub, alg, err == nil && pub != nil
		},
	})
}
