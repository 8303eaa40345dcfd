package tokens

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// orderedPrefixLen is the length of the time prefix of ordered identifiers
// and tokens: 6 bytes of milliseconds since 1970 in hex, which (unlike
// base64url, whose alphabet is not in ASCII order) sorts like the number.
const orderedPrefixLen = 12

func timePrefix(now time.Time) string {
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(now.UnixMilli()))
	return hex.EncodeToString(ms[2:])
}

// NewOrderedID returns an identifier that sorts by creation time: a
// millisecond time prefix followed by 128 random bits. Records keyed by such
// ids are appended at the end of a B+tree instead of landing on a random
// page, so a commit of many new records writes a few pages rather than one
// page each. The random part keeps ids unguessable.
func NewOrderedID(now time.Time) string {
	var r [16]byte
	_, _ = rand.Read(r[:])
	return timePrefix(now) + b64.EncodeToString(r[:])
}

// NewOrderedOpaque returns a fresh opaque token (a time prefix and 256
// random bits) and its storage key: the same public time prefix followed by
// the token's SHA-256 hash. As with NewOpaque only the key is kept at rest;
// the prefix just makes keys of tokens issued together sort together.
func NewOrderedOpaque(now time.Time) (token, key string) {
	var buf [opaqueBytes]byte
	_, _ = rand.Read(buf[:])
	token = timePrefix(now) + b64.EncodeToString(buf[:])
	return token, OrderedOpaqueKey(token)
}

// OrderedOpaqueKey returns the storage key of a token made by
// NewOrderedOpaque. Any other string yields a key that matches nothing.
func OrderedOpaqueKey(token string) string {
	if len(token) < orderedPrefixLen {
		return HashOpaque(token)
	}
	return token[:orderedPrefixLen] + HashOpaque(token)
}
