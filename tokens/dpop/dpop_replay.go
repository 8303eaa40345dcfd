package dpop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// replayCache remembers DPoP proof jtis for as long as a proof could still
// be accepted (RFC 9449 section 11.1). Memory is bounded twice over: each
// entry lives in a time bucket that is dropped whole once it expires, and
// the total number of entries is capped. When the cap is reached with only
// live entries the cache fails closed and proofs are rejected, because
// forgetting a live jti would allow a replay.
//
// Failing closed must not let one client shut others out, so:
//   - an entry's shard is chosen by its own key, a hash keyed with a secret
//     drawn at start-up: nobody can choose, or even learn, which shard a
//     proof lands in, so no one can aim proofs at someone else's shard,
//     and every key's entries spread evenly over all shards (a few busy
//     keys never crowd one shard while the others stand empty);
//   - each proof key has its own bound (perKey live entries in all, so
//     perKey/replayShards in each shard), enforced once a shard is half
//     full: a key at its bound then has its own proofs refused until its
//     entries expire, so keys over their bound together take at most half
//     of the cache and the other half is left to keys within theirs. The
//     bound is generous (an eighth of the cache by default, about 2,000
//     proofs a second sustained), so a busy client such as a backend with
//     one key or a load generator is not refused;
//   - callers record a jti only for a request that otherwise succeeds (see
//     DPoP.CheckOnly and DPoP.Record), so proofs sent with a bad grant, a
//     failed ceremony or someone else's token cost the cache nothing.
type replayCache struct {
	// secret keys every hash the cache takes, so shard choice and entry
	// keys cannot be computed outside the process.
	secret [32]byte
	shards [replayShards]replayShard
	// width is the bucket span in seconds; an entry is kept until the end
	// of the bucket holding its expiry, so at most width seconds longer.
	width int64
	// perShard caps the entries of one shard, perKey those of one proof
	// key in one shard at least half full.
	perShard, perKey int
}

const (
	replayShards = 16
	// replayBuckets covers the acceptance window with room for the bucket
	// being filled and the one just expired.
	replayBuckets       = 16
	replayBucketSlots   = replayBuckets + 3
	defaultReplayCacheN = 1 << 20
	// defaultKeysToFill is how many proof keys at their bound it takes to
	// fill the cache, when the per-key bound is not configured.
	defaultKeysToFill = 8
)

// holderID identifies a proof key inside the cache: a keyed hash of its
// thumbprint.
type holderID [16]byte

type replayShard struct {
	mu      sync.Mutex
	buckets [replayBucketSlots]replayBucket
	count   int
	// live counts the entries each proof key has in the buckets; a key
	// with none has no entry here.
	live map[holderID]int
}

// replayBucket holds the keys whose expiry falls in bucket number epoch,
// that is in [epoch*width, (epoch+1)*width) seconds since the Unix epoch,
// each with the proof key that recorded it.
type replayBucket struct {
	epoch int64
	keys  map[[32]byte]holderID
}

func newReplayCache(window time.Duration, size, perKey int) *replayCache {
	secs := int64((window + time.Second - 1) / time.Second)
	width := (secs + replayBuckets - 1) / replayBuckets
	if width < 1 {
		width = 1
	}
	per := (size + replayShards - 1) / replayShards
	if per < 1 {
		per = 1
	}
	if perKey <= 0 {
		perKey = size / defaultKeysToFill
	}
	// A key's entries spread evenly over the shards, so its bound in each
	// is its share of the whole.
	perKey = (perKey + replayShards - 1) / replayShards
	c := &replayCache{width: width, perShard: per, perKey: min(max(perKey, 1), per)}
	rand.Read(c.secret[:])
	for i := range c.shards {
		c.shards[i].live = make(map[holderID]int)
	}
	return c
}

// holder derives the cache's name for a proof key from its thumbprint.
func (c *replayCache) holder(jkt string) holderID {
	var buf [128]byte
	sum := sha256.Sum256(append(append(buf[:0], c.secret[:]...), jkt...))
	return holderID(sum[:16])
}

