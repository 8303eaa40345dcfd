package tokens

import (
	"crypto/rand"

	"github.com/latchid/latch/tokens/jose"
)

// opaqueBytes is the entropy of refresh tokens and similar bearer secrets:
// 256 bits, so guessing is hopeless and the hash alone is a safe lookup key.
const opaqueBytes = 32

// NewOpaque returns a fresh opaque token (256 random bits, base64url) and
// the hash to store in its place. Only the hash is kept at rest; the token
// is shown once to its holder.
func NewOpaque() (token string, hash string) {
	var buf [opaqueBytes]byte
	// crypto/rand.Read never returns an error (it crashes the program
	// rather than hand out predictable bytes).
	_, _ = rand.Read(buf[:])
	token = b64.EncodeToString(buf[:])
	return token, HashOpaque(token)
}

// HashOpaque returns base64url(SHA-256(token)), the stored form of an opaque
// token. The token has full entropy, so an unsalted fast hash is the right
// tool: it is a lookup key, not a password hash.
func HashOpaque(token string) string {
	sum := jose.SHA256String(token)
	return b64.EncodeToString(sum[:])
}
