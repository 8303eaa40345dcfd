package sdjwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"strings"
	"testing"
	"time"
)

// The RFC 9901 §5.2 SD-JWT+KB presentation (issuer key: Appendix A.5).
const sdSpecPresentation = "eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImV4YW1wbGUrc2Qtand0In0.eyJfc2QiOiBbIkNyUWU3UzVrcUJBSHQtbk1ZWGdjNmJkdDJTSDVhVFkxc1VfTS1QZ2tqUEkiLCAiSnpZakg0c3ZsaUgwUjNQeUVNZmVadTZKdDY5dTVxZWhabzdGN0VQWWxTRSIsICJQb3JGYnBLdVZ1Nnh5bUphZ3ZrRnNGWEFiUm9jMkpHbEFVQTJCQTRvN2NJIiwgIlRHZjRvTGJnd2Q1SlFhSHlLVlFaVTlVZEdFMHc1cnREc3JaemZVYW9tTG8iLCAiWFFfM2tQS3QxWHlYN0tBTmtxVlI2eVoyVmE1TnJQSXZQWWJ5TXZSS0JNTSIsICJYekZyendzY002R242Q0pEYzZ2Vks4QmtNbmZHOHZPU0tmcFBJWmRBZmRFIiwgImdiT3NJNEVkcTJ4Mkt3LXc1d1BFemFrb2I5aFYxY1JEMEFUTjNvUUw5Sk0iLCAianN1OXlWdWx3UVFsaEZsTV8zSmx6TWFTRnpnbGhRRzBEcGZheVF3TFVLNCJdLCAiaXNzIjogImh0dHBzOi8vaXNzdWVyLmV4YW1wbGUuY29tIiwgImlhdCI6IDE2ODMwMDAwMDAsICJleHAiOiAxODgzMDAwMDAwLCAic3ViIjogInVzZXJfNDIiLCAibmF0aW9uYWxpdGllcyI6IFt7Ii4uLiI6ICJwRm5kamtaX1ZDem15VGE2VWpsWm8zZGgta284YUlLUWM5RGxHemhhVllvIn0sIHsiLi4uIjogIjdDZjZKa1B1ZHJ5M2xjYndIZ2VaOGtoQXYxVTFPU2xlclAwVmtCSnJXWjAifV0sICJfc2RfYWxnIjogInNoYS0yNTYiLCAiY25mIjogeyJqd2siOiB7Imt0eSI6ICJFQyIsICJjcnYiOiAiUC0yNTYiLCAieCI6ICJUQ0FFUjE5WnZ1M09IRjRqNFc0dmZTVm9ISVAxSUxpbERsczd2Q2VHZW1jIiwgInkiOiAiWnhqaVdXYlpNUUdIVldLVlE0aGJTSWlyc1ZmdWVjQ0U2dDRqVDlGMkhaUSJ9fX0.xJUoRLl1sVRxz57ralck9kBWbzbq0soK6dQ5liBXuge3IY8vVYq2xi1tywYwvlRTtPIM2A-XDzyta-SaJLhexQ~WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRvZSJd~WyJBSngtMDk1VlBycFR0TjRRTU9xUk9BIiwgImFkZHJlc3MiLCB7InN0cmVldF9hZGRyZXNzIjogIjEyMyBNYWluIFN0IiwgImxvY2FsaXR5IjogIkFueXRvd24iLCAicmVnaW9uIjogIkFueXN0YXRlIiwgImNvdW50cnkiOiAiVVMifV0~WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd~WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0~eyJhbGciOiAiRVMyNTYiLCAidHlwIjogImtiK2p3dCJ9.eyJub25jZSI6ICIxMjM0NTY3ODkwIiwgImF1ZCI6ICJodHRwczovL3ZlcmlmaWVyLmV4YW1wbGUub3JnIiwgImlhdCI6IDE3NDg1MzY4NjUsICJzZF9oYXNoIjogImZNVjA1dnVNQVJzM3VHMERnMEJZZF83bVFSOUVHQmtSb2YwY1RaeXVxWEUifQ.76YniH11s4EDLnqNXKzYtIU1yXEBNzY8wfTd1QkpKzcJ0JY_KXbURL8qQBJA7xpZiA8vXYrlpPpd4yfHJTfhQA"

