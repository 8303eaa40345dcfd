// Package webauthntest provides a software passkey authenticator for tests
// and load generation. It plays the browser and the authenticator together:
// given the options JSON the relying party sent, it returns the JSON a
// browser's credential.toJSON() would produce, signed with keys it keeps in
// memory. Per-call Options build the dishonest or broken responses that
// negative tests need.
package webauthntest
