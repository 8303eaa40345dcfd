package jose

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"strings"
	"testing"
)

func TestSplitCompact(t *testing.T) {
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"three base64url segments are accepted", "aGVhZA.cGF5bG9hZA.c2ln", true},
		{"two segments are rejected", "aGVhZA.cGF5bG9hZA", false},
		{"four segments are rejected", "a.b.c.d", false},
		{"empty header is rejected", ".cGF5bG9hZA.c2ln", false},
		{"empty payload is rejected", "aGVhZA..c2ln", false},
		{"empty signature is rejected", "aGVhZA.cGF5bG9hZA.", false},
		{"JSON serialisation is rejected", `{"payload":"cGF5bG9hZA","signatures":[]}`, false},
		{"line break inside a segment is rejected", "aGVh\nZA.cGF5bG9hZA.c2ln", false},
		{"padding is rejected", "aGVhZA==.cGF5bG9hZA.c2ln", false},
		{"standard base64 alphabet is rejected", "aGV+ZA.cGF5bG9hZA.c2ln", false},
		{"oversized token is rejected", strings.Repeat("a", MaxCompactJWS) + ".b.c", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j, err := SplitCompact(tt.token)
			if (err == nil) != tt.ok {
				t.Fatalf("SplitCompact err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && j.Header+"."+j.Payload+"."+j.Signature != tt.token {
				t.Fatalf("segments %+v do not rebuild the token", j)
			}
			if tt.ok && j.SigningInput != j.Header+"."+j.Payload {
				t.Fatalf("signing input %q", j.SigningInput)
			}
		})
	}
}

func TestES256SignatureEncodingRoundTrip(t *testing.T) {
	key := mustECKey(t)
	// Enough signatures that r or s with a high bit and with a leading
	// zero byte both occur.
	for i := 0; i < 200; i++ {
		msg := []byte{byte(i)}
		digest := sha256.Sum256(msg)
		der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		raw, err := decodeES256DER(der)
		if err != nil || len(raw) != rawSigSize {
			t.Fatalf("decode: %v", err)
		}
		var buf [72]byte
		if back := encodeES256DER(buf[:0], raw); !bytes.Equal(back, der) {
			t.Fatalf("re-encoded DER differs:\n%x\n%x", back, der)
		}
		if !VerifySignature(AlgES256, &key.PublicKey, string(msg), raw) {
			t.Fatal("raw signature does not verify")
		}
	}
}

func TestVerifySignatureRejects(t *testing.T) {
	ec := mustECKey(t)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	msg := "header.payload"
	digest := sha256.Sum256([]byte(msg))
	der, _ := ecdsa.SignASN1(rand.Reader, ec, digest[:])
	esSig, _ := decodeES256DER(der)
	edSig := ed25519.Sign(edPriv, []byte(msg))
	tests := []struct {
		name string
		alg  string
		pub  any
		sig  []byte
		msg  string
	}{
		{"zero r and s", AlgES256, &ec.PublicKey, make([]byte, 64), msg},
		{"ES256 signature in DER form", AlgES256, &ec.PublicKey, der, msg},
		{"ES256 signature over other bytes", AlgES256, &ec.PublicKey, esSig, msg + "x"},
		{"ES256 signature checked with an Ed25519 key", AlgES256, edPub, esSig, msg},
		{"Ed25519 signature checked with an EC key", AlgEdDSA, &ec.PublicKey, edSig, msg},
		{"truncated Ed25519 signature", AlgEdDSA, edPub, edSig[:63], msg},
		{"unknown algorithm", "HS256", &ec.PublicKey, esSig, msg},
		{"none algorithm", "none", &ec.PublicKey, nil, msg},
	}
	if !VerifySignature(AlgES256, &ec.PublicKey, msg, esSig) || !VerifySignature(AlgEdDSA, edPub, msg, edSig) {
		t.Fatal("valid signatures must verify")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if VerifySignature(tt.alg, tt.pub, tt.msg, tt.sig) {
				t.Fatal("signature verified")
			}
		})
	}
}
