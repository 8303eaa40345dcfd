// Package tokens issues and verifies the tokens the Latch service hands
// out: RFC 9068 access tokens (with their verified-token cache), OpenID
// Connect ID tokens and logout tokens, rotating refresh tokens, opaque and
// time-ordered identifiers, and the private_key_jwt client assertions
// clients authenticate with.
//
// The building blocks live in packages named after them: jose (compact
// JWS, JWKs, signing keys and the keyring), dpop (DPoP proofs) and sdjwt
// (SD-JWT credentials and the Token Status List).
package tokens
