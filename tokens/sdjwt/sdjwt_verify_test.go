package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSDVerifyRoundTripRevealsOnlyChosenClaims(t *testing.T) {
	f := sdNewFixture(t)
	cred := f.issue(t, f.claims())
	chosen := sdPick(t, cred, "username", "amr")
	pres, err := SDVerify(f.request(f.present(t, cred.IssuerJWT, chosen, sdKBOptions{})))
	if err != nil {
		t.Fatalf("SDVerify: %v", err)
	}
	want := map[string]any{
		"iss": sdTestIssuer, "vct": sdTestVCT,
		"iat": sdTestNow.Add(-time.Hour).Unix(), "exp": sdTestNow.Add(23 * time.Hour).Unix(),
		"cnf":      map[string]any{"jwk": json.RawMessage(f.holderJWK)},
		"username": "alice", "amr": []any{"hwk", "user"},
	}
	wb, _ := json.Marshal(want)
	sdAssertJSON(t, pres.Claims, string(wb))
	sdAssertJSON(t, pres.CNF, `{"jwk":`+string(f.holderJWK)+`}`)
	if pres.IssuerJWT != cred.IssuerJWT {
		t.Fatal("IssuerJWT differs from the issued one")
	}
	if !pres.ExpiresAt.Equal(sdTestNow.Add(23 * time.Hour)) {
		t.Fatalf("ExpiresAt = %v", pres.ExpiresAt)
	}
}

