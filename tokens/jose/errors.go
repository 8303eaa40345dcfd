package jose

// OAuth error codes carried by TokenError.
const (
	// CodeInvalidToken rejects an access token (RFC 6750 section 3.1).
	CodeInvalidToken = "invalid_token"
	// CodeInvalidDPoPProof rejects a DPoP proof (RFC 9449 sections 5 and 7.1).
	CodeInvalidDPoPProof = "invalid_dpop_proof"
	// CodeUseDPoPNonce asks the client to retry with the server nonce (RFC 9449 sections 8 and 9).
	CodeUseDPoPNonce = "use_dpop_nonce"
)

// TokenError describes why a token or proof was rejected. Code is an OAuth
// error code; Description is written for clients and never carries key
// material, token contents or internal state.
type TokenError struct {
	Code        string
	Description string
}

// Error returns the code and description.
func (e *TokenError) Error() string {
	return e.Code + ": " + e.Description
}
