package dpop

import (
	"crypto"
	"sync"
)

// proofKey is what a proof's JOSE header yields once every header check has
// passed: the algorithm, the parsed public key, its canonical JWK,
// thumbprint and replay-cache name.
type proofKey struct {
	alg       string
	pub       crypto.PublicKey
	canonical []byte
	jkt       string
	// holder is the replay cache's name for the key (a keyed hash of jkt),
	// computed once per header rather than per proof.
	holder holderID
}

// boundedCache is a map with a size bound: when full it is emptied and
// refills with what is in use, rather than freezing with stale entries.
// Keys longer than maxKey are never kept. The DPoP verifier uses it for
// proof headers and for its own request URLs.
type boundedCache[V any] struct {
	mu     sync.RWMutex
	m      map[string]V
	max    int
	maxKey int
}

func newBoundedCache[V any](max, maxKey int) *boundedCache[V] {
	return &boundedCache[V]{m: make(map[string]V), max: max, maxKey: maxKey}
}

func (c *boundedCache[V]) get(key string) (V, bool) {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	return v, ok
}

// put keeps v under key, which must not alias a larger string the caller
// does not want kept alive (clone it first).
func (c *boundedCache[V]) put(key string, v V) {
	if len(key) > c.maxKey {
		return
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = v
	c.mu.Unlock()
}

// The proof-header cache remembers proofKeys by the proof's encoded header.
// A client sends the same header (typ, alg, jwk) with every proof, and the
// header checks depend on nothing but those bytes, so a hit skips decoding,
// JSON parsing, point validation and the thumbprint; the signature and
// claims are still checked on every proof. It holds up to maxCachedHeaders
// client keys, and maxCachedHeader keeps unusually large headers (RSA keys)
// out of it.
const (
	maxCachedHeaders = 1 << 14
	maxCachedHeader  = 512
)
