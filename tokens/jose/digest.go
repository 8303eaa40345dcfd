package jose

import (
	"crypto/sha256"
	"unsafe"
)

// SHA256String returns SHA-256(s) without copying s into a new byte slice:
// a token is hashed on every request and the copy would dominate the cost
// of a cache hit. The view is safe because Sum256 only reads its input and
// keeps no reference to it.
func SHA256String(s string) [32]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(s), len(s)))
}
