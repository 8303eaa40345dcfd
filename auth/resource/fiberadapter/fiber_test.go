package fiberadapter_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/latchid/latch/auth/resource"
	"github.com/latchid/latch/auth/resource/fiberadapter"
	"github.com/latchid/latch/tokens"

	"github.com/latchid/latch/tokens/jose"
)

var b64 = base64.RawURLEncoding

// issuer is a minimal stand-in for Latch's metadata and JWK Set, signing
// tokens with the tokens package as Latch does; the real server is
// exercised by the resource package's own tests.
func issuer(t *testing.T) (*httptest.Server, *tokens.AccessTokens) {
	key, err := jose.GenerateSigningKey("", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ring := jose.NewKeyring(key)
	var ts *httptest.Server
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/oauth-authorization-server":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": ts.URL, "jwks_uri": ts.URL + "/jwks"})
		case "/jwks":
			_, _ = w.Write(ring.JWKS(time.Now()))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts, tokens.NewAccessTokens(tokens.AccessConfig{Issuer: ts.URL, Keys: ring})
}

func proof(t *testing.T, k *ecdsa.PrivateKey, method, url, token string) string {
	pub, _ := k.PublicKey.Bytes()
	h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": map[string]string{
		"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(pub[1:33]), "y": b64.EncodeToString(pub[33:])}})
	ath := sha256.Sum256([]byte(token))
	c, _ := json.Marshal(map[string]any{"jti": time.Now().String(), "htm": method, "htu": url, "iat": time.Now().Unix(), "ath": b64.EncodeToString(ath[:])})
	in := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64.EncodeToString(sig)
}

func TestFiberHandler(t *testing.T) {
	ts, access := issuer(t)
	g, err := resource.New(resource.Config{Issuer: ts.URL, PublicURL: "https://api.example", DPoPNonce: false})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Get("/api/hello", fiberadapter.Handler(g), func(c *fiber.Ctx) error {
		p := fiberadapter.Principal(c)
		if p == nil || resource.PrincipalFrom(c.UserContext()) != p {
			return c.SendStatus(500)
		}
		return c.JSON(p)
	})
	app.Get(resource.MetadataPath, fiberadapter.MetadataHandler(g))

	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := k.PublicKey.Bytes()
	jkt := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + b64.EncodeToString(pub[1:33]) + `","y":"` + b64.EncodeToString(pub[33:]) + `"}`))
	tok, _, err := access.Issue(tokens.AccessClaims{Subject: "u1", ClientID: "app", Scope: "openid", Groups: []string{"staff"}, JKT: b64.EncodeToString(jkt[:])})
	if err != nil {
		t.Fatal(err)
	}
	send := func(dpop string, query string) (*http.Response, map[string]any) {
		req := httptest.NewRequest("GET", "http://whatever.host/api/hello"+query, nil)
		req.Header.Set("Authorization", "DPoP "+tok)
		if dpop != "" {
			req.Header.Set("DPoP", dpop)
		}
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		return res, body
	}
	res, body := send(proof(t, k, "GET", "https://api.example/api/hello", tok), "?q=1")
	if res.StatusCode != 200 || body["sub"] != "u1" || body["jkt"] != b64.EncodeToString(jkt[:]) {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	if gr, _ := body["groups"].([]any); len(gr) != 1 || gr[0] != "staff" {
		t.Fatalf("groups %v", body["groups"])
	}
	res, body = send("", "")
	if res.StatusCode != 401 || body["error"] != "invalid_dpop_proof" || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), `DPoP error="invalid_dpop_proof"`) {
		t.Fatalf("%d %v %q", res.StatusCode, body, res.Header.Values("WWW-Authenticate"))
	}
	req := httptest.NewRequest("GET", resource.MetadataPath, nil)
	res, err = app.Test(req, -1)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("metadata: %v %v", res, err)
	}
}
