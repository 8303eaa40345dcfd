package tokens

import (
	"crypto/sha256"
	"hash"
	"io"
	"sync"
)

// sha256Pool recycles hashers so digesting a token string neither copies
// it into a new byte slice nor allocates a hasher on hot paths.
var sha256Pool = sync.Pool{New: func() any { return sha256.New() }}

// sha256String returns SHA-256(s) without converting s to []byte.
func sha256String(s string) [32]byte {
	h := sha256Pool.Get().(hash.Hash)
	h.Reset()
	_, _ = io.WriteString(h, s)
	var out [32]byte
	h.Sum(out[:0])
	sha256Pool.Put(h)
	return out
}
