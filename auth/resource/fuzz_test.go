package resource_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchid/latch/auth/resource"
	"github.com/latchid/latch/tokens"

	"github.com/latchid/latch/tokens/jose"
)

// FuzzAuthenticateHeaders feeds arbitrary Authorization and DPoP values
// through the middleware of a guard whose issuer is a local stand-in:
// nothing may panic, and every answer is a refusal with the contract's
// JSON body (no fuzzed input carries a valid signature).
func FuzzAuthenticateHeaders(f *testing.F) {
	key, _ := jose.GenerateSigningKey("", time.Now())
	ring := jose.NewKeyring(key)
	var ts *httptest.Server
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/jwks" {
			_, _ = w.Write(ring.JWKS(time.Now()))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": ts.URL, "jwks_uri": ts.URL + "/jwks"})
	}))
	defer ts.Close()
	access := tokens.NewAccessTokens(tokens.AccessConfig{Issuer: ts.URL, Keys: ring})
	tok, _, _ := access.Issue(tokens.AccessClaims{Subject: "s", ClientID: "c", JKT: "AAAA"})
	g, err := resource.New(resource.Config{Issuer: ts.URL, PublicURL: apiURL, AllowBearer: true, JWKSMinInterval: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	h := g.Middleware(hello)
	f.Add("DPoP "+tok, "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AA", "GET")
	f.Add("Bearer "+tok, "", "POST")
	f.Add("dpop  a.b.c==", "a,b", "GET")
	f.Add("Basic x", "...", "")
	f.Fuzz(func(t *testing.T, authz, dpop, method string) {
		if !httpToken(method) {
			method = "GET"
		}
		req := httptest.NewRequest("GET", "/api", nil)
		req.Method = method
		req.Header["Authorization"] = []string{authz}
		req.Header["Dpop"] = []string{dpop}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]string
		if rec.Code == 200 || json.Unmarshal(rec.Body.Bytes(), &body) != nil || body["error"] == "" || body["error_description"] == "" {
			t.Fatalf("%d %q for %q %q", rec.Code, rec.Body, authz, dpop)
		}
	})
}

func httpToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '(' || c == ')' || c == ',' || c == '/' || c == ':' || c == '"' {
			return false
		}
	}
	return true
}

// FuzzParsePublicJWKS checks that any JWK Set either parses into keys that
// are public only or is refused, without panicking.
func FuzzParsePublicJWKS(f *testing.F) {
	key, _ := jose.GenerateSigningKey("", time.Now())
	f.Add(jose.NewKeyring(key).JWKS(time.Now()))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"a","alg":"EdDSA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":"","d":"x","kid":"a","alg":"ES256"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := jose.ParsePublicJWKS(data)
		if err != nil {
			return
		}
		for _, e := range entries {
			if e.Key.Signer() != nil || e.Key.ID == "" {
				t.Fatalf("a parsed key can sign or has no kid: %+v", e)
			}
		}
	})
}
