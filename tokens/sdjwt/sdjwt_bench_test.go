package sdjwt

import "testing"

// Benchmarks for issuance and verification. BenchmarkECDSASignP256 and
// BenchmarkECDSAVerifyP256 in this package are the raw baselines of the same
// run: issuance signs once, verification checks two signatures.

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
