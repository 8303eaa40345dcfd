package auth

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

const webApp = "http://localhost:3000"

func withWebOrigin(origins ...string) func(*Config) {
	return func(c *Config) { c.WebOrigins = origins }
}

func varies(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), name) {
				return true
			}
		}
	}
	return false
}

func TestCORSPreflight(t *testing.T) {
	e := newEnv(t, withWebOrigin(webApp))
	for _, path := range []string{"/token", "/revoke", "/userinfo", "/.well-known/jwks.json", "/.well-known/oauth-authorization-server",
		"/webauthn/login/begin", "/me/credentials/abc", "/totp/verify", "/logout", "/latch.js", "/latch-dpop.js"} {
		t.Run("preflight of "+path+" is answered", func(t *testing.T) {
			r := e.request("OPTIONS", path, nil, map[string]string{
				"Origin": webApp, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, dpop, content-type",
			})
			if r.status != http.StatusNoContent {
				t.Fatalf("status %d %s", r.status, r.raw)
			}
			h := r.header
			if got := h.Get("Access-Control-Allow-Origin"); got != webApp {
				t.Fatalf("Allow-Origin %q", got)
			}
			allowHeaders := strings.ToLower(h.Get("Access-Control-Allow-Headers"))
			for _, want := range []string{"authorization", "dpop", "content-type"} {
				if !strings.Contains(allowHeaders, want) {
					t.Fatalf("Allow-Headers %q lacks %s", allowHeaders, want)
				}
			}
			for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
				if !strings.Contains(h.Get("Access-Control-Allow-Methods"), m) {
					t.Fatalf("Allow-Methods %q lacks %s", h.Get("Access-Control-Allow-Methods"), m)
				}
			}
			if h.Get("Access-Control-Max-Age") == "" {
				t.Fatal("no Max-Age")
			}
			if h.Get("Access-Control-Allow-Credentials") != "" {
				t.Fatal("credentials mode must not be offered")
			}
			if !varies(h, "Origin") {
				t.Fatalf("Vary %q lacks Origin", h.Values("Vary"))
			}
		})
	}
}

func TestCORSActualRequests(t *testing.T) {
	e := newEnv(t, withWebOrigin(webApp, "https://app.example"))

	t.Run("a token error from an allowed origin is readable, with its challenge", func(t *testing.T) {
		r := e.request("GET", "/userinfo", nil, map[string]string{"Origin": webApp})
		expectError(t, r, http.StatusUnauthorized, CodeInvalidToken)
		if got := r.header.Get("Access-Control-Allow-Origin"); got != webApp {
			t.Fatalf("Allow-Origin %q", got)
		}
		expose := r.header.Get("Access-Control-Expose-Headers")
		if !strings.Contains(expose, "DPoP-Nonce") || !strings.Contains(expose, "WWW-Authenticate") {
			t.Fatalf("Expose-Headers %q", expose)
		}
		if !varies(r.header, "Origin") {
			t.Fatal("no Vary: Origin")
		}
	})

	t.Run("a signed-in call from an allowed origin carries the CORS headers", func(t *testing.T) {
		u := e.newUser("cors-user", true)
		if r := u.signUp(); r.status != 200 {
			t.Fatalf("sign-up: %d %s", r.status, r.raw)
		}
		h := map[string]string{"Origin": "https://app.example", "Authorization": "DPoP " + u.access,
			"DPoP": u.key.proof(t, e.clock.Now(), "GET", "/userinfo", u.access)}
		r := e.request("GET", "/userinfo", nil, h)
		if r.status != 200 || r.str("username") != "cors-user" {
			t.Fatalf("userinfo: %d %s", r.status, r.raw)
		}
		if got := r.header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
			t.Fatalf("Allow-Origin %q", got)
		}
	})

	for name, origin := range map[string]string{
		"an unregistered origin":       "http://localhost:4000",
		"a registered origin's prefix": "http://localhost:300",
		"the origin with a path":       webApp + "/",
		"the origin in another case":   "HTTP://LOCALHOST:3000",
		"the opaque null origin":       "null",
	} {
		t.Run(name+" gets no CORS headers", func(t *testing.T) {
			for _, method := range []string{"OPTIONS", "GET"} {
				r := e.request(method, "/.well-known/jwks.json", nil, map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET"})
				for k := range r.header {
					if strings.HasPrefix(strings.ToLower(k), "access-control-") {
						t.Fatalf("%s: %s: %q", method, k, r.header.Get(k))
					}
				}
				if method == "OPTIONS" && r.status == http.StatusNoContent {
					t.Fatal("preflight from an unregistered origin was answered")
				}
				if !varies(r.header, "Origin") {
					t.Fatal("no Vary: Origin: a cache could hand this answer to an allowed origin")
				}
			}
		})
	}

	t.Run("same-origin paths outside the API get nothing", func(t *testing.T) {
		for _, path := range []string{"/introspect", "/", "/account", "/metrics", "/healthz", "/app.js"} {
			r := e.request("OPTIONS", path, nil, map[string]string{"Origin": webApp, "Access-Control-Request-Method": "POST"})
			if r.header.Get("Access-Control-Allow-Origin") != "" || r.status == http.StatusNoContent {
				t.Fatalf("%s: %d, Allow-Origin %q", path, r.status, r.header.Get("Access-Control-Allow-Origin"))
			}
		}
	})
}

