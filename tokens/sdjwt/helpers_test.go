package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"math/big"
	"testing"
	"time"

	"github.com/latchid/latch/tokens/jose"
)

// signTestJWS builds a compact JWS over arbitrary header and claims values
// so tests can produce tokens this package would never issue. key may be
// *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey (RS256 or PS256
// chosen by alg) or []byte for HS256.
func signTestJWS(tb testing.TB, header, claims any, alg string, key any) string {
	tb.Helper()
	hb := mustJSON(tb, header)
	pb := mustJSON(tb, claims)
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(pb)
	var sig []byte
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		digest := sha256.Sum256([]byte(input))
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig = make([]byte, rawSigSize)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(input))
	case *rsa.PrivateKey:
		digest := sha256.Sum256([]byte(input))
		var err error
		if alg == jose.AlgPS256 {
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest[:])
		}
		if err != nil {
			tb.Fatal(err)
		}
	case []byte:
		m := hmac.New(sha256.New, k)
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case nil:
		sig = nil
	default:
		tb.Fatalf("unsupported test key %T", key)
	}
	return input + "." + b64.EncodeToString(sig)
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	if b, ok := v.([]byte); ok {
		return b
	}
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustECKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// rawSigSize is the size of a raw ES256 signature (r||s).
const rawSigSize = 64

// p256Order is the order n of P-256; p256HalfOrder is (n-1)/2, the largest
// s Latch emits.
var (
	p256Order     = elliptic.P256().Params().N
	p256HalfOrder = new(big.Int).Rsh(p256Order, 1)
)

// accessT0 is the fixed instant the oracle and status list tests sign at.
var accessT0 = time.Unix(1_790_000_000, 0)

// decodeSegment decodes one base64url segment into a new slice.
func decodeSegment(s string) ([]byte, error) {
	return b64.DecodeString(s)
}
