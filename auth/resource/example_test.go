package resource_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/latchid/latch/auth/resource"

	"github.com/latchid/latch/tokens/jose"
)

// Protecting a net/http API with one Guard. A stand-in issuer plays Latch
// here (its metadata and JWK Set); in a real deployment Issuer is Latch's
// URL and the client is latch.js or any DPoP client.
func Example() {
	latch := exampleIssuer()
	defer latch.Close()

	guard, err := resource.New(resource.Config{
		Issuer:    latch.URL,             // Latch's --issuer
		PublicURL: "https://api.example", // where clients call this API
	})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /api/hello", guard.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := resource.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "hello %s", p.Subject)
	})))
	mux.Handle(resource.MetadataPath, guard.MetadataHandler())

	// A request without a token is refused with Latch's challenge.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/hello", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	fmt.Println(rec.Body.String())
	// Output:
	// 401 DPoP algs="ES256 EdDSA", resource_metadata="https://api.example/.well-known/oauth-protected-resource"
	// {"error":"invalid_token","error_description":"an access token is required"}
}

func exampleIssuer() *httptest.Server {
	key, _ := jose.GenerateSigningKey("", time.Now())
	ring := jose.NewKeyring(key)
	var ts *httptest.Server
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/jwks.json" {
			_, _ = w.Write(ring.JWKS(time.Now()))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": ts.URL, "jwks_uri": ts.URL + "/.well-known/jwks.json"})
	}))
	return ts
}