func TestCORSNoOriginsByDefault(t *testing.T) {
	e := newEnv(t)
	r := e.request("OPTIONS", "/token", nil, map[string]string{"Origin": testOrigin, "Access-Control-Request-Method": "POST"})
	if r.header.Get("Access-Control-Allow-Origin") != "" || r.status == http.StatusNoContent {
		t.Fatalf("%d, Allow-Origin %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}
}

func TestWebOriginValidation(t *testing.T) {
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://app.example", true},
		{"https://app.example:8443", true},
		{"http://localhost:3000", true},
		{"http://127.0.0.1:3000", true},
		{"http://app.example", false},
		{"https://app.example/", false},
		{"https://app.example/path", false},
		{"https://App.example", false},
		{"https://app.example:443", false},
		{"*", false},
		{"null", false},
		{"app.example", false},
		{"https://user@app.example", false},
		{"https://app.example?x=1", false},
	} {
		cfg := Config{WebOrigins: []string{tc.origin}}.Defaults()
		err := cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%q: ok=%v, err=%v", tc.origin, tc.ok, err)
		}
		if err != nil && !strings.Contains(err.Error(), "--web-origin") {
			t.Errorf("%q: error does not name the flag: %v", tc.origin, err)
		}
	}
}

// TestCORSForClientOrigins: an OpenID Connect client's origins (its
// --web-origin and those of its redirect URIs) may call the token,
// revocation and UserInfo endpoints and read discovery and keys, and
// nothing else; removing the client through the running server withdraws
// them at once.
func TestCORSForClientOrigins(t *testing.T) {
	e := newEnv(t, socketTest(t))
	admin := e.serving()
	ctx := context.Background()
	if _, err := admin.RegisterClient(ctx, ClientOptions{ID: "spa", Public: true,
		RedirectURIs: []string{"https://spa.example/cb", "com.example.app:/cb"}, WebOrigins: []string{"https://www.spa.example"}}); err != nil {
		t.Fatal(err)
	}
	preflight := func(origin, path string) *response {
		return e.request("OPTIONS", path, nil, map[string]string{"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "dpop"})
	}
	for _, origin := range []string{"https://spa.example", "https://www.spa.example"} {
		for _, path := range []string{"/token", "/revoke", "/userinfo", "/.well-known/jwks.json", "/.well-known/openid-configuration"} {
			r := preflight(origin, path)
			if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != origin {
				t.Errorf("%s %s: %d %q", origin, path, r.status, r.header.Get("Access-Control-Allow-Origin"))
			}
		}
		for _, path := range []string{"/me", "/me/credentials", "/webauthn/login/begin", "/credentials/sd-jwt", "/latch.js"} {
			if r := preflight(origin, path); r.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s may call %s", origin, path)
			}
		}
	}
	if r := preflight("https://other.example", "/token"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("an unregistered origin got CORS")
	}
	if err := admin.DeleteClient(ctx, "spa"); err != nil {
		t.Fatal(err)
	}
	if r := preflight("https://spa.example", "/token"); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("a removed client's origin still gets CORS")
	}
}
