package latchtest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latchid/latch/auth"
	"github.com/latchid/latch/auth/latchtest"
	"github.com/latchid/latch/webauthn/webauthntest"
)

const issuer = "http://localhost:8080"

// serve runs a real Latch server on a loopback port; the returned client
// reaches it under the issuer's name, as a test suite would through DNS.
func serve(t *testing.T, mods ...func(*auth.Config)) (*auth.Server, *http.Client) {
	t.Helper()
	cfg := auth.Config{DataDir: t.TempDir(), Addr: "127.0.0.1:0", Issuer: issuer, BeginRate: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, m := range mods {
		m(&cfg)
	}
	srv, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Addr())
	}
	return srv, &http.Client{Transport: &http.Transport{DialContext: dial}}
}

func userinfo(t *testing.T, s *latchtest.Session) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", issuer+"/userinfo", nil)
	res, err := s.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

func TestSignInWithAPasskeyFile(t *testing.T) {
	for _, nonces := range []bool{false, true} {
		name := "without DPoP nonces"
		if nonces {
			name = "with DPoP nonces"
		}
		t.Run(name, func(t *testing.T) {
			srv, hc := serve(t, func(c *auth.Config) { c.DPoPNonce = nonces })
			file, err := srv.AddUser(context.Background(), "Alice", "Alice A.")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "alice.passkey.json")
			if err := webauthntest.WritePasskeyFile(path, file); err != nil {
				t.Fatal(err)
			}
			// The same file signs in more than once (its counter stays 0).
			for i := range 2 {
				s, err := latchtest.SignIn(context.Background(), latchtest.Config{Issuer: issuer, PasskeyFile: path, HTTPClient: hc})
				if err != nil {
					t.Fatalf("sign-in %d: %v", i, err)
				}
				status, body := userinfo(t, s)
				if status != 200 || body["username"] != "alice" || body["display_name"] != "Alice A." {
					t.Fatalf("userinfo: %d %v", status, body)
				}
				payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(s.AccessToken(), ".")[1])
				var claims struct {
					Cnf struct {
						JKT string `json:"jkt"`
					} `json:"cnf"`
				}
				if err := json.Unmarshal(payload, &claims); err != nil || claims.Cnf.JKT != s.Thumbprint() {
					t.Fatalf("the token is not bound to the session key: %s vs %s", claims.Cnf.JKT, s.Thumbprint())
				}
				before := s.AccessToken()
				if err := s.Refresh(context.Background()); err != nil || s.AccessToken() == before {
					t.Fatalf("refresh: %v", err)
				}
				if err := s.SignOut(context.Background()); err != nil {
					t.Fatal(err)
				}
				if status, _ := userinfo(t, s); status != http.StatusUnauthorized {
					t.Fatalf("after sign-out: %d", status)
				}
			}
		})
	}
}

func TestSignInRefusals(t *testing.T) {
	srv, hc := serve(t)
	file, err := srv.AddUser(context.Background(), "bob", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("a file for another origin is refused by the service", func(t *testing.T) {
		other := *file
		other.Origin = "http://localhost:9999"
		_, err := latchtest.SignIn(context.Background(), latchtest.Config{Issuer: issuer, Passkey: &other, HTTPClient: hc})
		var e *latchtest.Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
			t.Fatalf("want a 400 from the service, got %v", err)
		}
	})
	t.Run("a file for another relying party is refused as a browser would", func(t *testing.T) {
		other := *file
		other.RPID = "evil.example"
		if _, err := latchtest.SignIn(context.Background(), latchtest.Config{Issuer: issuer, Passkey: &other, HTTPClient: hc}); err == nil ||
			!strings.Contains(err.Error(), "SecurityError") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a disabled account cannot sign in", func(t *testing.T) {
		if err := srv.SetDisabled(context.Background(), "bob", true); err != nil {
			t.Fatal(err)
		}
		defer srv.SetDisabled(context.Background(), "bob", false)
		_, err := latchtest.SignIn(context.Background(), latchtest.Config{Issuer: issuer, Passkey: file, HTTPClient: hc})
		var e *latchtest.Error
		if !errors.As(err, &e) || e.Code != "account_disabled" {
			t.Fatalf("want account_disabled, got %v", err)
		}
	})
	t.Run("a file whose two keys differ is refused before sending", func(t *testing.T) {
		other := *file
		other.PrivateKeyJWK = map[string]string{"kty": "EC", "crv": "P-256", "x": "", "y": "", "d": "AAAA"}
		if _, err := latchtest.SignIn(context.Background(), latchtest.Config{Issuer: issuer, Passkey: &other, HTTPClient: hc}); err == nil ||
			!strings.Contains(err.Error(), "differ") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("the username is taken", func(t *testing.T) {
		if _, err := srv.AddUser(context.Background(), "BOB", ""); err == nil || !strings.Contains(err.Error(), "taken") {
			t.Fatalf("got %v", err)
		}
	})
}
