package tokens

import (
	"slices"
	"sync"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// verifiedCache remembers access tokens that passed every check, so a
// resource server pays for one signature verification per token rather
// than per request. Entries are keyed by SHA-256 of the token string and
// hold the parsed claims. Sharding keeps lock contention low; each shard
// is a plain map with a fixed capacity.
type verifiedCache struct {
	shards   []cacheShard
	mask     uint8
	perShard int
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[[32]byte]*cacheEntry
}

// cacheEntry is immutable after insertion, so readers may use it after
// releasing the shard lock.
type cacheEntry struct {
	claims AccessClaims
	// state is the keyring the token was verified against. Any Replace
	// publishes a new state, which retires every entry at once: a key that
	// was withdrawn must not keep vouching for cached tokens.
	state *jose.KeyringSnapshot
	// until is min(exp, key PublishUntil) in Unix nanoseconds; an entry is
	// never returned at or after it.
	until int64
}

// evictScan bounds the work an insert into a full shard may do looking
// for expired entries before it evicts an arbitrary live one.
const evictScan = 8

func newVerifiedCache(size int) *verifiedCache {
	shards := 64
	for shards > 1 && shards > size {
		shards /= 2
	}
	c := &verifiedCache{
		shards:   make([]cacheShard, shards),
		mask:     uint8(shards - 1),
		perShard: (size + shards - 1) / shards,
	}
	for i := range c.shards {
		c.shards[i].m = make(map[[32]byte]*cacheEntry)
	}
	return c
}

// get returns a private copy of the cached claims for the token hash sum,
// or false if there is no entry still valid at now under state.
func (c *verifiedCache) get(sum *[32]byte, state *jose.KeyringSnapshot, now time.Time) (*AccessClaims, bool) {
	s := &c.shards[sum[0]&c.mask]
	s.mu.RLock()
	e := s.m[*sum]
	s.mu.RUnlock()
	if e == nil || e.state != state || now.UnixNano() >= e.until {
		return nil, false
	}
	out := new(AccessClaims)
	*out = e.claims
	if e.claims.AMR != nil {
		out.AMR = slices.Clone(e.claims.AMR)
	}
	if e.claims.Groups != nil {
		out.Groups = slices.Clone(e.claims.Groups)
	}
	return out, true
}

// put stores claims, which the cache now owns, until the given instant.
func (c *verifiedCache) put(sum *[32]byte, claims *AccessClaims, state *jose.KeyringSnapshot, until, now time.Time) {
	if !now.Before(until) {
		return
	}
	e := &cacheEntry{claims: *claims, state: state, until: until.UnixNano()}
	s := &c.shards[sum[0]&c.mask]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[*sum]; !ok && len(s.m) >= c.perShard {
		s.evictLocked(now.UnixNano())
	}
	s.m[*sum] = e
}

// evictLocked frees at least one slot. Map iteration order is random, so
// deleting the first entry visited is a cheap random eviction; expired
// entries seen on the way go first.
func (s *cacheShard) evictLocked(now int64) {
	var victim [32]byte
	seen, freed := 0, false
	for k, e := range s.m {
		if seen == 0 {
			victim = k
		}
		if now >= e.until {
			delete(s.m, k)
			freed = true
		}
		if seen++; seen >= evictScan {
			break
		}
	}
	if !freed {
		delete(s.m, victim)
	}
}

// len reports the number of entries, for tests.
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		c.shards[i].mu.RLock()
		n += len(c.shards[i].m)
		c.shards[i].mu.RUnlock()
	}
	return n
}
