package resource

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// Bounds on what the issuer may send: its metadata is a few hundred bytes
// and a JWK Set of Latch's holds a handful of keys (jose.ParsePublicJWKS
// takes at most 64 KiB).
const (
	maxMetadata = 64 << 10
	maxJWKS     = 64 << 10
)

// metadataPath is where RFC 8414 section 3 puts an issuer's metadata.
const metadataPath = "/.well-known/oauth-authorization-server"

// errKeysUnavailable is what a request sees when no key set could be
// fetched yet: the API cannot tell a good token from a bad one.
var errKeysUnavailable = errors.New("resource: the issuer's keys are not available")

// keySet is the issuer's JWK Set as last fetched, installed in a keyring
// the access-token verifier reads. Fetches are serialised and rate-limited:
// a request naming an unknown kid may cause at most one fetch per
// minInterval, however many such requests arrive.
type keySet struct {
	cfg    *Config
	client *http.Client
	keys   *jose.Keyring

	// mu serialises fetches and guards the fields below it.
	mu          sync.Mutex
	jwksURI     string
	introspect  string // introspection_endpoint from the metadata
	body        []byte // the JWK Set installed, to skip no-op replaces
	lastAttempt time.Time

	// gen counts completed fetches, so a request that waited for another's
	// fetch knows to try again instead of fetching once more.
	gen atomic.Uint64
	// loaded and fetchedAt (Unix nanoseconds) are read without the lock
	// on every request.
	loaded     atomic.Bool
	fetchedAt  atomic.Int64
	refreshing atomic.Bool
	// fetches counts HTTP fetches of the JWK Set, for tests and metrics.
	fetches atomic.Int64
}

// ensure makes sure a key set is installed, fetching the first one. While
// the issuer cannot be reached the attempts are rate-limited like any
// other fetch.
func (k *keySet) ensure(ctx context.Context) error {
	if k.loaded.Load() {
		k.refreshIfStale()
		return nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.loaded.Load() {
		return nil
	}
	if !k.mayFetchLocked() {
		return errKeysUnavailable
	}
	if err := k.fetchLocked(ctx); err != nil {
		k.cfg.Logger.Warn("resource: fetching the issuer's keys failed", "issuer", k.cfg.Issuer, "err", err)
		return errKeysUnavailable
	}
	return nil
}

// refetch is called when a token names a kid the key set does not hold.
// It reports whether a newer key set than the one the caller saw is now
// installed, so verifying again may succeed.
func (k *keySet) refetch(ctx context.Context, seen uint64) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.gen.Load() != seen {
		return true
	}
	if !k.mayFetchLocked() {
		return false
	}
	before := k.body
	if err := k.fetchLocked(ctx); err != nil {
		k.cfg.Logger.Warn("resource: fetching the issuer's keys failed", "issuer", k.cfg.Issuer, "err", err)
		return false
	}
	return !bytes.Equal(before, k.body)
}

// refreshIfStale starts a background fetch once the installed set is older
// than the refresh interval, so keys the issuer withdrew stop verifying.
// Requests keep using the installed set meanwhile.
func (k *keySet) refreshIfStale() {
	if k.cfg.Now().UnixNano()-k.fetchedAt.Load() < int64(k.cfg.JWKSRefresh) || !k.refreshing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer k.refreshing.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), k.cfg.FetchTimeout)
		defer cancel()
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.cfg.Now().UnixNano()-k.fetchedAt.Load() < int64(k.cfg.JWKSRefresh) || !k.mayFetchLocked() {
			return
		}
		if err := k.fetchLocked(ctx); err != nil {
			k.cfg.Logger.Warn("resource: refreshing the issuer's keys failed; the previous keys stay in use", "issuer", k.cfg.Issuer, "err", err)
		}
	}()
}

// mayFetchLocked applies the rate limit and, when allowed, counts the
// attempt.
func (k *keySet) mayFetchLocked() bool {
	now := k.cfg.Now()
	if !k.lastAttempt.IsZero() && now.Sub(k.lastAttempt) < k.cfg.JWKSMinInterval {
		return false
	}
	k.lastAttempt = now
	return true
}

