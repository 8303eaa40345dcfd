// Package sdjwt implements Selective Disclosure for JWTs (SD-JWT, RFC 9901)
// as Latch issues and verifies them: credentials with disclosable claims
// and decoys, presentations with key binding, the issuer's inspection of a
// credential it issued for revocation, and the Token Status List
// (draft-ietf-oauth-status-list) that records each credential's status:
// the compressed bit list, its signed Status List Token and the status
// reference a credential carries.
//
// It builds on package jose and on no other Latch package.
package sdjwt
