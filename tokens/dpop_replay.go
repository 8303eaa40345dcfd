package tokens

import (
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
type replayCache struct {
	shards [replayShards]replayShard
	// width is the bucket span in seconds; an entry is kept until the end
	// of the bucket holding its expiry, so at most width seconds longer.
	width int64
	// perShard caps the entries of one shard.
	perShard int
}

const (
	replayShards = 16
	// replayBuckets covers the acceptance window with room for the bucket
	// being filled and the one just expired.
	replayBuckets       = 16
	replayBucketSlots   = replayBuckets + 3
	defaultReplayCacheN = 1 << 20
)

type replayShard struct {
	mu      sync.Mutex
	buckets [replayBucketSlots]replayBucket
	count   int
}

// replayBucket holds the keys whose expiry falls in bucket number epoch,
// that is in [epoch*width, (epoch+1)*width) seconds since the Unix epoch.
type replayBucket struct {
	epoch int64
	keys  map[[32]byte]struct{}
}

func newReplayCache(window time.Duration, size int) *replayCache {
	secs := int64((window + time.Second - 1) / time.Second)
	width := (secs + replayBuckets - 1) / replayBuckets
	if width < 1 {
		width = 1
	}
	per := (size + replayShards - 1) / replayShards
	if per < 1 {
		per = 1
	}
	return &replayCache{width: width, perShard: per}
}

// replayKey binds a jti to the normalised target URI, as RFC 9449 section
// 11.1 asks. The URI is length-prefixed so no two (htu, jti) pairs hash the
// same input.
func replayKey(htu, jti string) [32]byte {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(htu)))
	h.Write(n[:])
	h.Write([]byte(htu))
	h.Write([]byte(jti))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// seen reports whether key is recorded and still live at now.
func (c *replayCache) seen(key *[32]byte, now time.Time) bool {
	s := &c.shards[key[0]%replayShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seenLocked(key, c.epochOf(now.Unix()))
}

// record stores key until expires. It returns ok=false with full=false if
// the key is already live (a replay), and full=true if the cache has no room
// for another live entry.
func (c *replayCache) record(key *[32]byte, expires, now time.Time) (ok, full bool) {
	s := &c.shards[key[0]%replayShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	nowEpoch := c.epochOf(now.Unix())
	if s.seenLocked(key, nowEpoch) {
		return false, false
	}
	epoch := c.epochOf(expires.Unix())
	if epoch < nowEpoch {
		// Already outside the acceptance window: nothing to remember.
		return true, false
	}
	if s.count >= c.perShard {
		s.dropExpiredLocked(nowEpoch)
		if s.count >= c.perShard {
			return false, true
		}
	}
	b := &s.buckets[uint64(epoch)%replayBucketSlots]
	if b.epoch > epoch && len(b.keys) > 0 {
		// Only a clock that jumped backwards lands here: the slot holds a
		// later bucket that is still live. Refuse rather than forget it.
		return false, true
	}
	if b.epoch != epoch {
		// The slot still holds an older bucket; with more slots than the
		// window spans, that bucket has expired.
		s.count -= len(b.keys)
		clear(b.keys)
		b.epoch = epoch
	}
	if b.keys == nil {
		b.keys = make(map[[32]byte]struct{})
	}
	b.keys[*key] = struct{}{}
	s.count++
	return true, false
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
		b := &s.buckets[i]
		if b.epoch < nowEpoch && len(b.keys) > 0 {
			s.count -= len(b.keys)
			clear(b.keys)
		}
	}
}
