package sdjwt

import (
	"encoding/json"
	"strings"
	"testing"
)

// Byte-exact vectors from RFC 9901 (§4.2.1, §4.2.2, §5.1, §6.3).
var sdDigestVectors = []struct {
	name, disclosure, digest string
}{
	{"4.2.1 family_name Möbius", "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0", "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"},
	{"4.2.1 Möbius with escaped umlaut", "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNXHUwMGY2Yml1cyJd", "BwU3T4PB1Wk6TbA1HUOm9XenJYLZfYtJGn8hMl77zwg"},
	{"4.2.1 Möbius without whitespace", "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsImZhbWlseV9uYW1lIiwiTcO2Yml1cyJd", "TZjouOTrBKEwUNjNDs9yeMzBoQn8FFLPaJjRRmAtwrM"},
	{"4.2.1 Möbius with newlines", "WwoiXzI2YmM0TFQtYWM2cTJLSTZjQlc1ZXMiLAoiZmFtaWx5X25hbWUiLAoiTcO2Yml1cyIKXQ", "WgTWKMWOEUwzhJXwrq2EuXN2SvhvJ_5-DvEl2DlKC_A"},
	{"4.2.2 array element FR", "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0", "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs"},
	{"5.1 given_name", "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd", "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4"},
	{"5.1 family_name", "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRvZSJd", "TGf4oLbgwd5JQaHyKVQZU9UdGE0w5rtDsrZzfUaomLo"},
	{"5.1 email", "WyI2SWo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgImVtYWlsIiwgImpvaG5kb2VAZXhhbXBsZS5jb20iXQ", "JzYjH4svliH0R3PyEMfeZu6Jt69u5qehZo7F7EPYlSE"},
	{"5.1 phone_number", "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgInBob25lX251bWJlciIsICIrMS0yMDItNTU1LTAxMDEiXQ", "PorFbpKuVu6xymJagvkFsFXAbRoc2JGlAUA2BA4o7cI"},
	{"5.1 phone_number_verified", "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgInBob25lX251bWJlcl92ZXJpZmllZCIsIHRydWVd", "XQ_3kPKt1XyX7KANkqVR6yZ2Va5NrPIvPYbyMvRKBMM"},
	{"5.1 address", "WyJBSngtMDk1VlBycFR0TjRRTU9xUk9BIiwgImFkZHJlc3MiLCB7InN0cmVldF9hZGRyZXNzIjogIjEyMyBNYWluIFN0IiwgImxvY2FsaXR5IjogIkFueXRvd24iLCAicmVnaW9uIjogIkFueXN0YXRlIiwgImNvdW50cnkiOiAiVVMifV0", "XzFrzwscM6Gn6CJDc6vVK8BkMnfG8vOSKfpPIZdAfdE"},
	{"5.1 birthdate", "WyJQYzMzSk0yTGNoY1VfbEhnZ3ZfdWZRIiwgImJpcnRoZGF0ZSIsICIxOTQwLTAxLTAxIl0", "gbOsI4Edq2x2Kw-w5wPEzakob9hV1cRD0ATN3oQL9JM"},
	{"5.1 updated_at", "WyJHMDJOU3JRZmpGWFE3SW8wOXN5YWpBIiwgInVwZGF0ZWRfYXQiLCAxNTcwMDAwMDAwXQ", "CrQe7S5kqBAHt-nMYXgc6bdt2SH5aTY1sU_M-PgkjPI"},
	{"5.1 nationalities US element", "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIlVTIl0", "pFndjkZ_VCzmyTa6UjlZo3dh-ko8aIKQc9DlGzhaVYo"},
	{"5.1 nationalities DE element", "WyJuUHVvUW5rUkZxM0JJZUFtN0FuWEZBIiwgIkRFIl0", "7Cf6JkPudry3lcbwHgeZ8khAv1U1OSlerP0VkBJrWZ0"},
	{"6.3 street_address", "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgInN0cmVldF9hZGRyZXNzIiwgIlNjaHVsc3RyLiAxMiJd", "9gjVuXtdFROCgRrtNcGUXmF65rdezi_6Er_j76kmYyM"},
	{"6.3 locality", "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImxvY2FsaXR5IiwgIlNjaHVscGZvcnRhIl0", "6vh9bq-zS4GKM_7GpggVbYzzu6oOGXrmNVGPHP75Ud0"},
	{"6.3 region", "WyI2SWo3dE0tYTVpVlBHYm9TNXRtdlZBIiwgInJlZ2lvbiIsICJTYWNoc2VuLUFuaGFsdCJd", "KURDPh4ZC19-3tiz-Df39V8eidy1oV3a3H1Da2N0g88"},
	{"6.3 country", "WyJlSThaV205UW5LUHBOUGVOZW5IZGhRIiwgImNvdW50cnkiLCAiREUiXQ", "WN9r9dCBJ8HTCsS2jKASxTjEyW5m5x65_Z_2ro2jfXM"},
	{"6.3 recursive address", "WyJRZ19PNjR6cUF4ZTQxMmExMDhpcm9BIiwgImFkZHJlc3MiLCB7Il9zZCI6IFsiNnZoOWJxLXpTNEdLTV83R3BnZ1ZiWXp6dTZvT0dYcm1OVkdQSFA3NVVkMCIsICI5Z2pWdVh0ZEZST0NnUnJ0TmNHVVhtRjY1cmRlemlfNkVyX2o3NmttWXlNIiwgIktVUkRQaDRaQzE5LTN0aXotRGYzOVY4ZWlkeTFvVjNhM0gxRGEyTjBnODgiLCAiV045cjlkQ0JKOEhUQ3NTMmpLQVN4VGpFeVc1bTV4NjVfWl8ycm8yamZYTSJdfV0", "HvrKX6fPV0v9K_yCVFBiLFHsMaxcD_114Em6VT8x1lg"},
}

