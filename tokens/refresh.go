package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"time"
)

// refreshMACLen is the length of a refresh token's MAC, in bytes.
const refreshMACLen = 16

// NewSessionRefresh returns a refresh token of the login session sid and
// its storage key (as NewOrderedOpaque's). The token is an ordered opaque
// token, then the session id, then a MAC under key over both. The store
// keeps only a family's current token and the one rotated last, so a token
// rotated earlier is gone from it; the MAC still tells, with nothing kept,
// that such a token was issued by this server for sid, so presenting it is
// recognised as the reuse of a rotated token (RFC 9700 section 4.14.2)
// rather than as a token never seen. Only the server can name a session
// this way: a forged session id has no valid MAC.
func NewSessionRefresh(now time.Time, sid string, key []byte) (token, storeKey string) {
	base, _ := NewOrderedOpaque(now)
	token = base + "." + sid + "." + refreshMAC(base, sid, key)
	return token, OrderedOpaqueKey(token)
}

// RefreshSession returns the session a token made by NewSessionRefresh
// names, when its MAC verifies under key; any other string names none.
func RefreshSession(token string, key []byte) (sid string, ok bool) {
	base, rest, ok := strings.Cut(token, ".")
	if !ok {
		return "", false
	}
	sid, mac, ok := strings.Cut(rest, ".")
	if !ok || sid == "" || len(mac) != b64.EncodedLen(refreshMACLen) {
		return "", false
	}
	if !hmac.Equal([]byte(mac), []byte(refreshMAC(base, sid, key))) {
		return "", false
	}
	return sid, true
}

func refreshMAC(base, sid string, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(base))
	m.Write([]byte{'.'})
	m.Write([]byte(sid))
	return b64.EncodeToString(m.Sum(nil)[:refreshMACLen])
}
