package sdjwt

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// sdTestDecodeSegment decodes one base64url JSON segment of a compact JWS.
func sdTestDecodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := b64.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sdDecodeObject(b)
	if err != nil {
		t.Fatalf("segment %s: %v", b, err)
	}
	return m
}

func TestSDIssueProducesSpecShapedCredential(t *testing.T) {
	f := sdNewFixture(t)
	req := SDIssueRequest{
		Issuer: sdTestIssuer, VCT: sdTestVCT,
		IssuedAt: sdTestNow, ExpiresAt: sdTestNow.Add(24 * time.Hour),
		// Extra members must not reach cnf.jwk.
		HolderJWK: []byte(strings.Replace(string(f.holderJWK), "{", `{"kid":"holder","use":"sig",`, 1)),
		Claims:    f.claims(),
		Decoys:    3,
	}
	cred, err := SDIssue(req, f.issuer, "ES256", sdTestKID)
	if err != nil {
		t.Fatal(err)
	}

	segs := strings.Split(cred.IssuerJWT, ".")
	header := sdTestDecodeSegment(t, segs[0])
	sdAssertJSON(t, header, `{"alg":"ES256","kid":"`+sdTestKID+`","typ":"dc+sd-jwt"}`)
	payload := sdTestDecodeSegment(t, segs[1])

	t.Run("compact form is jwt then disclosures each followed by a tilde", func(t *testing.T) {
		if cred.Compact != sdSDJWT(cred.IssuerJWT, cred.Disclosures) {
			t.Fatalf("compact %q", cred.Compact)
		}
	})
	t.Run("visible claims are exactly the protected ones", func(t *testing.T) {
		var keys []string
		for k := range payload {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"_sd", "_sd_alg", "cnf", "exp", "iat", "iss", "vct"}; !slices.Equal(keys, want) {
			t.Fatalf("payload keys %v, want %v", keys, want)
		}
		sdAssertJSON(t, map[string]any{"iss": payload["iss"], "iat": payload["iat"], "exp": payload["exp"], "vct": payload["vct"], "_sd_alg": payload["_sd_alg"]},
			`{"iss":"`+sdTestIssuer+`","iat":`+jsonInt(sdTestNow.Unix())+`,"exp":`+jsonInt(sdTestNow.Add(24*time.Hour).Unix())+`,"vct":"`+sdTestVCT+`","_sd_alg":"sha-256"}`)
	})
	t.Run("cnf.jwk keeps only the required members", func(t *testing.T) {
		sdAssertJSON(t, payload["cnf"], `{"jwk":`+string(f.holderJWK)+`}`)
	})
	t.Run("every disclosure digest is listed once, with the decoys, sorted", func(t *testing.T) {
		var sd []string
		for _, v := range payload["_sd"].([]any) {
			sd = append(sd, v.(string))
		}
		if len(sd) != len(req.Claims)+req.Decoys {
			t.Fatalf("%d digests, want %d", len(sd), len(req.Claims)+req.Decoys)
		}
		if !slices.IsSorted(sd) {
			t.Fatal("digests are in issuance order, not sorted")
		}
		for _, d := range cred.Disclosures {
			if slices.Index(sd, SDDigest(d)) < 0 {
				t.Fatalf("digest of %s missing from _sd", d)
			}
		}
	})
	t.Run("each disclosure carries a fresh 128-bit salt and its claim", func(t *testing.T) {
		salts := map[string]bool{}
		for _, d := range cred.Disclosures {
			raw, _ := b64.DecodeString(d)
			var elems []any
			if err := json.Unmarshal(raw, &elems); err != nil || len(elems) != 3 {
				t.Fatalf("disclosure %s: %v", raw, err)
			}
			salt, _ := b64.DecodeString(elems[0].(string))
			if len(salt) != 16 || salts[elems[0].(string)] {
				t.Fatalf("salt %v is not a fresh 16-byte value", elems[0])
			}
			salts[elems[0].(string)] = true
			want, _ := json.Marshal(req.Claims[elems[1].(string)])
			got, _ := json.Marshal(elems[2])
			if string(got) != string(want) {
				t.Fatalf("claim %v = %s, want %s", elems[1], got, want)
			}
		}
		if len(salts) != len(req.Claims) {
			t.Fatalf("%d disclosures, want %d", len(salts), len(req.Claims))
		}
	})
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestSDIssueDecoyCount(t *testing.T) {
	f := sdNewFixture(t)
	cases := []struct {
		name     string
		claims   map[string]any
		decoys   int
		min, max int // digest count bounds
	}{
		{"zero picks two to five decoys", map[string]any{"a": 1}, 0, 3, 6},
		{"negative adds none", map[string]any{"a": 1}, -1, 1, 1},
		{"positive adds exactly that many", map[string]any{"a": 1}, 7, 8, 8},
		{"no claims means no _sd at all", nil, 0, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cred, err := SDIssue(SDIssueRequest{
				Issuer: sdTestIssuer, VCT: sdTestVCT, IssuedAt: sdTestNow, ExpiresAt: sdTestNow.Add(time.Hour),
				HolderJWK: f.holderJWK, Claims: tc.claims, Decoys: tc.decoys,
			}, f.issuer, "ES256", sdTestKID)
			if err != nil {
				t.Fatal(err)
			}
			payload := sdTestDecodeSegment(t, strings.Split(cred.IssuerJWT, ".")[1])
			sd, _ := payload["_sd"].([]any)
			if len(sd) < tc.min || len(sd) > tc.max {
				t.Fatalf("%d digests, want %d..%d", len(sd), tc.min, tc.max)
			}
			if _, has := payload["_sd_alg"]; has != (tc.max > 0) {
				t.Fatalf("_sd_alg present = %v", has)
			}
		})
	}
}