const sdSpecProcessed = `{
  "iss": "https://issuer.example.com", "iat": 1683000000, "exp": 1883000000,
  "sub": "user_42", "nationalities": ["US"],
  "cnf": {"jwk": {"kty": "EC", "crv": "P-256",
    "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
    "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}},
  "family_name": "Doe",
  "address": {"street_address": "123 Main St", "locality": "Anytown", "region": "Anystate", "country": "US"},
  "given_name": "John"
}`

// sdSpecRequest verifies the §5.2 presentation at the KB-JWT's iat.
func sdSpecRequest(t *testing.T) SDVerifyRequest {
	x, _ := b64.DecodeString("b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ")
	y, _ := b64.DecodeString("Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8")
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		t.Fatal(err)
	}
	return SDVerifyRequest{
		Presentation: sdSpecPresentation,
		Audience:     "https://verifier.example.org",
		Nonce:        "1234567890",
		Issuer:       "https://issuer.example.com",
		Now:          time.Unix(1748536865+20, 0),
		MaxKBAge:     5 * time.Minute,
		Keys: func(kid string) (crypto.PublicKey, string, bool) {
			return pub, "ES256", kid == ""
		},
	}
}

func TestSDVerifySpecExampleYieldsProcessedPayload(t *testing.T) {
	req := sdSpecRequest(t)
	pres, err := sdVerify(req, sdProfile{typ: "example+sd-jwt"})
	if err != nil {
		t.Fatalf("spec presentation rejected: %v", err)
	}
	sdAssertJSON(t, pres.Claims, sdSpecProcessed)
	sdAssertJSON(t, pres.CNF, `{"jwk": {"kty": "EC", "crv": "P-256",
	  "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
	  "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}}`)
	if !pres.ExpiresAt.Equal(time.Unix(1883000000, 0)) {
		t.Fatalf("ExpiresAt = %v", pres.ExpiresAt)
	}
	if want, _, _ := strings.Cut(sdSpecPresentation, "~"); pres.IssuerJWT != want {
		t.Fatal("IssuerJWT is not the issuer-signed part")
	}
}

func TestSDVerifySpecExampleRejectedWhereItMustBe(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*SDVerifyRequest)
		prof   sdProfile
		err    string
	}{
		{"public verifier requires the dc+sd-jwt typ", func(*SDVerifyRequest) {}, sdVCProfile, "issuer jwt typ must be dc+sd-jwt"},
		{"another nonce fails", func(r *SDVerifyRequest) { r.Nonce = "1234567891" }, sdProfile{typ: "example+sd-jwt"}, "kb-jwt nonce mismatch"},
		{"a later verification finds the kb-jwt stale", func(r *SDVerifyRequest) { r.Now = r.Now.Add(time.Hour) }, sdProfile{typ: "example+sd-jwt"}, "kb-jwt too old"},
		{"dropping a disclosure breaks sd_hash", func(r *SDVerifyRequest) {
			r.Presentation = strings.Replace(r.Presentation, "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd~", "", 1)
		}, sdProfile{typ: "example+sd-jwt"}, "kb-jwt sd_hash mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := sdSpecRequest(t)
			tc.mutate(&req)
			if tc.prof == sdVCProfile {
				_, err := SDVerify(req)
				sdAssertSDError(t, err, tc.err)
				return
			}
			_, err := sdVerify(req, tc.prof)
			sdAssertSDError(t, err, tc.err)
		})
	}
}

// RFC 9901 §6.3: the address claim is disclosed as an object whose own
// sub-claims are disclosures.
var sdRecursive = struct {
	street, locality, region, country, address string
}{
	street:   "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgInN0cmVldF9hZGRyZXNzIiwgIlNjaHVsc3RyLiAxMiJd",
	locality: "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImxvY2FsaXR5IiwgIlNjaHVscGZvcnRhIl0",
	region:   "WyI2SWo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgInJlZ2lvbiIsICJTYWNoc2VuLUFuaGFsdCJd",
	country:  "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgImNvdW50cnkiLCAiREUiXQ",
	address:  "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgImFkZHJlc3MiLCB7Il9zZCI6IFsiNnZoOWJxLXpTNEdLTV83R3BnZ1ZiWXp6dTZvT0dYcm1OVkdQSFA3NVVkMCIsICI5Z2pWdVh0ZEZST0NnUnJ0TmNHVVhtRjY1cmRlemlfNkVyX2o3NmttWXlNIiwgIktVUkRQaDRaQzE5LTN0aXotRGYzOVY4ZWlkeTFvVjNhM0gxRGEyTjBnODgiLCAiV045cjlkQ0JKOEhUQ3NTMmpLQVN4VGpFeVc1bTV4NjVfWl8ycm8yamZYTSJdfV0",
}

