package dpop

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"sync"
	"time"
)

// nonceWindow is how long one server nonce is handed out. A nonce is
// accepted during its own window and the next, so a client that just
// received one has at least a full window to use it.
const nonceWindow = time.Minute

// nonceSize is the number of MAC bytes in a nonce: 128 bits make it
// unpredictable (RFC 9449 section 8) while keeping the header short.
const nonceSize = 16

// nonceSource derives DPoP server nonces as HMAC-SHA256(key, window) under
// a random per-process key or one given (DPoPConfig.NonceKey). Nothing is stored per client: validity is
// recomputed, and the nonce changes every window, which rotates it.
type nonceSource struct {
	key [32]byte

	mu     sync.Mutex
	window int64  // window of the cached nonce
	cached string // nonce of that window
}

// newNonceSource makes a source keyed with key, or with a random key when
// key is empty.
func newNonceSource(key []byte) *nonceSource {
	n := &nonceSource{window: -1}
	if len(key) == 0 {
		_, _ = rand.Read(n.key[:])
	} else {
		n.key = sha256.Sum256(append([]byte(nonceLabel+" key\x00"), key...))
	}
	return n
}

func windowOf(t time.Time) int64 {
	return t.Unix() / int64(nonceWindow/time.Second)
}

func (n *nonceSource) mac(window int64) [nonceSize]byte {
	m := hmac.New(sha256.New, n.key[:])
	var buf [8 + len(nonceLabel)]byte
	copy(buf[:], nonceLabel)
	binary.BigEndian.PutUint64(buf[len(nonceLabel):], uint64(window))
	m.Write(buf[:])
	var out [nonceSize]byte
	copy(out[:], m.Sum(nil))
	return out
}

// nonceLabel separates nonce MACs from any other use of the key.
const nonceLabel = "latch dpop nonce"

// current returns the nonce for the window containing now.
func (n *nonceSource) current(now time.Time) string {
	w := windowOf(now)
	n.mu.Lock()
	defer n.mu.Unlock()
	if w != n.window {
		mac := n.mac(w)
		n.cached = b64.EncodeToString(mac[:])
		n.window = w
	}
	return n.cached
}

// valid reports whether nonce was issued for the current or the previous
// window, comparing in constant time.
func (n *nonceSource) valid(nonce string, now time.Time) bool {
	var got [nonceSize]byte
	if !decodeExact(got[:], nonce) {
		return false
	}
	w := windowOf(now)
	cur, prev := n.mac(w), n.mac(w-1)
	ok := subtle.ConstantTimeCompare(got[:], cur[:]) | subtle.ConstantTimeCompare(got[:], prev[:])
	return ok == 1
}
