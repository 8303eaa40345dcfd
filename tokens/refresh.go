package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// The parts of a session refresh token, each of fixed length, so the token
// needs no separator: '.' would make it look like a JWT and '~' like an
// SD-JWT to code that tells tokens apart (revocation, introspection).
var (
	refreshBaseLen = orderedPrefixLen + b64.EncodedLen(opaqueBytes)
	refreshSIDLen  = orderedPrefixLen + b64.EncodedLen(16) // NewOrderedID
	refreshMACLen  = b64.EncodedLen(16)
)

// NewSessionRefresh returns a refresh token of the login session sid (an
// id from NewOrderedID) and its storage key (as NewOrderedOpaque's). The
// token is an ordered opaque token, then the session id, then a MAC under
// key over both. The store keeps only a family's current token and the one
// rotated last, so a token rotated earlier is gone from it; the MAC still
// tells, with nothing kept, that such a token was issued by this server for
// sid, so presenting it is recognised as the reuse of a rotated token (RFC
// 9700 section 4.14.2) rather than as a token never seen. Only the server
// can name a session this way: a forged session id has no valid MAC.
func NewSessionRefresh(now time.Time, sid string, key []byte) (token, storeKey string) {
	token, storeKey = NewOrderedOpaque(now)
	if len(sid) != refreshSIDLen {
		return token, storeKey // not an ordered id: a plain opaque token
	}
	token += sid + refreshMAC(token, sid, key)
	return token, OrderedOpaqueKey(token)
}

// RefreshSession returns the session a token made by NewSessionRefresh
// names, when its MAC verifies under key; any other string names none.
func RefreshSession(token string, key []byte) (sid string, ok bool) {
	if len(token) != refreshBaseLen+refreshSIDLen+refreshMACLen {
		return "", false
	}
	base, sid, mac := token[:refreshBaseLen], token[refreshBaseLen:refreshBaseLen+refreshSIDLen], token[refreshBaseLen+refreshSIDLen:]
	if !hmac.Equal([]byte(mac), []byte(refreshMAC(base, sid, key))) {
		return "", false
	}
	return sid, true
}

func refreshMAC(base, sid string, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(base))
	m.Write([]byte(sid))
	return b64.EncodeToString(m.Sum(nil)[:16])
}

// RefreshDigestLen is the length of a RefreshDigest.
const RefreshDigestLen = 16

// RefreshDigest is what a store keeps of a session's current refresh token
// to recognise it: the first 128 bits of its SHA-256 hash. A token is
// unguessable and names its session under the server's MAC, so the
// digest only has to tell the session's current token from the ones it
// replaced, which 128 bits do with no chance of a collision, and the token
// cannot be recovered from it.
func RefreshDigest(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:RefreshDigestLen]
}

// RefreshIssuedAt is when a token made by NewSessionRefresh was issued, to
// the millisecond, read from its time prefix; ok is false for any other
// string.
func RefreshIssuedAt(token string) (at time.Time, ok bool) {
	if len(token) < orderedPrefixLen {
		return time.Time{}, false
	}
	var ms [8]byte
	if _, err := hex.Decode(ms[2:], []byte(token[:orderedPrefixLen])); err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(ms[:]))).UTC(), true
}
