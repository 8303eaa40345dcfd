package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Shared fixtures for the SD-JWT tests: an issuer, a holder and helpers that
// build presentations, crafted issuer JWTs and KB-JWTs.

const (
	sdTestIssuer   = "https://issuer.example.com"
	sdTestVCT      = "https://issuer.example.com/credentials/identity"
	sdTestKID      = "issuer-2026"
	sdTestOldKID   = "issuer-2025"
	sdTestAudience = "https://verifier.example.org"
	sdTestNonce    = "n-0S6_WzA2Mj"
)

// sdTestNow is fixed so every expiry and freshness case is deterministic.
var sdTestNow = time.Unix(1_790_000_000, 0)

type sdFixture struct {
	issuer    *ecdsa.PrivateKey
	oldIssuer ed25519.PrivateKey // a rotated-out key that is still published
	holder    *ecdsa.PrivateKey
	holderJWK []byte
}

func sdNewFixture(tb testing.TB) *sdFixture {
	tb.Helper()
	issuer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	holder, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	_, old, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return &sdFixture{issuer: issuer, oldIssuer: old, holder: holder, holderJWK: sdTestECJWK(tb, &holder.PublicKey)}
}

// sdTestECJWK renders a P-256 public key as JWK JSON.
func sdTestECJWK(tb testing.TB, pub *ecdsa.PublicKey) []byte {
	tb.Helper()
	point, err := pub.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{
		"kty": "EC", "crv": "P-256",
		"x": b64.EncodeToString(point[1:33]), "y": b64.EncodeToString(point[33:]),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func (f *sdFixture) keys() SDKeyLookup {
	return func(kid string) (crypto.PublicKey, string, bool) {
		switch kid {
		case sdTestKID:
			return &f.issuer.PublicKey, "ES256", true
		case sdTestOldKID:
			return f.oldIssuer.Public(), "EdDSA", true
		}
		return nil, "", false
	}
}

func (f *sdFixture) claims() map[string]any {
	return map[string]any{
		"sub":          "user-7f3a",
		"username":     "alice",
		"display_name": "Alice Example",
		"amr":          []any{"hwk", "user"},
		"created_at":   1_780_000_000,
	}
}

func (f *sdFixture) issue(tb testing.TB, claims map[string]any) *SDCredential {
	tb.Helper()
	cred, err := SDIssue(SDIssueRequest{
		Issuer:    sdTestIssuer,
		VCT:       sdTestVCT,
		IssuedAt:  sdTestNow.Add(-time.Hour),
		ExpiresAt: sdTestNow.Add(23 * time.Hour),
		HolderJWK: f.holderJWK,
		Claims:    claims,
	}, f.issuer, "ES256", sdTestKID)
	if err != nil {
		tb.Fatalf("SDIssue: %v", err)
	}
	return cred
}

// sdPick returns the disclosures of cred whose claim name is in names.
func sdPick(tb testing.TB, cred *SDCredential, names ...string) []string {
	tb.Helper()
	var out []string
	for _, d := range cred.Disclosures {
		dec, err := sdDecodeDisclosure(d)
		if err != nil {
			tb.Fatal(err)
		}
		for _, n := range names {
			if dec.name == n {
				out = append(out, d)
			}
		}
	}
	if len(out) != len(names) {
		tb.Fatalf("picked %d disclosures, want %d", len(out), len(names))
	}
	return out
}

// sdKBOptions adjusts the KB-JWT a test builds.
type sdKBOptions struct {
	header  map[string]any // replaces the default header when set
	payload func(map[string]any)
	signer  crypto.Signer // defaults to the holder key
	alg     string
}

// present builds "<jwt>~<disclosures>~<kb-jwt>" with a KB-JWT over exactly
// that prefix.
func (f *sdFixture) present(tb testing.TB, jwt string, disclosures []string, opt sdKBOptions) string {
	tb.Helper()
	prefix := sdSDJWT(jwt, disclosures)
	sum := sha256.Sum256([]byte(prefix))
	payload := map[string]any{
		"iat":     sdTestNow.Add(-10 * time.Second).Unix(),
		"aud":     sdTestAudience,
		"nonce":   sdTestNonce,
		"sd_hash": base64.RawURLEncoding.EncodeToString(sum[:]),
	}
	if opt.payload != nil {
		opt.payload(payload)
	}
	header := opt.header
	if header == nil {
		header = map[string]any{"alg": "ES256", "typ": "kb+jwt"}
	}
	signer, alg := opt.signer, opt.alg
	if signer == nil {
		signer, alg = f.holder, "ES256"
	}
	return prefix + sdTestSign(tb, header, payload, signer, alg)
}

// sdSDJWT joins an issuer JWT and disclosures into the SD-JWT form.
func sdSDJWT(jwt string, disclosures []string) string {
	var b strings.Builder
	b.WriteString(jwt)
	b.WriteByte('~')
	for _, d := range disclosures {
		b.WriteString(d)
		b.WriteByte('~')
	}
	return b.String()
}

func (f *sdFixture) request(presentation string) SDVerifyRequest {
	return SDVerifyRequest{
		Presentation: presentation,
		Audience:     sdTestAudience,
		Nonce:        sdTestNonce,
		Issuer:       sdTestIssuer,
		Now:          sdTestNow,
		MaxKBAge:     5 * time.Minute,
		Keys:         f.keys(),
	}
}

// basePayload is a valid issuer payload referencing digests.
func (f *sdFixture) basePayload(tb testing.TB, digests ...string) map[string]any {
	tb.Helper()
	var jwk map[string]any
	if err := json.Unmarshal(f.holderJWK, &jwk); err != nil {
		tb.Fatal(err)
	}
	sd := make([]any, len(digests))
	for i, d := range digests {
		sd[i] = d
	}
	return map[string]any{
		"iss":     sdTestIssuer,
		"iat":     sdTestNow.Add(-time.Hour).Unix(),
		"exp":     sdTestNow.Add(time.Hour).Unix(),
		"vct":     sdTestVCT,
		"cnf":     map[string]any{"jwk": jwk},
		"_sd_alg": "sha-256",
		"_sd":     sd,
	}
}

// signIssuer signs a crafted payload with the issuer key and the VC header.
func (f *sdFixture) signIssuer(tb testing.TB, payload map[string]any) string {
	tb.Helper()
	return sdTestSign(tb, map[string]any{"alg": "ES256", "kid": sdTestKID, "typ": "dc+sd-jwt"}, payload, f.issuer, "ES256")
}

func sdTestSign(tb testing.TB, header, payload any, signer crypto.Signer, alg string) string {
	tb.Helper()
	hb, err := json.Marshal(header)
	if err != nil {
		tb.Fatal(err)
	}
	pb, err := json.Marshal(payload)
	if err != nil {
		tb.Fatal(err)
	}
	jwt, err := sdSign(hb, pb, signer, alg)
	if err != nil {
		tb.Fatal(err)
	}
	return jwt
}

// sdTestDisclosure encodes the given array elements as a disclosure.
func sdTestDisclosure(tb testing.TB, elems ...any) string {
	tb.Helper()
	b, err := json.Marshal(elems)
	if err != nil {
		tb.Fatal(err)
	}
	return b64.EncodeToString(b)
}

// sdAssertJSON compares got with the JSON document want, ignoring key order
// and number representation.
func sdAssertJSON(tb testing.TB, got any, want string) {
	tb.Helper()
	gb, err := json.Marshal(got)
	if err != nil {
		tb.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(gb, &g); err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("bad expectation: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		tb.Fatalf("got  %s\nwant %s", gb, want)
	}
}

// sdAssertSDError checks err is an *SDError whose description contains want.
func sdAssertSDError(tb testing.TB, err error, want string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("accepted, want error %q", want)
	}
	se, ok := err.(*SDError)
	if !ok {
		tb.Fatalf("error %T %v is not *SDError", err, err)
	}
	if !strings.Contains(se.Description, want) {
		tb.Fatalf("error %q, want it to contain %q", se.Description, want)
	}
}
