package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"time"
)

// codeMACDomain separates the MAC of an authorization code from that of a
// refresh token made with the same key: a code never verifies as a refresh
// token, nor a refresh token as a code.
const codeMACDomain = "latch authorization code\x00"

// NewSessionCode returns an authorization code that names the session its
// exchange will start (sid, an id from NewOrderedID), and its storage key
// (as NewOrderedOpaque's). Like a session refresh token, it is an ordered
// opaque token, then the session id, then a MAC under key over both, in a
// domain of its own. The code is spent by starting that session: its
// exchange finds the session there already when the code comes again, and
// even once the code's own record is gone the MAC tells that the code was
// issued here for sid, so its reuse can still revoke what it got (RFC 6749
// section 4.1.2) with nothing written to mark it spent.
func NewSessionCode(now time.Time, sid string, key []byte) (code, storeKey string) {
	code, _ = NewOrderedOpaque(now)
	if len(sid) != refreshSIDLen {
		return code, OrderedOpaqueKey(code) // not an ordered id: a plain opaque code
	}
	code += sid + codeMAC(code, sid, key)
	return code, OrderedOpaqueKey(code)
}

// CodeSession returns the session a code made by NewSessionCode names,
// when its MAC verifies under key; any other string names none.
func CodeSession(code string, key []byte) (sid string, ok bool) {
	if len(code) != refreshBaseLen+refreshSIDLen+refreshMACLen {
		return "", false
	}
	base, sid, mac := code[:refreshBaseLen], code[refreshBaseLen:refreshBaseLen+refreshSIDLen], code[refreshBaseLen+refreshSIDLen:]
	if !hmac.Equal([]byte(mac), []byte(codeMAC(base, sid, key))) {
		return "", false
	}
	return sid, true
}

func codeMAC(base, sid string, key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(codeMACDomain))
	m.Write([]byte(base))
	m.Write([]byte(sid))
	return b64.EncodeToString(m.Sum(nil)[:16])
}
