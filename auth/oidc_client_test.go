package auth

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// inProcess sends an HTTP client's requests to the server in-process.
type inProcess struct{ s *Server }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) { return t.s.Test(req) }

// Real relying-party libraries, not only our own code: go-oidc drives
// discovery and verifies the ID tokens (signature from the JWKS, iss, aud,
// exp, nonce, at_hash), x/oauth2 builds the authorization request with
// PKCE and exchanges the code, for an ES256 and an RS256 client.
func TestOIDCWithGoOIDCAndOAuth2(t *testing.T) {
	for _, alg := range []string{"", "RS256"} {
		t.Run("alg="+alg, func(t *testing.T) {
			e := newEnv(t)
			app := e.newRP(ClientOptions{ID: "grafana", RedirectURIs: []string{"https://grafana.example/login/generic_oauth"}, FirstParty: true, IDTokenAlg: alg})
			ctx := oidc.ClientContext(context.Background(), &http.Client{Transport: inProcess{e.srv}})
			provider, err := oidc.NewProvider(ctx, testIssuer)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			conf := oauth2.Config{
				ClientID: app.id, ClientSecret: app.secret, Endpoint: provider.Endpoint(), RedirectURL: app.redirect,
				Scopes: []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess},
			}
			verifier, state, nonce := oauth2.GenerateVerifier(), randomID(8), randomID(8)
			authURL, err := url.Parse(conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)))
			if err != nil {
				t.Fatal(err)
			}
			alice := e.newUser("alice", true)
			b := &browser{}
			page := e.request("GET", authURL.RequestURI(), nil, nil)
			q := redirected(t, e.signInThere(alice, b, requestID(t, page)), app.redirect)
			if q.Get("state") != state {
				t.Fatalf("state: %v", q)
			}
			tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			cfg := &oidc.Config{ClientID: app.id}
			if alg != "" {
				cfg.SupportedSigningAlgs = []string{alg}
			}
			idt, err := provider.Verifier(cfg).Verify(ctx, raw)
			if err != nil {
				t.Fatalf("go-oidc refuses the ID token: %v", err)
			}
			if idt.Nonce != nonce || idt.Subject != jwtPart(t, alice.access, 1)["sub"] {
				t.Fatalf("ID token nonce %q sub %q", idt.Nonce, idt.Subject)
			}
			if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			// A token for another audience is refused by the library too.
			if _, err := provider.Verifier(&oidc.Config{ClientID: "someone-else"}).Verify(ctx, raw); err == nil {
				t.Fatal("the ID token verified for another client")
			}
			info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil || info.Subject != idt.Subject {
				t.Fatalf("userinfo: %+v %v", info, err)
			}
			var claims struct {
				PreferredUsername string `json:"preferred_username"`
			}
			if err := info.Claims(&claims); err != nil || claims.PreferredUsername != "alice" {
				t.Fatalf("userinfo claims: %+v %v", claims, err)
			}
			// The refresh token works through the library.
			tok.Expiry = tok.Expiry.Add(-24 * 60 * 60 * 1e9)
			next, err := conf.TokenSource(ctx, tok).Token()
			if err != nil || next.AccessToken == tok.AccessToken {
				t.Fatalf("refresh: %v", err)
			}
		})
	}
}
