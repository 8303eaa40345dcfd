package sdjwt

import (
	"crypto/ecdsa"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// oracleRing is a keyring with an active ES256 key and a retired EdDSA key
// that is still published, as after a rotation.
func oracleRing(tb testing.TB) (es, ed *jose.SigningKey, ring *jose.Keyring) {
	tb.Helper()
	es, err := jose.GenerateSigningKey(jose.AlgES256, accessT0)
	if err != nil {
		tb.Fatal(err)
	}
	ed, err = jose.GenerateSigningKey(jose.AlgEdDSA, accessT0)
	if err != nil {
		tb.Fatal(err)
	}
	return es, ed, jose.NewKeyring(es, jose.KeyringEntry{Key: ed, PublishUntil: accessT0.Add(time.Hour)})
}

func oracleSet(tb testing.TB, ring *jose.Keyring) jwk.Set {
	tb.Helper()
	set, err := jwk.Parse(ring.JWKS(accessT0))
	if err != nil {
		tb.Fatalf("jwx cannot parse the JWKS: %v\n%s", err, ring.JWKS(accessT0))
	}
	return set
}

// TestJWXVerifiesSDJWTIssuerJWTs checks that jwx v3 verifies the issuer
// JWTs of SD-JWTs Latch issues, with the keys of Latch's published JWKS.
func TestJWXVerifiesSDJWTIssuerJWTs(t *testing.T) {
	es, ed, ring := oracleRing(t)
	set := oracleSet(t, ring)
	for _, signer := range []*jose.SigningKey{es, ed} {
		t.Run("SD-JWT issuer JWTs "+signer.Alg, func(t *testing.T) {
			holder := mustECKey(t)
			for i := range 8 {
				cred, err := SDIssue(SDIssueRequest{
					Issuer: sdTestIssuer, VCT: sdTestVCT, IssuedAt: accessT0, ExpiresAt: accessT0.Add(time.Hour),
					HolderJWK: sdTestECJWK(t, &holder.PublicKey), Claims: map[string]any{"given_name": "Ada", "n": i},
				}, signer.Signer(), signer.Alg, signer.ID)
				if err != nil {
					t.Fatal(err)
				}
				issuerJWT, _, _ := strings.Cut(cred.Compact, "~")
				payload, err := jws.Verify([]byte(issuerJWT), jws.WithKeySet(set, jws.WithRequireKid(true)))
				if err != nil {
					t.Fatalf("jwx refuses issuer JWT %d: %v", i, err)
				}
				var p map[string]any
				if err := json.Unmarshal(payload, &p); err != nil || p["iss"] != sdTestIssuer {
					t.Fatalf("jwx payload %s (%v)", payload, err)
				}
				// The holder key in cnf is a public key jwx can use, the
				// holder's own.
				raw, _ := json.Marshal(p["cnf"].(map[string]any)["jwk"])
				k, err := jwk.ParseKey(raw)
				if err != nil {
					t.Fatal(err)
				}
				var pub ecdsa.PublicKey
				if err := jwk.Export(k, &pub); err != nil || !pub.Equal(&holder.PublicKey) {
					t.Fatalf("cnf.jwk is not the holder key for jwx (%v)", err)
				}
			}
		})
	}
}