func TestSDVerifyRoundTripWithEd25519Keys(t *testing.T) {
	_, issuer, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hpub, holder, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	holderJWK := []byte(`{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(hpub) + `"}`)
	cred, err := SDIssue(SDIssueRequest{
		Issuer: sdTestIssuer, VCT: sdTestVCT,
		IssuedAt: sdTestNow, ExpiresAt: sdTestNow.Add(time.Hour),
		HolderJWK: holderJWK, Claims: map[string]any{"username": "bob", "sub": "u1"},
	}, issuer, "EdDSA", "ed-1")
	if err != nil {
		t.Fatal(err)
	}
	f := sdNewFixture(t)
	req := f.request(f.present(t, cred.IssuerJWT, sdPick(t, cred, "sub"), sdKBOptions{
		header: map[string]any{"alg": "EdDSA", "typ": "kb+jwt"}, signer: holder, alg: "EdDSA",
	}))
	req.Keys = func(kid string) (crypto.PublicKey, string, bool) {
		return issuer.Public(), "EdDSA", kid == "ed-1"
	}
	pres, err := SDVerify(req)
	if err != nil {
		t.Fatalf("SDVerify: %v", err)
	}
	if pres.Claims["sub"] != "u1" || pres.Claims["username"] != nil {
		t.Fatalf("claims = %v", pres.Claims)
	}
}

func TestSDVerifyAcceptsRotatedOutKeyStillPublished(t *testing.T) {
	f := sdNewFixture(t)
	d := sdTestDisclosure(t, "salt", "username", "alice")
	jwt := sdTestSign(t, map[string]any{"alg": "EdDSA", "kid": sdTestOldKID, "typ": "dc+sd-jwt"},
		f.basePayload(t, SDDigest(d)), f.oldIssuer, "EdDSA")
	pres, err := SDVerify(f.request(f.present(t, jwt, []string{d}, sdKBOptions{})))
	if err != nil {
		t.Fatalf("SDVerify: %v", err)
	}
	if pres.Claims["username"] != "alice" {
		t.Fatalf("claims = %v", pres.Claims)
	}
}

func TestSDVerifyAcceptsAbsentSDAlgAsSHA256(t *testing.T) {
	f := sdNewFixture(t)
	d := sdTestDisclosure(t, "salt", "username", "alice")
	payload := f.basePayload(t, SDDigest(d))
	delete(payload, "_sd_alg")
	if _, err := SDVerify(f.request(f.present(t, f.signIssuer(t, payload), []string{d}, sdKBOptions{}))); err != nil {
		t.Fatalf("SDVerify: %v", err)
	}
}

// Every check SDVerify performs, each shown to fail on its own.
func TestSDVerifyRejects(t *testing.T) {
	f := sdNewFixture(t)
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d1 := sdTestDisclosure(t, "salt-1", "username", "alice")
	d2 := sdTestDisclosure(t, "salt-2", "display_name", "Alice")
	both := []string{d1, d2}
	good := func() map[string]any { return f.basePayload(t, SDDigest(d1), SDDigest(d2), "decoy-digest") }
	withPayload := func(edit func(map[string]any)) string {
		p := good()
		edit(p)
		return f.present(t, f.signIssuer(t, p), both, sdKBOptions{})
	}
	withHeader := func(h map[string]any) string {
		return f.present(t, sdTestSign(t, h, good(), f.issuer, "ES256"), both, sdKBOptions{})
	}
	withKB := func(edit func(map[string]any)) string {
		return f.present(t, f.signIssuer(t, good()), both, sdKBOptions{payload: edit})
	}
	issuerJWT := f.signIssuer(t, good())
	valid := f.present(t, issuerJWT, both, sdKBOptions{})
	top, nested := sdNested(t, sdMaxRecursion+1)
	var many []string
	for i := range sdMaxDisclosures + 1 {
		many = append(many, sdTestDisclosure(t, "s", "c", i))
	}

	cases := []struct {
		name         string
		presentation string
		edit         func(*SDVerifyRequest)
		err          string
	}{
		// Issuer-signed JWT.
		{"wrong typ", withHeader(map[string]any{"alg": "ES256", "kid": sdTestKID, "typ": "vc+sd-jwt"}), nil, "issuer jwt typ must be dc+sd-jwt"},
		{"missing typ", withHeader(map[string]any{"alg": "ES256", "kid": sdTestKID}), nil, "issuer jwt typ must be dc+sd-jwt"},
		{"alg none", sdSDJWT(sdTestUnsigned(t, map[string]any{"alg": "none", "kid": sdTestKID, "typ": "dc+sd-jwt"}, good()), both) + "x.y.z", nil, "issuer jwt alg not allowed"},
		{"alg HS256", sdSDJWT(sdTestUnsigned(t, map[string]any{"alg": "HS256", "kid": sdTestKID, "typ": "dc+sd-jwt"}, good()), both) + "x.y.z", nil, "issuer jwt alg not allowed"},
		{"alg differs from the key's", withHeader(map[string]any{"alg": "EdDSA", "kid": sdTestKID, "typ": "dc+sd-jwt"}), nil, "issuer jwt alg does not match the key"},
		{"crit header", withHeader(map[string]any{"alg": "ES256", "kid": sdTestKID, "typ": "dc+sd-jwt", "crit": []string{"b64"}}), nil, "crit header not supported"},
		{"missing kid", withHeader(map[string]any{"alg": "ES256", "typ": "dc+sd-jwt"}), nil, "issuer jwt kid missing"},
		{"unknown kid", withHeader(map[string]any{"alg": "ES256", "kid": "retired", "typ": "dc+sd-jwt"}), nil, "issuer key unknown"},
		{"bad issuer signature", f.present(t, sdTestSign(t, map[string]any{"alg": "ES256", "kid": sdTestKID, "typ": "dc+sd-jwt"}, good(), other, "ES256"), both, sdKBOptions{}), nil, "issuer signature invalid"},
		{"payload altered after signing", f.present(t, sdTestTamper(t, issuerJWT), both, sdKBOptions{}), nil, "issuer signature invalid"},
		{"wrong iss", withPayload(func(p map[string]any) { p["iss"] = "https://evil.example" }), nil, "issuer mismatch"},
		{"expired", withPayload(func(p map[string]any) { p["exp"] = sdTestNow.Unix() }), nil, "credential expired"},
		{"exp missing", withPayload(func(p map[string]any) { delete(p, "exp") }), nil, "exp missing"},
		{"exp not a number", withPayload(func(p map[string]any) { p["exp"] = "soon" }), nil, "exp missing or malformed"},
		{"iat missing", withPayload(func(p map[string]any) { delete(p, "iat") }), nil, "iat missing"},
		{"issued in the future", withPayload(func(p map[string]any) { p["iat"] = sdTestNow.Add(time.Hour).Unix() }), nil, "issued in the future"},
		{"not yet valid", withPayload(func(p map[string]any) { p["nbf"] = sdTestNow.Add(time.Hour).Unix() }), nil, "not yet valid"},
		{"vct missing", withPayload(func(p map[string]any) { delete(p, "vct") }), nil, "vct missing"},
		{"unsupported _sd_alg", withPayload(func(p map[string]any) { p["_sd_alg"] = "sha-512" }), nil, "unsupported _sd_alg"},
		{"_sd_alg not a string", withPayload(func(p map[string]any) { p["_sd_alg"] = 256 }), nil, "unsupported _sd_alg"},
		{"cnf missing", withPayload(func(p map[string]any) { delete(p, "cnf") }), nil, "cnf.jwk missing"},
		{"cnf with hidden parts", withPayload(func(p map[string]any) { p["cnf"].(map[string]any)["_sd"] = []any{"x"} }), nil, "claim cnf must not contain selectively disclosed parts"},
		{"cnf jwk holding a private key", withPayload(func(p map[string]any) { p["cnf"].(map[string]any)["jwk"].(map[string]any)["d"] = "AAAA" }), nil, "holder jwk must be a public key"},
		{"cnf jwk of an unsupported kind", withPayload(func(p map[string]any) {
			p["cnf"] = map[string]any{"jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}
		}), nil, "holder jwk must be EC P-256 or OKP Ed25519"},
		// Disclosures.
		{"disclosure not referenced", f.present(t, f.signIssuer(t, f.basePayload(t, SDDigest(d1))), both, sdKBOptions{}), nil, "disclosure digest not found"},
		{"duplicate disclosure", f.present(t, issuerJWT, []string{d1, d2, d1}, sdKBOptions{}), nil, "duplicate disclosure"},
		{"digest appearing twice", f.present(t, f.signIssuer(t, f.basePayload(t, SDDigest(d1), SDDigest(d2), SDDigest(d1))), both, sdKBOptions{}), nil, "digest appears more than once"},
		{"reserved claim name _sd", sdTestWithDisclosure(t, f, sdTestDisclosure(t, "s", "_sd", []any{})), nil, "reserved claim name"},
		{"reserved claim name ...", sdTestWithDisclosure(t, f, sdTestDisclosure(t, "s", "...", "x")), nil, "reserved claim name"},
		{"claim name already present", sdTestWithDisclosure(t, f, sdTestDisclosure(t, "s", "vct", "https://evil.example/vct")), nil, "claim name already present"},
		{"protected claim disclosed", sdTestWithDisclosure(t, f, sdTestDisclosure(t, "s", "status", map[string]any{})), nil, "claim status must not be selectively disclosed"},
		{"malformed disclosure: not json", sdTestWithDisclosure(t, f, b64.EncodeToString([]byte("not json"))), nil, "malformed disclosure: not json"},
		{"malformed disclosure: wrong arity", sdTestWithDisclosure(t, f, sdTestDisclosure(t, "s", "a", "b", "c")), nil, "array of 2 or 3"},
		{"malformed disclosure: non-string salt", sdTestWithDisclosure(t, f, sdTestDisclosure(t, 1, "a", "b")), nil, "salt must be a string"},
		{"too many disclosures", f.present(t, issuerJWT, many, sdKBOptions{}), nil, "too many disclosures"},
		{"too deep recursion", f.present(t, f.signIssuer(t, f.basePayload(t, top)), nested, sdKBOptions{}), nil, "nested too deeply"},
		{"oversized input", valid + strings.Repeat("A", sdMaxPresentation), nil, "presentation too large"},
		// Key binding.
		{"kb missing", sdSDJWT(issuerJWT, both), nil, "kb-jwt missing"},
		{"kb wrong typ", f.present(t, issuerJWT, both, sdKBOptions{header: map[string]any{"alg": "ES256", "typ": "JWT"}}), nil, "kb-jwt typ must be kb+jwt"},
		{"kb alg none", sdSDJWT(issuerJWT, both) + sdTestUnsigned(t, map[string]any{"alg": "none", "typ": "kb+jwt"}, map[string]any{}), nil, "kb-jwt alg not allowed"},
		{"kb signed by another key", f.present(t, issuerJWT, both, sdKBOptions{signer: other, alg: "ES256"}), nil, "kb-jwt signature invalid"},
		{"kb alg not the cnf key's", f.present(t, issuerJWT, both, sdKBOptions{header: map[string]any{"alg": "EdDSA", "typ": "kb+jwt"}, signer: f.oldIssuer, alg: "EdDSA"}), nil, "kb-jwt signature invalid"},
		{"kb stale iat", withKB(func(p map[string]any) { p["iat"] = sdTestNow.Add(-6 * time.Minute).Unix() }), nil, "kb-jwt too old"},
		{"kb future iat", withKB(func(p map[string]any) { p["iat"] = sdTestNow.Add(5 * time.Minute).Unix() }), nil, "kb-jwt iat in the future"},
		{"kb iat missing", withKB(func(p map[string]any) { delete(p, "iat") }), nil, "kb-jwt iat missing"},
		{"kb expired", withKB(func(p map[string]any) { p["exp"] = sdTestNow.Add(-time.Second).Unix() }), nil, "kb-jwt expired"},
		{"wrong aud", withKB(func(p map[string]any) { p["aud"] = "https://other.example" }), nil, "kb-jwt aud mismatch"},
		{"aud as an array", withKB(func(p map[string]any) { p["aud"] = []string{sdTestAudience} }), nil, "kb-jwt aud mismatch"},
		{"wrong nonce", withKB(func(p map[string]any) { p["nonce"] = "replayed" }), nil, "kb-jwt nonce mismatch"},
		{"nonce missing", withKB(func(p map[string]any) { delete(p, "nonce") }), nil, "kb-jwt nonce mismatch"},
		{"wrong sd_hash", sdTestDropDisclosure(valid, d2), nil, "kb-jwt sd_hash mismatch"},
		{"sd_hash missing", withKB(func(p map[string]any) { delete(p, "sd_hash") }), nil, "kb-jwt sd_hash mismatch"},
		// Verifier policy.
		{"revoked", valid, func(r *SDVerifyRequest) {
			r.IsRevoked = func(jwt string) bool { return jwt == issuerJWT }
		}, "credential revoked"},
		{"verifier without a nonce", valid, func(r *SDVerifyRequest) { r.Nonce = "" }, "verifier configuration incomplete"},
		{"verifier without keys", valid, func(r *SDVerifyRequest) { r.Keys = nil }, "verifier configuration incomplete"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := f.request(tc.presentation)
			if tc.edit != nil {
				tc.edit(&req)
			}
			pres, err := SDVerify(req)
			if pres != nil {
				t.Fatal("a presentation was returned with an error")
			}
			sdAssertSDError(t, err, tc.err)
		})
	}

	// The same fixture verifies when nothing is wrong, so each case above
	// fails for its own reason.
	if _, err := SDVerify(f.request(valid)); err != nil {
		t.Fatalf("baseline presentation rejected: %v", err)
	}
}

// sdTestUnsigned builds "<header>.<payload>.<fake signature>".
func sdTestUnsigned(t *testing.T, header, payload any) string {
	hb, _ := json.Marshal(header)
	pb, _ := json.Marshal(payload)
	return b64.EncodeToString(hb) + "." + b64.EncodeToString(pb) + ".c2ln"
}

// sdTestTamper re-encodes the payload with a later exp, keeping the
// original signature.
func sdTestTamper(t *testing.T, jwt string) string {
	parts := strings.Split(jwt, ".")
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(pb, &p); err != nil {
		t.Fatal(err)
	}
	p["exp"] = 4_000_000_000
	pb, _ = json.Marshal(p)
	return parts[0] + "." + b64.EncodeToString(pb) + "." + parts[2]
}

// sdTestWithDisclosure signs a payload referencing d and presents it.
func sdTestWithDisclosure(t *testing.T, f *sdFixture, d string) string {
	return f.present(t, f.signIssuer(t, f.basePayload(t, SDDigest(d))), []string{d}, sdKBOptions{})
}

// sdTestDropDisclosure removes d from a presentation after its KB-JWT was
// signed.
func sdTestDropDisclosure(presentation, d string) string {
	return strings.Replace(presentation, "~"+d+"~", "~", 1)
}

func TestSDVerifyDefaultKBAgeIsFiveMinutes(t *testing.T) {
	f := sdNewFixture(t)
	cred := f.issue(t, f.claims())
	cases := []struct {
		name string
		age  time.Duration
		ok   bool
	}{
		{"kb-jwt four minutes old is fresh", 4 * time.Minute, true},
		{"kb-jwt six minutes old is stale", 6 * time.Minute, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := f.request(f.present(t, cred.IssuerJWT, nil, sdKBOptions{payload: func(p map[string]any) {
				p["iat"] = sdTestNow.Add(-tc.age).Unix()
			}}))
			req.MaxKBAge = 0
			_, err := SDVerify(req)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				sdAssertSDError(t, err, "kb-jwt too old")
			}
		})
	}
}
