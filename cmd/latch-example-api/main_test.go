package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchid/latch/auth/resource"
)

func TestCORSAndRoutes(t *testing.T) {
	g, err := resource.New(resource.Config{Issuer: "http://127.0.0.1:1", PublicURL: "http://localhost:4000"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(g, "http://localhost:3000", "http://localhost:4000")

	pre := httptest.NewRequest("OPTIONS", "/api/hello", nil)
	pre.Header.Set("Origin", "http://localhost:3000")
	pre.Header.Set("Access-Control-Request-Method", "GET")
	pre.Header.Set("Access-Control-Request-Headers", "authorization, dpop")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, pre)
	if rec.Code != 204 || rec.Header().Get("Access-Control-Allow-Origin") != "http://localhost:3000" ||
		rec.Header().Get("Access-Control-Allow-Headers") != "Authorization, DPoP, Content-Type" {
		t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
	}

	other := httptest.NewRequest("OPTIONS", "/api/hello", nil)
	other.Header.Set("Origin", "http://evil.example")
	other.Header.Set("Access-Control-Request-Method", "GET")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, other)
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("another origin allowed: %v", rec.Header())
	}

	get := httptest.NewRequest("GET", "/api/hello", nil)
	get.Header.Set("Origin", "http://localhost:3000")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, get)
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("Access-Control-Expose-Headers") != "DPoP-Nonce, WWW-Authenticate" || rec.Header().Get("WWW-Authenticate") == "" {
		t.Fatalf("unauthenticated GET: %d %v", rec.Code, rec.Header())
	}

	md := httptest.NewRequest("GET", "/.well-known/oauth-protected-resource", nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, md)
	if rec.Code != 200 {
		t.Fatalf("metadata: %d", rec.Code)
	}
}