func TestSDProcessRecursiveSpecExample(t *testing.T) {
	r := sdRecursive
	cases := []struct {
		name        string
		disclosures []string
		want        string
		err         string
	}{
		{"all disclosures give the full address",
			[]string{r.address, r.street, r.locality, r.region, r.country},
			`{"iss":"https://issuer.example.com","address":{"street_address":"Schulstr. 12","locality":"Schulpforta","region":"Sachsen-Anhalt","country":"DE"}}`, ""},
		{"order of disclosures does not matter",
			[]string{r.country, r.region, r.address, r.locality, r.street},
			`{"iss":"https://issuer.example.com","address":{"street_address":"Schulstr. 12","locality":"Schulpforta","region":"Sachsen-Anhalt","country":"DE"}}`, ""},
		{"a subset reveals only the chosen sub-claims",
			[]string{r.address, r.region},
			`{"iss":"https://issuer.example.com","address":{"region":"Sachsen-Anhalt"}}`, ""},
		{"the parent alone reveals an empty address",
			[]string{r.address},
			`{"iss":"https://issuer.example.com","address":{}}`, ""},
		{"nothing disclosed leaves only visible claims", nil,
			`{"iss":"https://issuer.example.com"}`, ""},
		{"a sub-claim without its parent is unreferenced",
			[]string{r.region}, "", "disclosure digest not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			payload := map[string]any{
				"iss":     "https://issuer.example.com",
				"_sd_alg": "sha-256",
				"_sd":     []any{"HvrKX6fPV0v9K_yCVFBiLFHsMaxcD_114Em6VT8x1lg"},
			}
			ds, err := sdParseDisclosures(tc.disclosures)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sdProcess(payload, ds, sdProtectedClaims)
			if tc.err != "" {
				sdAssertSDError(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sdAssertJSON(t, got, tc.want)
		})
	}
}

func TestSDParseDisclosureRejectsMalformed(t *testing.T) {
	cases := []struct {
		name, disclosure, err string
	}{
		{"not base64url", "WyJh*IiwiYiJd", "not base64url"},
		{"padding is not base64url", "WyJhIiwiYiJd==", "not base64url"},
		{"not json", b64.EncodeToString([]byte(`["a","b"`)), "not json"},
		{"trailing data after the array", b64.EncodeToString([]byte(`["a","b"] x`)), "not json"},
		{"duplicate keys inside the value", b64.EncodeToString([]byte(`["a","b",{"k":1,"k":2}]`)), "not json"},
		{"not an array", b64.EncodeToString([]byte(`{"a":"b"}`)), "array of 2 or 3"},
		{"one element", sdTestDisclosure(t, "salt"), "array of 2 or 3"},
		{"four elements", sdTestDisclosure(t, "salt", "n", "v", "x"), "array of 2 or 3"},
		{"numeric salt", sdTestDisclosure(t, 7, "n", "v"), "salt must be a string"},
		{"numeric claim name", sdTestDisclosure(t, "salt", 7, "v"), "claim name must be a string"},
		{"claim name _sd", sdTestDisclosure(t, "salt", "_sd", []any{}), "reserved claim name"},
		{"claim name ...", sdTestDisclosure(t, "salt", "...", "v"), "reserved claim name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sdParseDisclosures([]string{tc.disclosure})
			sdAssertSDError(t, err, tc.err)
		})
	}
}

