package tokens

import (
	"crypto/sha256"
	"testing"
)

func TestNewOpaque(t *testing.T) {
	token, hash := NewOpaque()
	raw, err := b64.DecodeString(token)
	if err != nil || len(raw) != 32 {
		t.Fatalf("token %q decodes to %d bytes (%v), want 32", token, len(raw), err)
	}
	sum := sha256.Sum256([]byte(token))
	if hash != b64.EncodeToString(sum[:]) || HashOpaque(token) != hash {
		t.Fatalf("hash %q is not base64url(SHA-256(token))", hash)
	}
	other, _ := NewOpaque()
	if other == token {
		t.Fatal("two opaque tokens are equal")
	}
}

func TestHashOpaqueKnownValue(t *testing.T) {
	// SHA-256("abc") from FIPS 180-2, base64url-encoded.
	if got, want := HashOpaque("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"; got != want {
		t.Fatalf("HashOpaque(abc) = %q, want %q", got, want)
	}
}