// key binds a jti to its proof key and the normalised target URI, as RFC
// 9449 section 11.1 asks. The URI is length-prefixed so no two (htu, jti)
// pairs hash the same input. Binding the key costs nothing in safety: a
// replay is the same proof, so the same key.
func (c *replayCache) key(h holderID, htu, jti string) [32]byte {
	// A stack buffer covers every normal URL and jti, so the hot path does
	// not allocate.
	var buf [512]byte
	b := append(buf[:0], c.secret[:]...)
	b = append(b, h[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(len(htu)))
	b = append(b, htu...)
	b = append(b, jti...)
	return sha256.Sum256(b)
}

// shard holds the entry key: keys are keyed hashes, so shards are chosen
// evenly and by no one.
func (c *replayCache) shard(key *[32]byte) *replayShard { return &c.shards[key[0]%replayShards] }

// seen reports whether key is recorded and still live at now.
func (c *replayCache) seen(key *[32]byte, now time.Time) bool {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seenLocked(key, c.epochOf(now.Unix()))
}

// recordResult is what record did.
type recordResult int

const (
	recorded    recordResult = iota
	replayed                 // the key is already live
	keyAtBound               // the proof key has perKey live entries
	shardIsFull              // the shard has no room for a live entry
)

// record stores key, recorded by proof key h, until expires.
func (c *replayCache) record(h holderID, key *[32]byte, expires, now time.Time) recordResult {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	nowEpoch := c.epochOf(now.Unix())
	if s.seenLocked(key, nowEpoch) {
		return replayed
	}
	epoch := c.epochOf(expires.Unix())
	if epoch < nowEpoch {
		// Already outside the acceptance window: nothing to remember.
		return recorded
	}
	if s.overBoundLocked(h, c) || s.count >= c.perShard {
		s.dropExpiredLocked(nowEpoch)
		switch {
		case s.overBoundLocked(h, c):
			return keyAtBound
		case s.count >= c.perShard:
			return shardIsFull
		}
	}
	b := &s.buckets[uint64(epoch)%replayBucketSlots]
	if b.epoch > epoch && len(b.keys) > 0 {
		// Only a clock that jumped backwards lands here: the slot holds a
		// later bucket that is still live. Refuse rather than forget it.
		return shardIsFull
	}
	if b.epoch != epoch {
		// The slot still holds an older bucket; with more slots than the
		// window spans, that bucket has expired.
		s.clearLocked(b)
		b.epoch = epoch
	}
	if b.keys == nil {
		b.keys = make(map[[32]byte]holderID)
	}
	b.keys[*key] = h
	s.count++
	s.live[h]++
	return recorded
}

// overBoundLocked reports whether h may record no more in s: it has perKey
// live entries there and s is at least half full.
func (s *replayShard) overBoundLocked(h holderID, c *replayCache) bool {
	return s.live[h] >= c.perKey && 2*s.count >= c.perShard
}

func (c *replayCache) epochOf(unix int64) int64 {
	if unix < 0 {
		return -1
	}
	return unix / c.width
}

// seenLocked looks in every live bucket: a jti may come back with another
// iat, so its expiry, and thus its bucket, is not known in advance.
func (s *replayShard) seenLocked(key *[32]byte, nowEpoch int64) bool {
	for i := range s.buckets {
		b := &s.buckets[i]
		if b.epoch < nowEpoch || len(b.keys) == 0 {
			continue
		}
		if _, ok := b.keys[*key]; ok {
			return true
		}
	}
	return false
}

func (s *replayShard) dropExpiredLocked(nowEpoch int64) {
	for i := range s.buckets {
		if b := &s.buckets[i]; b.epoch < nowEpoch && len(b.keys) > 0 {
			s.clearLocked(b)
		}
	}
}

// clearLocked empties b and gives its entries back to their proof keys.
func (s *replayShard) clearLocked(b *replayBucket) {
	for _, h := range b.keys {
		if s.live[h] <= 1 {
			delete(s.live, h)
		} else {
			s.live[h]--
		}
	}
	s.count -= len(b.keys)
	clear(b.keys)
}
