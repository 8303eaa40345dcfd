package tokens

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// Benchmarks for issuance and verification, with raw P-256 ECDSA baselines
// measured in the same run so the overhead of the SD-JWT layer is visible as
// a ratio: issuance signs once, verification checks two signatures.

func BenchmarkSDIssue(b *testing.B) {
	f := sdNewFixture(b)
	claims := f.claims()
	b.ReportAllocs()
	for b.Loop() {
		f.issue(b, claims)
	}
}

func BenchmarkSDVerify(b *testing.B) {
	f := sdNewFixture(b)
	cred := f.issue(b, f.claims())
	req := f.request(f.present(b, cred.IssuerJWT, sdPick(b, cred, "username", "amr"), sdKBOptions{}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := SDVerify(req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSDRawECDSASign(b *testing.B) {
	f := sdNewFixture(b)
	digest := sha256.Sum256([]byte("a signing input of typical length for a compact JWS"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ecdsa.SignASN1(rand.Reader, f.issuer, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSDRawECDSAVerify(b *testing.B) {
	f := sdNewFixture(b)
	digest := sha256.Sum256([]byte("a signing input of typical length for a compact JWS"))
	sig, err := ecdsa.SignASN1(rand.Reader, f.issuer, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&f.issuer.PublicKey, digest[:], sig) {
			b.Fatal("verify failed")
		}
	}
}