// fetchLocked discovers the jwks_uri (once) and installs the JWK Set found
// there. A failed fetch leaves the installed set alone.
func (k *keySet) fetchLocked(ctx context.Context) error {
	if k.jwksURI == "" {
		if err := k.discoverLocked(ctx); err != nil {
			return err
		}
	}
	k.fetches.Add(1)
	body, err := k.get(ctx, k.jwksURI, maxJWKS, "application/jwk-set+json")
	if err != nil {
		return err
	}
	entries, err := jose.ParsePublicJWKS(body)
	if err != nil {
		return fmt.Errorf("jwks_uri: %w", err)
	}
	// Replacing the keyring also empties the verified-token cache, so an
	// unchanged set is left in place.
	if !bytes.Equal(body, k.body) {
		k.keys.Replace(nil, entries...)
		k.body = body
	}
	k.fetchedAt.Store(k.cfg.Now().UnixNano())
	k.loaded.Store(true)
	k.gen.Add(1)
	return nil
}

// issuerMetadata holds the RFC 8414 members used here.
type issuerMetadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// discoverLocked reads the issuer's metadata. RFC 8414 section 3.3: the
// issuer it names must be exactly the configured one, or the document is
// someone else's.
func (k *keySet) discoverLocked(ctx context.Context) error {
	body, err := k.get(ctx, k.cfg.Issuer+metadataPath, maxMetadata, "application/json")
	if err != nil {
		return err
	}
	var m issuerMetadata
	if err := json.Unmarshal(body, &m); err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if m.Issuer != k.cfg.Issuer {
		return fmt.Errorf("metadata names issuer %q, not %q", m.Issuer, k.cfg.Issuer)
	}
	if err := k.sameScheme(m.JWKSURI); err != nil {
		return fmt.Errorf("metadata jwks_uri: %w", err)
	}
	if m.IntrospectionEndpoint != "" {
		if err := k.sameScheme(m.IntrospectionEndpoint); err != nil {
			return fmt.Errorf("metadata introspection_endpoint: %w", err)
		}
	}
	k.jwksURI, k.introspect = m.JWKSURI, m.IntrospectionEndpoint
	return nil
}

// sameScheme accepts an absolute URL of the issuer's scheme: an https
// issuer may not send the verifier to plain http.
func (k *keySet) sameScheme(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return errors.New("not an absolute URL")
	}
	iss, _ := url.Parse(k.cfg.Issuer)
	if u.Scheme != iss.Scheme {
		return fmt.Errorf("scheme %q differs from the issuer's", u.Scheme)
	}
	return nil
}

// get fetches uri and returns at most limit bytes of a 200 answer whose
// media type is JSON or want.
func (k *keySet) get(ctx context.Context, uri string, limit int64, want string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, k.cfg.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", want+", application/json")
	res, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", uri, res.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(res.Header.Get("Content-Type")); err != nil || (mt != "application/json" && mt != want) {
		return nil, fmt.Errorf("GET %s: content type %q", uri, res.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", uri, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", uri, limit)
	}
	return body, nil
}

// introspectionEndpoint returns the issuer's introspection endpoint once
// the metadata has been read.
func (k *keySet) introspectionEndpoint() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.introspect
}

// lookup returns a published key by kid, fetching the key set again (within
// the rate limit) for a kid it does not hold.
func (k *keySet) lookup(ctx context.Context, kid string) (crypto.PublicKey, string, error) {
	if err := k.ensure(ctx); err != nil {
		return nil, "", err
	}
	gen := k.gen.Load()
	if pub, alg, ok := k.keys.Lookup(kid, k.cfg.Now()); ok {
		return pub, alg, nil
	}
	if k.refetch(ctx, gen) {
		if pub, alg, ok := k.keys.Lookup(kid, k.cfg.Now()); ok {
			return pub, alg, nil
		}
	}
	return nil, "", errors.New("resource: the issuer publishes no key with that kid")
}