func TestSDProcessRejectsMalformedEmbedding(t *testing.T) {
	prop := sdTestDisclosure(t, "s1", "given_name", "Ann")
	elem := sdTestDisclosure(t, "s2", "FR")
	deep := sdTestDisclosure(t, "s3", "inner", map[string]any{"_sd": []any{SDDigest(prop)}})
	cases := []struct {
		name        string
		payload     map[string]any
		disclosures []string
		err         string
	}{
		{"_sd that is not an array", map[string]any{"_sd": "x"}, nil, "_sd must be an array of strings"},
		{"_sd holding a number", map[string]any{"_sd": []any{1}}, nil, "_sd must be an array of strings"},
		{"'...' beside other keys", map[string]any{"a": []any{map[string]any{"...": "x", "b": 1}}}, nil, "'...' is only allowed"},
		{"'...' as an object key", map[string]any{"...": "x"}, nil, "'...' is only allowed"},
		{"array digest that is not a string", map[string]any{"a": []any{map[string]any{"...": 1}}}, nil, "array element digest must be a string"},
		{"array element disclosure in _sd", map[string]any{"_sd": []any{SDDigest(elem)}}, []string{elem}, "array element disclosure referenced from _sd"},
		{"object property disclosure in an array", map[string]any{"a": []any{map[string]any{"...": SDDigest(prop)}}}, []string{prop}, "object property disclosure referenced from an array"},
		{"digest twice in one _sd", map[string]any{"_sd": []any{SDDigest(prop), SDDigest(prop)}}, []string{prop}, "digest appears more than once"},
		{"undisclosed digest twice across levels", map[string]any{"_sd": []any{"decoy"}, "o": map[string]any{"_sd": []any{"decoy"}}}, nil, "digest appears more than once"},
		{"digest in payload and inside a disclosure", map[string]any{"_sd": []any{SDDigest(prop), SDDigest(deep)}}, []string{prop, deep}, "digest appears more than once"},
		{"name already visible at that level", map[string]any{"given_name": "Bob", "_sd": []any{SDDigest(prop)}}, []string{prop}, "claim name already present"},
		{"two disclosures of one name", map[string]any{"_sd": []any{SDDigest(prop), SDDigest(sdTestDisclosure(t, "s4", "given_name", "Eve"))}}, []string{prop, sdTestDisclosure(t, "s4", "given_name", "Eve")}, "claim name already present"},
		{"protected claim disclosed at top level", map[string]any{"_sd": []any{SDDigest(sdTestDisclosure(t, "s5", "nbf", 1))}}, []string{sdTestDisclosure(t, "s5", "nbf", 1)}, "must not be selectively disclosed"},
		{"unreferenced disclosure", map[string]any{"_sd": []any{}}, []string{prop}, "disclosure digest not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := sdParseDisclosures(tc.disclosures)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sdProcess(tc.payload, ds, sdProtectedClaims)
			sdAssertSDError(t, err, tc.err)
		})
	}
}

func TestSDProcessArrayElements(t *testing.T) {
	us := "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0"
	de := "WyJuUHVvUW5rUkZxM0JJZUFtN0FuWEZBIiwgIkRFIl0"
	payload := func() map[string]any {
		return map[string]any{"nationalities": []any{
			map[string]any{"...": SDDigest(us)}, "visible", map[string]any{"...": SDDigest(de)},
		}}
	}
	cases := []struct {
		name        string
		disclosures []string
		want        string
	}{
		{"both elements disclosed keep their positions", []string{de, us}, `{"nationalities":["US","visible","DE"]}`},
		{"undisclosed elements are removed", []string{de}, `{"nationalities":["visible","DE"]}`},
		{"no disclosures leave the plain elements", nil, `{"nationalities":["visible"]}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds, err := sdParseDisclosures(tc.disclosures)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sdProcess(payload(), ds, sdProtectedClaims)
			if err != nil {
				t.Fatal(err)
			}
			sdAssertJSON(t, got, tc.want)
		})
	}
}

// sdNested builds n disclosures, each hiding the next one's digest, and
// returns the outermost digest and all disclosures.
func sdNested(t testing.TB, n int) (string, []string) {
	var ds []string
	value := any("leaf")
	for i := range n {
		d := sdTestDisclosure(t, "salt-"+string(rune('a'+i)), "n", value)
		ds = append(ds, d)
		value = map[string]any{"_sd": []any{SDDigest(d)}}
	}
	return SDDigest(ds[len(ds)-1]), ds
}

func TestSDProcessRecursionDepth(t *testing.T) {
	cases := []struct {
		name   string
		levels int
		ok     bool
	}{
		{"nesting at the limit is accepted", sdMaxRecursion, true},
		{"nesting beyond the limit is rejected", sdMaxRecursion + 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			top, nested := sdNested(t, tc.levels)
			ds, err := sdParseDisclosures(nested)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sdProcess(map[string]any{"_sd": []any{top}}, ds, sdProtectedClaims)
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if !tc.ok {
				sdAssertSDError(t, err, "nested too deeply")
			}
		})
	}
}
