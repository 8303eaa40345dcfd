package auth

import (
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// present builds an SD-JWT+KB presentation of the disclosures whose claim
// names are in reveal, signed by the holder's key.
func present(t *testing.T, holder *dpopKey, credential string, reveal []string, aud, nonce string, iat time.Time) string {
	t.Helper()
	parts := strings.Split(credential, "~")
	out := parts[0] + "~"
	for _, d := range parts[1 : len(parts)-1] {
		raw, err := base64.RawURLEncoding.DecodeString(d)
		if err != nil {
			t.Fatal(err)
		}
		var arr []any
		json.Unmarshal(raw, &arr)
		if len(arr) == 3 && slices.Contains(reveal, arr[1].(string)) {
			out += d + "~"
		}
	}
	sum := sha256.Sum256([]byte(out))
	kb := signJWS(t, holder.priv, map[string]any{"typ": "kb+jwt", "alg": "ES256"}, map[string]any{
		"iat": iat.Unix(), "aud": aud, "nonce": nonce, "sd_hash": b64.EncodeToString(sum[:]),
	})
	return out + kb
}

func TestSDJWTIssueAndVerify(t *testing.T) {
	e := newEnv(t)
	alice := e.newUser("alice", true)
	alice.signUp()
	r := alice.call("POST", "/credentials/sd-jwt", map[string]any{})
	if r.status != 200 || r.str("format") != "dc+sd-jwt" {
		t.Fatalf("issue: %d %s", r.status, r.raw)
	}
	cred := r.str("credential")
	if !strings.HasSuffix(cred, "~") || strings.Count(cred, "~") != 6 {
		t.Fatalf("credential must carry 5 disclosures and end in ~: %s", cred)
	}
	jwt := strings.SplitN(cred, "~", 2)[0]
	h, p := jwtPart(t, jwt, 0), jwtPart(t, jwt, 1)
	if h["typ"] != "dc+sd-jwt" || h["kid"] == nil || p["_sd_alg"] != "sha-256" || p["vct"] != testIssuer+"/credentials/identity" {
		t.Fatalf("issuer JWT: %v %v", h, p)
	}
	if jwk := p["cnf"].(map[string]any)["jwk"].(map[string]any); jwk["x"] != alice.key.jwk()["x"] {
		t.Fatalf("cnf.jwk is not the DPoP key: %v", jwk)
	}
	if n := len(p["_sd"].([]any)); n <= 5 {
		t.Fatalf("_sd has %d digests; want 5 plus decoys", n)
	}
	for _, hidden := range []string{"username", "display_name", "sub"} {
		if _, ok := p[hidden]; ok {
			t.Fatalf("%s must be selectively disclosable, found in the clear", hidden)
		}
	}

	now := e.clock.Now()
	pres := present(t, alice.key, cred, []string{"username", "amr"}, "https://rp.example", "n-123", now)
	v := e.request("POST", "/credentials/verify", map[string]any{"presentation": pres, "aud": "https://rp.example", "nonce": "n-123"}, nil)
	if v.status != 200 || v.body["valid"] != true {
		t.Fatalf("verify: %d %s", v.status, v.raw)
	}
	claims := v.body["claims"].(map[string]any)
	if claims["username"] != "alice" || claims["amr"] == nil || claims["display_name"] != nil || claims["sub"] != nil {
		t.Fatalf("disclosed claims: %v", claims)
	}
	for _, always := range []string{"iss", "iat", "exp", "vct", "cnf"} {
		if claims[always] == nil {
			t.Fatalf("always-visible claim %s missing: %v", always, claims)
		}
	}

	failing := map[string]map[string]any{
		"wrong audience":   {"presentation": pres, "aud": "https://other.example", "nonce": "n-123"},
		"wrong nonce":      {"presentation": pres, "aud": "https://rp.example", "nonce": "n-999"},
		"no key binding":   {"presentation": strings.SplitN(cred, "~", 2)[0] + "~", "aud": "https://rp.example", "nonce": "n-123"},
		"stale kb-jwt":     {"presentation": present(t, alice.key, cred, nil, "https://rp.example", "n-123", now.Add(-time.Hour)), "aud": "https://rp.example", "nonce": "n-123"},
		"kb by other key":  {"presentation": present(t, newDPoPKey(t), cred, nil, "https://rp.example", "n-123", now), "aud": "https://rp.example", "nonce": "n-123"},
		"disclosure added": {"presentation": strings.Replace(pres, "~", "~"+strings.Split(cred, "~")[1]+"~", 1), "aud": "https://rp.example", "nonce": "n-123"},
		"garbage":          {"presentation": "~~~", "aud": "https://rp.example", "nonce": "n-123"},
	}
	for name, body := range failing {
		t.Run(name, func(t *testing.T) {
			r := e.request("POST", "/credentials/verify", body, nil)
			if r.status != 400 || r.body["valid"] != false || r.str("error") != "invalid_presentation" || r.str("error_description") == "" {
				t.Fatalf("%d %s", r.status, r.raw)
			}
		})
	}
	expectError(t, e.request("POST", "/credentials/verify", map[string]any{"presentation": pres}, nil), 400, "invalid_request")

	// The other valid form of the ECDSA signature (s -> n-s) names the same
	// credential: revocation must not be dodged by re-spelling it.
	dot := strings.LastIndexByte(jwt, '.')
	sig, _ := b64.DecodeString(jwt[dot+1:])
	sPrime := new(big.Int).Sub(elliptic.P256().Params().N, new(big.Int).SetBytes(sig[32:]))
	malleated := jwt[:dot+1] + b64.EncodeToString(append(sig[:32:32], sPrime.FillBytes(make([]byte, 32))...))
	malleatedCred := malleated + cred[len(jwt):]

	// Revocation by the issuer JWT alone; verification then fails, also after a restart.
	if r := e.request("POST", "/revoke", url.Values{"token": {jwt}}, alice.revokeProof()); r.status != 200 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	e.restart()
	pres = present(t, alice.key, cred, []string{"username"}, "https://rp.example", "n-124", e.clock.Now())
	r = e.request("POST", "/credentials/verify", map[string]any{"presentation": pres, "aud": "https://rp.example", "nonce": "n-124"}, nil)
	if r.status != 400 || r.body["valid"] != false {
		t.Fatalf("revoked credential verified: %s", r.raw)
	}
	pres = present(t, alice.key, malleatedCred, []string{"username"}, "https://rp.example", "n-125", e.clock.Now())
	r = e.request("POST", "/credentials/verify", map[string]any{"presentation": pres, "aud": "https://rp.example", "nonce": "n-125"}, nil)
	if r.status != 400 || r.body["valid"] != false {
		t.Fatalf("revoked credential verified under its other signature form: %s", r.raw)
	}
}

func TestSDJWTIssuanceRules(t *testing.T) {
	e := newEnv(t)
	bearer := e.newUser("bob", false)
	bearer.signUp()
	expectError(t, bearer.call("POST", "/credentials/sd-jwt", map[string]any{}), 401, "invalid_token")

	alice := e.newUser("alice", true)
	alice.signUp()
	r := alice.call("POST", "/credentials/sd-jwt", map[string]any{"claims": []string{"username"}})
	if r.status != 200 || strings.Count(r.str("credential"), "~") != 2 {
		t.Fatalf("narrowed issuance: %d %s", r.status, r.raw)
	}
	expectError(t, alice.call("POST", "/credentials/sd-jwt", map[string]any{"claims": []string{"iss"}}), 400, "invalid_request")
	expectError(t, alice.call("POST", "/credentials/sd-jwt", map[string]any{"claims": "username"}), 400, "invalid_request")
}