func TestSDIssueRefuses(t *testing.T) {
	f := sdNewFixture(t)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	base := func() SDIssueRequest {
		return SDIssueRequest{
			Issuer: sdTestIssuer, VCT: sdTestVCT, IssuedAt: sdTestNow, ExpiresAt: sdTestNow.Add(time.Hour),
			HolderJWK: f.holderJWK, Claims: map[string]any{"username": "alice"},
		}
	}
	many := map[string]any{}
	for i := range sdMaxDisclosures + 1 {
		many[strings.Repeat("c", i+1)] = i
	}
	cases := []struct {
		name string
		edit func(*SDIssueRequest)
		alg  string
		err  string
	}{
		{"claim iss", func(r *SDIssueRequest) { r.Claims["iss"] = "x" }, "ES256", "claim iss cannot be"},
		{"claim iat", func(r *SDIssueRequest) { r.Claims["iat"] = 1 }, "ES256", "claim iat cannot be"},
		{"claim exp", func(r *SDIssueRequest) { r.Claims["exp"] = 1 }, "ES256", "claim exp cannot be"},
		{"claim nbf", func(r *SDIssueRequest) { r.Claims["nbf"] = 1 }, "ES256", "claim nbf cannot be"},
		{"claim vct", func(r *SDIssueRequest) { r.Claims["vct"] = "x" }, "ES256", "claim vct cannot be"},
		{"claim cnf", func(r *SDIssueRequest) { r.Claims["cnf"] = map[string]any{} }, "ES256", "claim cnf cannot be"},
		{"claim status", func(r *SDIssueRequest) { r.Claims["status"] = map[string]any{} }, "ES256", "claim status cannot be"},
		{"claim aud", func(r *SDIssueRequest) { r.Claims["aud"] = "x" }, "ES256", "claim aud cannot be"},
		{"claim _sd", func(r *SDIssueRequest) { r.Claims["_sd"] = []any{} }, "ES256", "claim _sd cannot be"},
		{"claim ...", func(r *SDIssueRequest) { r.Claims["..."] = "x" }, "ES256", "claim ... cannot be"},
		{"empty claim name", func(r *SDIssueRequest) { r.Claims[""] = "x" }, "ES256", "cannot be selectively disclosed"},
		{"value hiding an _sd key", func(r *SDIssueRequest) { r.Claims["profile"] = map[string]any{"_sd": []any{"x"}} }, "ES256", "unsupported value"},
		{"value that is not json", func(r *SDIssueRequest) { r.Claims["score"] = math.NaN() }, "ES256", "not representable as json"},
		{"oversized value", func(r *SDIssueRequest) { r.Claims["bio"] = strings.Repeat("x", sdMaxDisclosure) }, "ES256", "too large"},
		{"too many claims", func(r *SDIssueRequest) { r.Claims = many }, "ES256", "too many claims"},
		{"too many decoys", func(r *SDIssueRequest) { r.Decoys = sdMaxDecoys + 1 }, "ES256", "too many decoys"},
		{"private holder jwk", func(r *SDIssueRequest) {
			r.HolderJWK = []byte(strings.Replace(string(f.holderJWK), "{", `{"d":"AAAA",`, 1))
		}, "ES256", "holder jwk must be a public key"},
		{"holder point off the curve", func(r *SDIssueRequest) {
			r.HolderJWK = []byte(`{"kty":"EC","crv":"P-256","x":"` + b64.EncodeToString(make([]byte, 32)) + `","y":"` + b64.EncodeToString(make([]byte, 32)) + `"}`)
		}, "ES256", "not a valid P-256 point"},
		{"holder jwk on another curve", func(r *SDIssueRequest) {
			r.HolderJWK = []byte(strings.Replace(string(f.holderJWK), "P-256", "P-384", 1))
		}, "ES256", "must be EC P-256 or OKP Ed25519"},
		{"holder jwk not json", func(r *SDIssueRequest) { r.HolderJWK = []byte("{") }, "ES256", "not a json object"},
		{"expiry before issuance", func(r *SDIssueRequest) { r.ExpiresAt = r.IssuedAt }, "ES256", "expiry must be after issuance"},
		{"missing vct", func(r *SDIssueRequest) { r.VCT = "" }, "ES256", "vct are required"},
		{"alg not matching the signer", func(*SDIssueRequest) {}, "EdDSA", "signer does not match alg"},
		{"alg none", func(*SDIssueRequest) {}, "none", "signer does not match alg"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := base()
			tc.edit(&req)
			cred, err := SDIssue(req, f.issuer, tc.alg, sdTestKID)
			if cred != nil {
				t.Fatal("a credential was returned with an error")
			}
			sdAssertSDError(t, err, tc.err)
		})
	}
	t.Run("Ed25519 signer with ES256 alg", func(t *testing.T) {
		_, err := SDIssue(base(), edKey, "ES256", sdTestKID)
		sdAssertSDError(t, err, "signer does not match alg")
	})
}

