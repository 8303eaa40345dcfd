// Package dpop implements OAuth 2.0 Demonstrating Proof of Possession
// (RFC 9449): verifying the DPoP proofs that bind a request to a client's
// key (strict parsing, the htm and htu checks with URL normalisation, ath,
// server nonces, replay protection per jti and a bounded cache of parsed
// proof keys), and the client side, NewProof, for Go programs that call
// Latch or an API protected by its tokens.
//
// It builds on package jose and on no other Latch package.
package dpop
