package tokens

import "encoding/base64"

// b64 is base64url without padding (RFC 7515 section 2). Strict rejects
// non-zero trailing bits, so every value has exactly one accepted encoding.
var b64 = base64.RawURLEncoding.Strict()

// decodeSegment decodes one base64url segment into a new slice.
func decodeSegment(s string) ([]byte, error) {
	return b64.DecodeString(s)
}