// sdBrokenSigner holds a valid public key but fails or misbehaves when asked
// to sign, as a remote key store might.
type sdBrokenSigner struct {
	pub crypto.PublicKey
	sig []byte // returned instead of a signature when err is nil
	err error
}

func (s sdBrokenSigner) Public() crypto.PublicKey { return s.pub }
func (s sdBrokenSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return s.sig, s.err
}

func TestSDIssueReportsSignerFailures(t *testing.T) {
	f := sdNewFixture(t)
	req := SDIssueRequest{
		Issuer: sdTestIssuer, VCT: sdTestVCT, IssuedAt: sdTestNow, ExpiresAt: sdTestNow.Add(time.Hour),
		HolderJWK: f.holderJWK, Claims: map[string]any{"username": "alice"},
	}
	keyStoreDown := errors.New("key store unavailable")
	cases := []struct {
		name   string
		signer sdBrokenSigner
		alg    string
		want   string
	}{
		{"ecdsa signer error is wrapped", sdBrokenSigner{pub: &f.issuer.PublicKey, err: keyStoreDown}, "ES256", "key store unavailable"},
		{"ed25519 signer error is wrapped", sdBrokenSigner{pub: f.oldIssuer.Public(), err: keyStoreDown}, "EdDSA", "key store unavailable"},
		{"ecdsa signature that is not DER is refused", sdBrokenSigner{pub: &f.issuer.PublicKey, sig: []byte{1, 2, 3}}, "ES256", "malformed ecdsa signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cred, err := SDIssue(req, tc.signer, tc.alg, sdTestKID)
			if cred != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("SDIssue = %v, %v; want error containing %q", cred, err, tc.want)
			}
			if tc.signer.err != nil && !errors.Is(err, keyStoreDown) {
				t.Fatal("signer error is not wrapped")
			}
		})
	}
}

func TestSDErrorMessageNamesTheCheck(t *testing.T) {
	err := error(&SDError{Description: "kb-jwt nonce mismatch"})
	if err.Error() != "sd-jwt: kb-jwt nonce mismatch" {
		t.Fatalf("Error() = %q", err.Error())
	}
}
