// Package resource protects APIs that accept Latch's access tokens: it is
// the resource-server half of a Latch deployment.
//
// A Guard discovers the issuer's JWK Set from its RFC 8414 metadata,
// verifies RFC 9068 access tokens offline with the checks Latch itself
// makes (typ at+jwt, the algorithm of the signing key, iss, aud, exp and
// iat with a bounded skew), and checks the DPoP proof of a bound token as
// RFC 9449 section 7 asks: signature, htm and htu against the API's
// configured public URL (never the Host header), iat window, ath, the
// token's cnf.jkt, a bounded jti replay cache and, when enabled, server
// nonces. Refusals carry the WWW-Authenticate challenges Latch's own
// endpoints send, with RFC 9728's resource_metadata. Bearer tokens are
// refused unless Config.AllowBearer is set, and Config.Introspection adds
// revocation awareness through Latch's /introspect (RFC 7662) within a
// staleness bound.
//
// Use it through Guard.Middleware (net/http) or the fiberadapter
// subpackage (Fiber), and read the caller with PrincipalFrom. The package
// imports neither the Latch service nor its store: the JOSE, DPoP and
// access-token code is that of packages tokens/jose, tokens/dpop and
// tokens, the same code Latch runs.
//
// A verified token is remembered until it expires (or its key leaves the
// JWK Set), so a request with a known token costs one signature check,
// the proof's. The jti replay cache lives in one process: two instances
// of an API behind a load balancer do not share it, and a proof replayed
// to the other instance within its iat window is accepted there once.
// Deployments that must stop that turn on server nonces (the window
// shrinks to the nonce's) or route each client to one instance.
package resource
