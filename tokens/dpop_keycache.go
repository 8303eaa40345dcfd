package tokens

import (
	"crypto"
	"sync"
)

// proofKey is what a proof's JOSE header yields once every header check has
// passed: the algorithm, the parsed public key, its canonical JWK and
// thumbprint.
type proofKey struct {
	alg       string
	pub       crypto.PublicKey
	canonical []byte
	jkt       string
}

// headerCache remembers proofKeys by the proof's encoded header. A client
// sends the same header (typ, alg, jwk) with every proof, and the header
// checks depend on nothing but those bytes, so a hit skips decoding,
// JSON parsing, point validation and the thumbprint; the signature and
// claims are still checked on every proof. It is bounded: when full, it
// is emptied and refills with the clients that are active.
type headerCache struct {
	mu  sync.RWMutex
	m   map[string]*proofKey
	max int
}

// maxCachedHeader keeps unusually large headers (RSA keys) out of the cache.
const maxCachedHeader = 512

func newHeaderCache(max int) *headerCache {
	return &headerCache{m: make(map[string]*proofKey), max: max}
}

func (c *headerCache) get(header string) *proofKey {
	c.mu.RLock()
	k := c.m[header]
	c.mu.RUnlock()
	return k
}

func (c *headerCache) put(header string, k *proofKey) {
	if len(header) > maxCachedHeader {
		return
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[header] = k
	c.mu.Unlock()
}
