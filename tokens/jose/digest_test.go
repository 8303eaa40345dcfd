package jose

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestSHA256StringMatchesSum256(t *testing.T) {
	for _, s := range []string{"", "abc", strings.Repeat("x", 1000)} {
		if SHA256String(s) != sha256.Sum256([]byte(s)) {
			t.Fatalf("digest of %d bytes differs", len(s))
		}
	}
}
