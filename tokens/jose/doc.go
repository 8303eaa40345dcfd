// Package jose holds the JOSE primitives every Latch token is built from:
// compact JWS signing and verification (RFC 7515, RFC 7518, RFC 8037), JWK
// parsing and RFC 7638 thumbprints, the strict JSON scan run over every
// JOSE header and payload before it is decoded, signing keys and the
// rotating keyring with its published JWK Set, the Ed25519 small-order key
// checks, and TokenError, the client-safe rejection of a token or proof.
//
// It depends on no other Latch package: dpop, sdjwt and tokens build on it.
package jose