func TestSDDigestMatchesSpecVectors(t *testing.T) {
	for _, tc := range sdDigestVectors {
		t.Run(tc.name, func(t *testing.T) {
			if got := SDDigest(tc.disclosure); got != tc.digest {
				t.Fatalf("SDDigest = %s, want %s", got, tc.digest)
			}
		})
	}
}

// Re-serialising a disclosure must change its digest: the digest binds the
// exact bytes the issuer produced, not the decoded claim.
func TestSDDigestReserialisedDisclosureDiffers(t *testing.T) {
	const original = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
	raw, err := b64.DecodeString(original)
	if err != nil {
		t.Fatal(err)
	}
	var elems []any
	if err := json.Unmarshal(raw, &elems); err != nil {
		t.Fatal(err)
	}
	compact, err := json.Marshal(elems)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, variant string }{
		{"escaped umlaut variant", sdDigestVectors[1].disclosure},
		{"whitespace-free variant", sdDigestVectors[2].disclosure},
		{"newline variant", sdDigestVectors[3].disclosure},
		{"re-encoded by encoding/json", b64.EncodeToString(compact)},
	}
	want := SDDigest(original)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := sdDecodeDisclosure(tc.variant)
			if err != nil || v.name != "family_name" || v.value != "Möbius" {
				t.Fatalf("variant does not carry the same claim: %+v %v", v, err)
			}
			if SDDigest(tc.variant) == want {
				t.Fatal("re-serialised disclosure kept the original digest")
			}
		})
	}
}

func TestSDIssuerJWT(t *testing.T) {
	const jwt = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"
	cases := []struct {
		name, in, want string
		ok             bool
	}{
		{"bare jwt is returned", jwt, jwt, true},
		{"sd-jwt yields its issuer jwt", jwt + "~WyJhIiwiYiJd~", jwt, true},
		{"sd-jwt+kb yields its issuer jwt", jwt + "~WyJhIiwiYiJd~" + jwt, jwt, true},
		{"empty input is refused", "", "", false},
		{"two segments are refused", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0", "", false},
		{"empty signature is refused", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0.~", "", false},
		{"non-base64url characters are refused", "eyJ+.eyJ.c2ln", "", false},
		{"oversized input is refused", jwt + "~" + strings.Repeat("A", sdMaxPresentation), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := SDIssuerJWT(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("SDIssuerJWT = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestSDSplit(t *testing.T) {
	cases := []struct {
		name        string
		in          string
		disclosures int
		kb          string
		err         string
	}{
		{"sd-jwt without kb has an empty last part", "a.b.c~d1~d2~", 2, "", ""},
		{"sd-jwt+kb keeps the kb-jwt apart", "a.b.c~d1~k.b.s", 1, "k.b.s", ""},
		{"no disclosures", "a.b.c~", 0, "", ""},
		{"missing separator is refused", "a.b.c", 0, "", "missing '~'"},
		{"empty disclosure is refused", "a.b.c~~d~", 0, "", "empty disclosure"},
		{"empty issuer jwt is refused", "~d~", 0, "", "malformed issuer jwt"},
		{"too many disclosures are refused", "a.b.c~" + strings.Repeat("d~", sdMaxDisclosures+1), 0, "", "too many disclosures"},
		{"oversized disclosure is refused", "a.b.c~" + strings.Repeat("d", sdMaxDisclosure+1) + "~", 0, "", "disclosure too large"},
		{"oversized presentation is refused", strings.Repeat("~", sdMaxPresentation+1), 0, "", "presentation too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := sdSplit(tc.in)
			if tc.err != "" {
				sdAssertSDError(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p.disclosures) != tc.disclosures || p.kb != tc.kb || p.jwt != "a.b.c" {
				t.Fatalf("split = %+v", p)
			}
			if !strings.HasSuffix(p.sdHashInput, "~") || p.sdHashInput+p.kb != tc.in {
				t.Fatalf("sd_hash input %q does not end at the last '~'", p.sdHashInput)
			}
		})
	}
}
