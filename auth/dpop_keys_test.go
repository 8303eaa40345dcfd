package auth

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"testing"
	"time"

	"github.com/latchid/latch/tokens"
	"github.com/latchid/latch/webauthn/webauthntest"
)

// The identity point of Ed25519 as a JWK "x", and the signature
// (R = identity, S = 0) that verifies under it for every message: a holder
// claiming this key needs no private key at all.
const identityX = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

var identityJWK = map[string]any{"kty": "OKP", "crv": "Ed25519", "x": identityX}

func forgeJWS(t *testing.T, header, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	sig := make([]byte, 64)
	sig[0] = 1
	return b64.EncodeToString(h) + "." + b64.EncodeToString(c) + "." + b64.EncodeToString(sig)
}

func forgedProof(t *testing.T, now time.Time, method, path, accessToken string) string {
	t.Helper()
	c := map[string]any{"jti": randomID(12), "htm": method, "htu": testIssuer + path, "iat": now.Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c["ath"] = b64.EncodeToString(sum[:])
	}
	return forgeJWS(t, map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": identityJWK}, c)
}

func identityThumbprint() string {
	sum := sha256.Sum256([]byte(`{"crv":"Ed25519","kty":"OKP","x":"` + identityX + `"}`))
	return b64.EncodeToString(sum[:])
}

func TestIdentityPointForgeryIsRefused(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	now := e.clock.Now()

	t.Run("sign-up", func(t *testing.T) {
		mallory := e.newUser("mallory", false)
		cer, opts := mallory.begin("/webauthn/register/begin", map[string]any{"username": "mallory"}, nil)
		cred, err := mallory.authn.Create(opts, webauthntest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		r := e.request("POST", "/webauthn/register/finish", map[string]any{"ceremony": cer, "credential": rawJSON(cred)},
			map[string]string{"DPoP": forgedProof(t, now, "POST", "/webauthn/register/finish", "")})
		expectError(t, r, 400, "invalid_dpop_proof")
	})

	t.Run("userinfo", func(t *testing.T) {
		// A token bound to the identity key, as one issued before the fix
		// would be: the forged proof must still not unlock it.
		claims := jwtPart(t, alice.access, 1)
		tok, _, err := e.srv.access.Issue(tokens.AccessClaims{
			Subject: claims["sub"].(string), ClientID: defaultClientID, Scope: defaultScope,
			SessionID: claims["sid"].(string), JKT: identityThumbprint(),
		})
		if err != nil {
			t.Fatal(err)
		}
		r := e.request("GET", "/userinfo", nil, map[string]string{"Authorization": "DPoP " + tok, "DPoP": forgedProof(t, now, "GET", "/userinfo", tok)})
		expectError(t, r, 401, "invalid_dpop_proof")
	})

	t.Run("credentials verify", func(t *testing.T) {
		// An issuer JWT signed by this server's key but bound to the
		// identity key, and a key-binding JWT made without a private key.
		key := e.srv.keys.Active()
		priv, ok := key.Signer().(*ecdsa.PrivateKey)
		if !ok {
			t.Fatalf("active key is %T", key.Signer())
		}
		jwt := signJWS(t, priv, map[string]any{"alg": "ES256", "kid": key.ID, "typ": "dc+sd-jwt"}, map[string]any{
			"iss": testIssuer, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
			"vct": testIssuer + "/credentials/identity", "cnf": map[string]any{"jwk": identityJWK},
			"_sd_alg": "sha-256", "_sd": []any{}, "username": "alice",
		})
		prefix := jwt + "~"
		sum := sha256.Sum256([]byte(prefix))
		kb := forgeJWS(t, map[string]any{"typ": "kb+jwt", "alg": "EdDSA"}, map[string]any{
			"iat": now.Unix(), "aud": "https://rp.example", "nonce": "n-123", "sd_hash": b64.EncodeToString(sum[:]),
		})
		r := e.request("POST", "/credentials/verify", map[string]any{"presentation": prefix + kb, "aud": "https://rp.example", "nonce": "n-123"}, nil)
		if r.status != 400 || r.body["valid"] != false || r.str("error") != "invalid_presentation" {
			t.Fatalf("forged presentation: %d %s", r.status, r.raw)
		}
	})
}
